"""``lmrl report RUN``: one self-contained HTML page for a learn run.

A gait section (each iteration's measured gait class, timing and footfall pattern, the gait
similarity to the run's reference when it has one, and footfall diagrams of the best policy). Per
iteration: the side-by-side video (expert | robot), the feedback in its four parts (with the
backend's honest label), the reward program's diff, the training curves (matplotlib, per-term means
and episode return) and the robot's gait features against the expert's; then the robustness battery
of ``<run>/robustness/`` when it was run (``lmrl robustness``). Videos and plots are embedded as
base64 data, so the page can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from lm_reward_learning.bilevel.provenance import usage_html
from lm_reward_learning.bilevel.store import LearnStore, read_json

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}
.add{color:#116329}.del{color:#82071e}.hunk{color:#6639ba}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
.label{background:#fff3cd;padding:.2em .5em;border-radius:.3em}
"""


def _video_tag(path: Path, width: int = 640) -> str:
    if not path.is_file():
        return "<p><i>(no video)</i></p>"
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<video controls loop muted width="{width}" src="data:video/mp4;base64,{data}"></video>'


def _diff_html(diff: str) -> str:
    out = []
    for line in diff.splitlines():
        cls = (
            "add"
            if line.startswith("+")
            else "del"
            if line.startswith("-")
            else "hunk"
            if line.startswith("@@")
            else ""
        )
        out.append(f'<span class="{cls}">{html.escape(line)}</span>' if cls else html.escape(line))
    return "<pre>" + "\n".join(out) + "</pre>" if out else "<p><i>(no change)</i></p>"


