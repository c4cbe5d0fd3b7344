"""Aggregate a comparison's cells into per-method statistics and a Markdown table.

Each cell's numbers come from its ``evaluation.json`` (:mod:`lm_reward_learning.evaluation.evaluate`).
Per method and quantity: the mean over the seeds where it was measured, and the sample standard
deviation (``ddof = 1``) when at least two were; ``n`` says how many seeds measured it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Key features of the table: (column title, getter on evaluation.json's ``features`` dict).
KEY_FEATURES: tuple[tuple[str, str], ...] = (
    ("Froude number", "froude_number"),
    ("stride frequency (Hz)", "stride_frequency_hz"),
    ("duty factor (mean of feet)", "duty_factor"),
    ("flight fraction", "flight_fraction"),
    ("forward speed (m/s)", "forward_speed_mps"),
)


def stat(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """``{"mean", "std", "n"}`` of the non-None values (``std`` None below two values, mean None at zero)."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not xs:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(np.mean(xs)), "std": float(np.std(xs, ddof=1)) if len(xs) > 1 else None, "n": len(xs)}


def feature_value(features: Mapping[str, Any] | None, key: str) -> float | None:
    """A scalar feature of a features dict; per-foot lists are averaged over the measured feet."""
    if not features:
        return None
    value = features.get(key)
    if isinstance(value, (list, tuple)):
        xs = [v for v in value if v is not None]
        return float(np.mean(xs)) if xs else None
    return None if value is None else float(value)


def summarise(cells: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per-method statistics of finished cells.

    Args:
        cells: Cell records, each with ``method``, ``seed`` and ``evaluation`` (evaluation.json).
        methods: Methods in table order.

    Returns:
        ``{method: {"seeds", "score", "gait_similarity", "features": {key: stat}, "similarity":
        {feature: stat}, "gaits": {class: count}, "falls"}}`` with ``stat`` as in :func:`stat`.
    """
    out: dict[str, dict[str, Any]] = {}
    for method in methods:
        evs = [c["evaluation"] for c in cells if c["method"] == method]
        rows = [row for ev in evs for row in ev.get("table", [])]
        sims: dict[str, list[float | None]] = {}
        for row in rows:
            sims.setdefault(row["feature"], []).append(row["similarity"])
        out[method] = {
            "seeds": [c["seed"] for c in cells if c["method"] == method],
            "score": stat([ev["score"] for ev in evs]),
            "gait_similarity": stat([ev.get("gait_similarity") for ev in evs]),
            "features": {
                key: stat([feature_value((ev.get("features") or {}).get("robot"), key) for ev in evs])
                for _, key in KEY_FEATURES
            },
            "similarity": {f: stat(v) for f, v in sims.items()},
            "gaits": dict(Counter(((ev.get("features") or {}).get("robot") or {}).get("gait") or "none" for ev in evs)),
            "falls": sum(bool(ev["rollout"]["fell"]) for ev in evs),
        }
    return out


def fmt_stat(s: Mapping[str, Any], total: int, digits: int = 3) -> str:
    """``mean ± std`` (``mean`` alone for one value, ``—`` for none), with ``(n/total)`` when some are missing."""
    if s["n"] == 0:
        return "—"
    text = f"{s['mean']:.{digits}f}" + (f" ± {s['std']:.{digits}f}" if s["std"] is not None else "")
    return text + (f" ({s['n']}/{total})" if s["n"] < total else "")


def markdown_table(
    summary: Mapping[str, Mapping[str, Any]], reference: str, reference_features: Mapping[str, Any]
) -> str:
    """The comparison as Markdown: score and key features per method, then per-feature similarities."""
    head = ["method", "seeds", "score", "gait similarity", *(t for t, _ in KEY_FEATURES), "gait classes", "falls"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for method, s in summary.items():
        n = len(s["seeds"])
        gaits = ", ".join(f"{g} ×{c}" for g, c in sorted(s["gaits"].items()))
        cells = [method, str(n), fmt_stat(s["score"], n), fmt_stat(s["gait_similarity"], n)]
        cells += [fmt_stat(s["features"][key], n) for _, key in KEY_FEATURES]
        cells += [gaits, f"{s['falls']}/{n}"]
        lines.append("| " + " | ".join(cells) + " |")
    ref = [feature_value(reference_features, key) for _, key in KEY_FEATURES]
    ref_cells = [f"reference {reference}", "—", "1", "1", *("—" if v is None else f"{v:.3f}" for v in ref)]
    lines.append("| " + " | ".join([*ref_cells, str(reference_features.get("gait")), "—"]) + " |")

    features = list(dict.fromkeys(f for s in summary.values() for f in s["similarity"]))
    lines += ["", "Per-feature similarity exp(-e) (mean ± std over seeds; — = not measured):", ""]
    lines += ["| method | " + " | ".join(features) + " |", "|" + " --- |" * (len(features) + 1)]
    for method, s in summary.items():
        n = len(s["seeds"])
        vals = [fmt_stat(s["similarity"].get(f, {"n": 0}), n, 2) for f in features]
        lines.append(f"| {method} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"
