"""``lmrl compare``: rerun the paper's comparison on one task, methods × fixed seeds, same budget each.

For every seed and method (:mod:`~lm_reward_learning.evaluation.compare_config`), a *cell* runs the
method to a policy and scores that policy against the reference gait:

* ``ours``, ``eureka``, ``human``: :func:`lm_reward_learning.bilevel.loop.learn` in a
  :class:`~lm_reward_learning.bilevel.store.LearnStore` at ``<out>/<method>/seed_<s>/`` with the
  backends the cell's LearnConfig names; the best candidate over all iterations is evaluated.
* ``initial``: the robot's bundled reward trained once (the loop's iteration 0 with the whole chain's
  PPO budget), in the same store layout.

Then :func:`~lm_reward_learning.evaluation.evaluate.evaluate` writes ``<cell>/evaluation/`` and the cell
writes ``<cell>/cell.json`` last. Outputs in ``<out>``: ``compare.yaml`` (the configuration used),
``compare.json`` (every cell and per-method statistics), ``compare.md`` (Markdown table: mean ± std over
seeds of the score and key features per method, and per-feature similarities) and ``compare.png``
(bar chart).

Resume: a cell with ``cell.json`` is skipped; an interrupted cell continues its learn run (every
completed loop step is kept, :mod:`lm_reward_learning.bilevel.steps`). A cell directory made with a
different LearnConfig is an error, never silently reused.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lm_reward_learning import __version__
from lm_reward_learning.config import to_dict
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.evaluation.compare_config import CompareConfig, cell_learn_config
from lm_reward_learning.evaluation.evaluate import evaluate
from lm_reward_learning.evaluation.plots import plot_comparison
from lm_reward_learning.evaluation.summary import markdown_table, summarise
from lm_reward_learning.io import atomic_write_json, atomic_write_text, atomic_write_yaml

log = logging.getLogger(__name__)

CELL_FILE = "cell.json"


class CompareError(LmrlError):
    """A comparison cannot go on (a cell directory made with another configuration)."""


@dataclass(frozen=True)
class CompareResult:
    """What :func:`run_compare` wrote.

    Attributes:
        out_dir: The comparison folder.
        cells: Cell records (``method``, ``seed``, ``path``, ``wall_s``, ``resumed``, ``evaluation``).
        summary: Per-method statistics (:func:`lm_reward_learning.evaluation.summary.summarise`).
        json_path: ``compare.json``.
        table_path: ``compare.md``.
        chart_path: ``compare.png``.
    """

    out_dir: Path
    cells: list[dict[str, Any]]
    summary: dict[str, dict[str, Any]]
    json_path: Path
    table_path: Path
    chart_path: Path


def run_compare(cfg: CompareConfig, out_dir: Path, *, progress: bool = False) -> CompareResult:
    """Run (or resume) every cell of ``cfg`` in ``out_dir`` and write the table and chart.

    Cells run seed by seed (all methods of the first seed first), so a partial run already compares.

    Raises:
        CompareError: a cell directory holds a learn run with another configuration.
        lm_reward_learning.errors.LmrlError: a cell cannot go on (endpoint down, unreadable video,
            missing human feedback file, ...); finished cells stay and are skipped on the next run.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_yaml(out / "compare.yaml", to_dict(cfg))
    t0 = time.perf_counter()
    cells = []
    for seed in cfg.seeds:
        for method in cfg.methods:
            cells.append(run_cell(cfg, method, seed, out / method / f"seed_{seed}", progress=progress))
    return write_outputs(cfg, out, cells, time.perf_counter() - t0)