def _curves_png(stats_file: Path) -> str:
    """Training curves of one run as an embedded PNG (empty string without statistics)."""
    records = read_json(stats_file)
    if not records:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    its = [r["iteration"] for r in records]
    ret = [r.get("mean_episode_return") for r in records]
    ax1.plot([i for i, v in zip(its, ret, strict=False) if v is not None], [v for v in ret if v is not None])
    ax1.set_xlabel("PPO iteration")
    ax1.set_ylabel("mean episode return")
    for name in records[-1]["terms"]:
        ax2.plot(its, [r["terms"].get(name, {}).get("mean", float("nan")) for r in records], label=name)
    ax2.set_xlabel("PPO iteration")
    ax2.set_ylabel("per-step term mean")
    ax2.legend(fontsize=6, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _feedback_html(fb: dict[str, Any]) -> str:
    def items(xs: list) -> str:
        if not xs:
            return "<i>none</i>"
        rows = []
        for x in xs:
            if isinstance(x, dict):
                params = f" <code>{html.escape(json.dumps(x.get('params', {})))}</code>" if x.get("params") else ""
                name = f"<b>{html.escape(x['name'])}</b>: " if x.get("name") else ""  # "": a free-text item
                rows.append(f"<li>{name}{html.escape(x.get('instruction', ''))}{params}</li>")
            else:
                rows.append(f"<li>{html.escape(str(x))}</li>")
        return "<ul>" + "".join(rows) + "</ul>"

    return (
        f'<p>Feedback by <span class="label">{html.escape(fb.get("backend", "?"))}</span></p>'
        f"<p><b>Problems</b>{items(fb.get('problems', []))}</p>"
        f"<p><b>Rewrite</b>{items(fb.get('rewrite', []))}</p>"
        f"<p><b>Remove</b>{items(fb.get('remove', []))}</p>"
        f"<p><b>Add</b>{items(fb.get('add', []))}</p>"
        f"<p>{html.escape(fb.get('text', ''))}</p>"
    )


def _score_table(scores: list[dict[str, Any]], expert: dict[str, Any] | None) -> str:
    rows = [
        "<tr><th>candidate</th><th>score</th><th>stride frequency (Hz)</th><th>target (Hz)</th>"
        "<th>forward speed (m/s)</th><th>fell</th></tr>"
    ]
    for i, s in enumerate(scores):
        hz = s.get("stride_frequency_hz")
        tgt = s.get("target_stride_frequency_hz")
        rows.append(
            f"<tr><td>{i}</td><td>{s.get('score', 0):.3f}</td><td>{'–' if hz is None else f'{hz:.2f}'}</td>"
            f"<td>{'–' if tgt is None else f'{tgt:.2f}'}</td><td>{s.get('forward_speed_mps', 0):.2f}</td>"
            f"<td>{s.get('fell')}</td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def _best_text(best: Any) -> str:
    if not best:
        return "none yet"
    return f"iteration {best[0]}, candidate {best[1]}"


def _progress_table(store: LearnStore) -> str:
    """One row per iteration: the chosen candidate's stride frequency, target, speed and score."""
    rows = []
    k = 0
    while (store.path / f"iter_{k:02d}").is_dir():
        summary = read_json(store.path / f"iter_{k:02d}" / "summary.json")
        chosen = summary["chosen"] if summary else 0
        score = read_json(store.path / f"iter_{k:02d}" / f"cand_{chosen}" / "score.json")
        if score is not None:
            hz, tgt = score.get("stride_frequency_hz"), score.get("target_stride_frequency_hz")
            rows.append(
                f"<tr><td>{k}</td><td>{'–' if hz is None else f'{hz:.2f}'}</td>"
                f"<td>{'–' if tgt is None else f'{tgt:.2f}'}</td><td>{score.get('forward_speed_mps', 0):.2f}</td>"
                f"<td>{score.get('fell')}</td><td>{score.get('score', 0):.3f}</td></tr>"
            )
        k += 1
    if not rows:
        return ""
    head = (
        "<h2>Progress</h2><table><tr><th>iteration</th><th>robot stride frequency (Hz)</th><th>target (Hz)</th>"
        "<th>forward speed (m/s)</th><th>fell</th><th>score</th></tr>"
    )
    return head + "".join(rows) + "</table>"


def _gait_section(store: LearnStore, reference: str | None) -> str:
    """Measured gait of each iteration's chosen candidate (class, timing, pattern), and footfall diagrams of
    the best one (against ``reference`` when the run has one), scored by :mod:`lm_reward_learning.gait`.

    The progress table's score is the loop's own objective (stride-frequency match unless a reference is
    set); this section is the objective yardstick that ``lmrl evaluate`` also uses.
    """
    from lm_reward_learning.bilevel.summary import iteration_gaits, reference_or_none
    from lm_reward_learning.evaluation.plots import FootfallPanel, plot_footfalls
    from lm_reward_learning.gait import load_reference
    from lm_reward_learning.gait.reference import reference_label

    ref = reference_or_none(reference)
    rows, best_traj = [], None
    best = store.status().get("best") or [0, 0]
    for g in iteration_gaits(store, reference):
        k = g["iteration"]
        if "error" in g:
            rows.append(f"<tr><td>{k}</td><td colspan='7'>not measurable: {html.escape(g['error'])}</td></tr>")
            continue
        f, sim = g["features"], g["similarity"]
        if [k, g["chosen"]] == list(best):
            best_traj = (g["_trajectory"], f)
        duty = sum(f.duty_factor) / len(f.duty_factor)
        phases = (
            "–" if f.phase_offsets is None else ", ".join("–" if p is None else f"{p:.2f}" for p in f.phase_offsets)
        )
        hz = "–" if f.stride_frequency_hz is None else f"{f.stride_frequency_hz:.2f}"
        sim_text = "–" if sim is None else f"{sim:.3f}" if isinstance(sim, float) else html.escape(sim[:80])
        rows.append(
            f"<tr><td>{k}</td><td>{html.escape(str(f.gait))}</td><td>{html.escape(str(f.gait_detail))}</td>"
            f"<td>{hz}</td><td>{duty:.2f}</td><td>{phases}</td><td>{f.flight_fraction:.2f}</td><td>{sim_text}</td></tr>"
        )
    if not rows:
        return ""
    label = reference_label(reference) if reference else None
    head = (
        "<h2>Gait</h2><p>The gait of each iteration's chosen policy, measured from its rollout (Hildebrand's "
        "classes; phases are touchdown lags after FL / left, in stride fractions). The progress table's score "
        "is the loop's own objective; the last column is the gait similarity to "
        f"{f'<b>{html.escape(label)}</b>' if label else 'a reference (none set for this run)'}.</p>"
        "<table><tr><th>iteration</th><th>class</th><th>detail</th><th>stride frequency (Hz)</th>"
        "<th>mean duty factor</th><th>phase offsets</th><th>flight fraction</th><th>similarity</th></tr>"
    )
    out = head + "".join(rows) + "</table>"
    if best_traj is not None:
        traj, f = best_traj
        panels = [
            FootfallPanel(f"best policy: {f.gait}", traj.foot_contact, traj.dt, traj.foot_names, f.stride_period_s)
        ]
        if ref is not None and len(ref.foot_names) == len(f.foot_names):
            rt = load_reference(reference)
            panels.append(
                FootfallPanel(
                    f"reference {label}: {ref.gait}", rt.foot_contact, rt.dt, rt.foot_names, ref.stride_period_s
                )
            )
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            png = plot_footfalls(Path(tmp) / "footfalls.png", panels)
            out += f'<p><img src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}"></p>'
    return out


def render_report(store: LearnStore) -> str:
    """Return the HTML text of the report of ``store`` (completed iterations only)."""
    cfg = store.config()
    status = store.status()
    expert = read_json(store.path / "expert" / "motion.json")
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>lmrl learn {html.escape(store.path.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Reward learning from video: {html.escape(store.path.name)}</h1>",
        f"<p>Robot <b>{cfg.robot}</b>, mode <b>{cfg.mode}</b>, feedback backend <b>{cfg.feedback}</b>, "
        f"synthesis backend <b>{cfg.synthesis}</b>, {cfg.iterations} iterations × {cfg.candidates} candidate(s). "
        f"Status: {html.escape(str(status.get('status')))}; best: {_best_text(status.get('best'))}.</p>",
        f"<p>Task: {html.escape(cfg.task)}</p>",
    ]
    parts.append(_progress_table(store))
    parts.append(_gait_section(store, cfg.reference))
    parts.append(usage_html(store))  # calls, tokens, dollars, budget (bilevel.provenance)
    if expert is not None:
        parts.append("<h2>Expert video</h2>" + _video_tag(store.path / "expert" / "clip.mp4", 480))
        parts.append(f"<pre>{html.escape(json.dumps(expert, indent=2))}</pre>")
    k = 0
    while (store.path / f"iter_{k:02d}").is_dir():
        d = store.path / f"iter_{k:02d}"
        parts.append(f"<h2>Iteration {k}{' (initial reward program)' if k == 0 else ''}</h2>")
        if (d / "side_by_side.mp4").is_file():
            parts.append(_video_tag(d / "side_by_side.mp4"))
        fb = read_json(d / "feedback.json")
        if fb is not None:
            parts.append(_feedback_html(fb))
        summary = read_json(d / "summary.json")
        chosen = summary["chosen"] if summary else 0
        cand = d / f"cand_{chosen}"
        syn = read_json(cand / "synthesis.json")
        if syn is not None:
            parts.append(
                f"<p>Reward update by <span class='label'>{html.escape(syn['label'])}</span>: "
                f"{len(syn['attempts'])} attempt(s), kept the {syn['kept']} program; tokens {syn['usage']}.</p>"
            )
            parts.append(_diff_html((cand / "diff.patch").read_text() if (cand / "diff.patch").is_file() else ""))
        elif (cand / "program.py").is_file():
            program = html.escape((cand / "program.py").read_text())
            parts.append(f"<details><summary>reward program</summary><pre>{program}</pre></details>")
        parts.append(_curves_png(cand / "train" / "reward_stats.json"))
        scores = (
            summary["scores"]
            if summary
            else ([read_json(cand / "score.json")] if (cand / "score.json").is_file() else [])
        )
        if scores:
            parts.append(_score_table(scores, expert))
        if (cand / "rollout.mp4").is_file():
            parts.append("<p>Rollout of the trained policy:</p>" + _video_tag(cand / "rollout.mp4", 320))
        k += 1
    from lm_reward_learning.bilevel.randomization_proposal import proposal_html
    from lm_reward_learning.evaluation.robustness import robustness_html

    parts.append(proposal_html(store.path / "randomization"))
    parts.append(robustness_html(store.path / "robustness"))
    if status.get("onnx"):
        parts.append(f"<h2>Exported policy</h2><p><code>{html.escape(status['onnx'])}</code></p>")
    parts.append("</body></html>")
    return "\n".join(parts)
