"""What is published with a policy exported by ``lmrl learn``: models, prompts, programs, seeds.

Beside ``policy.onnx`` and ``deploy.yaml`` (:func:`lm_reward_learning.export.export_run`)::

    provenance.yaml         learn run, seed, robot, task; each level's backend, model and endpoint;
                            prompt version and the SHA-256 of each template; every reward program of
                            the loop (iteration, candidate, kept or not, SHA-256, score); spending
    programs/iter_KK_cand_M.py        those programs
    prompts/<template>.txt            the prompt templates the loop's language models were sent
    exchanges/log.jsonl, <sha256>.json  every language-model exchange (request with media digests, answer)

so a reader can see what the models were given and answered, and ``lmrl learn --replay`` the run.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from lm_reward_learning.bilevel.exchanges import digest, read_log, usage_summary
from lm_reward_learning.bilevel.store import LearnStore, read_json
from lm_reward_learning.io import atomic_write_text


def _level(cfg, level: str) -> dict[str, Any]:
    backend = getattr(cfg, level)
    out: dict[str, Any] = {"backend": backend}
    if backend in ("openai", "gemini"):
        from lm_reward_learning.bilevel.config import level_endpoint

        endpoint = level_endpoint(cfg, level)
        out.update(model=endpoint.model, base_url=endpoint.base_url, temperature=endpoint.temperature)
    return out


def _programs(store: LearnStore) -> list[dict[str, Any]]:
    out = []
    for program in sorted(store.path.glob("iter_*/cand_*/program.py")):
        cand = program.parent
        k, m = int(cand.parent.name.split("_")[1]), int(cand.name.split("_")[1])
        synthesis = read_json(cand / "synthesis.json") or {}
        score = read_json(cand / "score.json") or {}
        out.append(
            {
                "iteration": k,
                "candidate": m,
                "file": f"programs/iter_{k:02d}_cand_{m}.py",
                "sha256": digest(program.read_bytes()),
                "written_by": synthesis.get("label", "initial program" if k == 0 else None),
                "kept": synthesis.get("kept"),
                "score": score.get("score"),
                "failed_in_training": (cand / "failed.json").is_file(),
            }
        )
    return out


def _templates(store: LearnStore) -> dict[str, str]:
    """Template id -> text of every template named in the run's stored prompts."""
    from lm_reward_learning.prompts import load_template

    ids: set[str] = set()
    files = [*store.path.glob("iter_*/feedback_exchange.json"), *store.path.glob("iter_*/cand_*/attempt_*/prompt.json")]
    for f in files:
        data = read_json(f) or {}
        messages = data.get("messages", []) if isinstance(data, dict) else data
        ids |= {m["template"] for m in messages if isinstance(m, dict) and m.get("template")}
        if isinstance(data, dict):
            ids |= set(data.get("templates", []))
    out = {}
    for tid in sorted(ids):
        name, _, version = tid.rpartition("_")
        out[tid] = load_template(name, version)
    return out


def publish(store: LearnStore, best_iteration: int, best_index: int, out_dir: Path) -> dict[str, Any]:
    """Write the files of the module docstring into ``out_dir``; return the ``provenance.yaml`` entries
    (:func:`~lm_reward_learning.export.export_run` writes that file)."""
    from lm_reward_learning.prompts import PROMPT_VERSION

    cfg = store.config()
    programs = _programs(store)
    for p in programs:
        src = store.path / f"iter_{p['iteration']:02d}" / f"cand_{p['candidate']}" / "program.py"
        (out_dir / "programs").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out_dir / p["file"])
    templates = _templates(store)
    for tid, text in templates.items():
        atomic_write_text(out_dir / "prompts" / f"{tid}.txt", text)
    lines = read_log(store.path)
    if lines:
        (out_dir / "exchanges").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store.path / "exchanges" / "log.jsonl", out_dir / "exchanges" / "log.jsonl")
        for address in {x["exchange"] for x in lines}:
            shutil.copyfile(store.path / "exchanges" / f"{address}.json", out_dir / "exchanges" / f"{address}.json")
    status = store.status()
    return {
        "learn": {
            "run": store.path.name,
            "robot": cfg.robot,
            "mode": cfg.mode,
            "task": cfg.task,
            "seed": cfg.seed,
            "iterations": cfg.iterations,
            "candidates": cfg.candidates,
            "replay_of": status.get("replay_of"),
        },
        "upper_level": _level(cfg, "feedback"),
        "lower_level": _level(cfg, "synthesis"),
        "prompts": {"version": PROMPT_VERSION, "templates": {t: digest(x.encode()) for t, x in templates.items()}},
        "best": {"iteration": best_iteration, "candidate": best_index},
        "programs": programs,
        "language_models": usage_summary(store.path)["run"],
    }


def usage_html(store: LearnStore) -> str:
    """The report's "Language models" section: calls, tokens and dollars per iteration and for the run,
    the budget, and why the run stopped if the budget stopped it ("" when no call was made)."""
    import html

    from lm_reward_learning.bilevel.budget import Budget

    summary = usage_summary(store.path)
    if not summary["run"]["calls"]:
        return ""
    cfg = store.config()
    head = ("iteration", "calls (paid)", "prompt tokens", "completion tokens", "tokens", "USD")
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for label, t in [*summary["iterations"].items(), ("run", summary["run"])]:
        rows.append(
            f"<tr><td>{label}</td><td>{t['calls']} ({t['endpoint_calls']})</td><td>{t['prompt_tokens']:,}</td>"
            f"<td>{t['completion_tokens']:,}</td><td>{t['tokens']:,}</td><td>{t['cost_usd']:.4f}</td></tr>"
        )
    budget = Budget(cfg.max_cost_usd, cfg.max_total_tokens).describe()
    stop = store.status().get("stop_reason")
    return (
        "<h2>Language models</h2><table>" + "".join(rows) + "</table>"
        f"<p>Budget: {html.escape(budget)}. Calls answered from: {html.escape(json_text(summary['sources']))}.</p>"
        + (f"<p><b>Stopped:</b> {html.escape(stop)}</p>" if stop else "")
    )


def json_text(obj: Any) -> str:
    """Compact JSON text."""
    import json

    return json.dumps(obj, sort_keys=True)