def run_cell(cfg: CompareConfig, method: str, seed: int, cell: Path, *, progress: bool = False) -> dict[str, Any]:
    """Run one cell (module docstring), or return its record when ``cell.json`` exists.

    Raises:
        CompareError: ``cell`` holds a learn run with another configuration.
        lm_reward_learning.errors.LmrlError: the method cannot go on; its learn run is marked failed.
    """
    from lm_reward_learning.bilevel.backends import make_feedback, make_synthesis
    from lm_reward_learning.bilevel.loop import learn
    from lm_reward_learning.bilevel.store import LearnStore, read_json

    done = read_json(cell / CELL_FILE)
    if done is not None:
        log.info("compare: %s seed %d done before (score %.3f); skipped", method, seed, done["evaluation"]["score"])
        return {**done, "resumed": True}
    learn_cfg = cell_learn_config(cfg, method, seed)
    t0 = time.perf_counter()
    if (cell / "learn.yaml").is_file():
        check_same_learn_config(cell, learn_cfg)
        store = LearnStore.open(cell)
    else:
        store = LearnStore.create(cell, learn_cfg)
    log.info("compare: running %s seed %d in %s", method, seed, cell)
    if store.status().get("status") != "done":
        store.update_status(status="running")
        try:
            if method == "initial":
                _train_initial(learn_cfg, store, progress=progress)
            else:
                feedback, synthesis = make_feedback(learn_cfg), make_synthesis(learn_cfg)
                learn(learn_cfg, store, feedback, synthesis, policies_root=cell / "policies", progress=progress)
        except (LmrlError, KeyboardInterrupt) as exc:
            store.update_status(status="failed", error=str(exc) or type(exc).__name__)
            raise
    ev = evaluate(
        cell, cfg.reference, duration_s=cfg.eval_duration_s, command=cfg.eval_command, out_dir=cell / "evaluation"
    )
    record = {
        "method": method,
        "seed": seed,
        "path": str(cell),
        "wall_s": round(time.perf_counter() - t0, 1),
        "learn_status": store.status(),
        "evaluation": _read_evaluation(ev.json_path),
    }
    atomic_write_json(cell / CELL_FILE, record)
    log.info("compare: %s seed %d scores %.3f (%.0f s)", method, seed, ev.score, record["wall_s"])
    return {**record, "resumed": False}


def check_same_learn_config(cell: Path, learn_cfg) -> None:
    """Check that ``cell/learn.yaml`` holds ``learn_cfg``; a key it lacks counts as None (a key added to
    LearnConfig since, with a None default, does not make an old cell different).

    Raises:
        CompareError: naming the keys that differ.
    """
    stored = yaml.safe_load((cell / "learn.yaml").read_text()) or {}
    wanted = to_dict(learn_cfg)
    changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
    if changed:
        raise CompareError(
            f"{cell} holds a learn run made with another configuration (differs in {changed}); pass another "
            f"--out, or delete {cell} to rerun that cell."
        )


def _train_initial(learn_cfg, store, *, progress: bool) -> None:
    """The ``initial`` method: iteration 0 of the loop only (bundled reward), marked as the best."""
    from lm_reward_learning.bilevel import steps

    source = steps.initial_program(learn_cfg).source
    cand = steps.train_candidate(learn_cfg, store, 0, 0, source, None, None, progress=progress)
    store.update_status(status="done", iterations_done=0, best=[0, 0], best_score=cand.score)


def _read_evaluation(path: Path) -> dict[str, Any]:
    import json

    return json.loads(Path(path).read_text())


def write_outputs(cfg: CompareConfig, out: Path, cells: list[dict[str, Any]], wall_s: float) -> CompareResult:
    """Write ``compare.json``, ``compare.md`` and ``compare.png`` for ``cells``."""
    from lm_reward_learning.gait import reference_features, reference_label

    summary = summarise(cells, cfg.methods)
    ref = reference_features(cfg.reference).to_dict()
    budget = {m: to_dict(cell_learn_config(cfg, m, cfg.seeds[0])) for m in cfg.methods}
    header = (
        f"# Comparison on `{reference_label(cfg.reference)}` ({cfg.robot}), seeds {list(cfg.seeds)}\n\n"
        f"Score: gait similarity in [0, 1] of each method's best policy to `{reference_label(cfg.reference)}` "
        "(0 if it fell), "
        f"{cfg.eval_duration_s:g} s rollout; mean ± std (sample, ddof 1) over seeds. Budget per cell: "
        f"{_budget_text(budget)}. Wall time of this invocation: {wall_s / 60:.1f} min.\n\n"
    )
    table = header + _honest_labels(budget) + markdown_table(summary, reference_label(cfg.reference), ref)
    table_path = out / "compare.md"
    atomic_write_text(table_path, table)
    chart = plot_comparison(
        out / "compare.png",
        {m: [c["evaluation"]["score"] for c in cells if c["method"] == m] for m in cfg.methods},
        {m: {f: s["mean"] for f, s in summary[m]["similarity"].items() if s["mean"] is not None} for m in cfg.methods},
        title=f"{cfg.robot} vs {reference_label(cfg.reference)}, seeds {list(cfg.seeds)}",
    )
    json_path = out / "compare.json"
    atomic_write_json(
        json_path,
        {
            "config": to_dict(cfg),
            "reference": cfg.reference,
            "reference_features": ref,
            "learn_configs": budget,
            "cells": cells,
            "summary": summary,
            "wall_s": round(wall_s, 1),
            "files": {"table": table_path.name, "chart": chart.name},
            "lmrl_version": __version__,
        },
    )
    return CompareResult(out, cells, summary, json_path, table_path, chart)


#: A cell with fewer PPO iterations than this is a plumbing check, not a comparison (compare.md says so).
MIN_MEANINGFUL_ITERATIONS = 100
#: What the offline backends are, for the table's readers (none is a VLM, an LLM or a person).
BACKEND_LABELS = {
    "motion": "the heuristic motion analyser (not a VLM)",
    "human": "scripted Human-as-VLM feedback (a file a person wrote; no person at run time)",
    "rules": "the deterministic rules editor (not an LLM)",
    "reflection": "the Eureka-style reflection tuner (not an LLM)",
    "openai": "an OpenAI-compatible endpoint (the model named in compare.json)",
}


def _honest_labels(budget: dict[str, dict[str, Any]]) -> str:
    """Lines saying what wrote each method's feedback and rewards, and whether the budget means anything."""
    lines = []
    for method, c in budget.items():
        if method == "initial":
            lines.append(f"- `{method}`: the bundled reward, no loop.")
            continue
        upper = f"feedback by {BACKEND_LABELS.get(c['feedback'], c['feedback'])}, " if c["mode"] == "bilevel" else ""
        lines.append(f"- `{method}`: {upper}rewards by {BACKEND_LABELS.get(c['synthesis'], c['synthesis'])}.")
    text = "Methods:\n\n" + "\n".join(lines) + "\n\n"
    iterations = [c["initial_train_iterations"] + c["iterations"] * c["train_iterations"] for c in budget.values()]
    if min(iterations) < MIN_MEANINGFUL_ITERATIONS:
        text += (
            f"**Plumbing check only**: {min(iterations)} PPO iterations per cell teach the policies almost nothing "
            f"(fewer than {MIN_MEANINGFUL_ITERATIONS}); these numbers show that every method runs end to end, not "
            "which method is better.\n\n"
        )
    return text


def _budget_text(budget: dict[str, dict[str, Any]]) -> str:
    parts = []
    for method, c in budget.items():
        if method == "initial":
            parts.append(f"initial {c['initial_train_iterations']} PPO iterations")
        else:
            chain = f"{c['initial_train_iterations']} + {c['iterations']} × {c['candidates']} × {c['train_iterations']}"
            levels = f"{c['feedback']}/{c['synthesis']}" if c["mode"] == "bilevel" else c["synthesis"]
            parts.append(f"{method} {chain} PPO iterations ({c['mode']}: {levels})")
    envs = {c["num_envs"] for c in budget.values()}
    return "; ".join(parts) + f"; {', '.join(map(str, sorted(envs)))} envs"
