"""Figures of the evaluation: footfall diagrams (robot vs reference) and the comparison bar chart.

Footfall diagrams follow Hildebrand (1965, "Symmetrical gaits of horses", Science 150:701): one row
per foot, a black bar while the foot is on the ground, time along x in stride fractions (``t / T``,
``T`` the measured stride period) starting at a touchdown of the reference foot, so a trot shows
diagonal pairs landing together and a duty factor ``β`` reads as the bar length per stride. Contacts
are debounced as the gait features are (:data:`lm_reward_learning.gait.contacts.MIN_PHASE_S`). A
record without a measured stride is drawn in seconds instead, and says so.

Only matplotlib's object-oriented API with the Agg canvas is used (no pyplot, no global backend).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lm_reward_learning.io import atomic_write_bytes

#: Strides shown in a footfall diagram.
STRIDES_SHOWN = 3
#: Seconds shown when no stride was measured.
NO_STRIDE_WINDOW_S = 4.0


@dataclass(frozen=True)
class FootfallPanel:
    """One footfall diagram.

    Attributes:
        label: Panel title (robot or reference name, with its gait class).
        contact: Foot contacts. Shape ``(T, F)``, bool.
        dt: Sample period, s.
        foot_names: ``F`` foot names, top row first.
        stride_period_s: Measured stride period, s, or None (then the x axis is in seconds).
    """

    label: str
    contact: np.ndarray
    dt: float
    foot_names: tuple[str, ...]
    stride_period_s: float | None


def footfall_window(panel: FootfallPanel) -> tuple[np.ndarray, int, float, str]:
    """The part of ``panel`` drawn and its x scale.

    Returns:
        ``(contact, start, unit_s, xlabel)``: the debounced contacts, shape ``(T, F)``; the first
        sample drawn (a touchdown of the reference foot, :data:`STRIDES_SHOWN` strides before the end
        of the record where possible, so the steady gait is shown; without a stride, the last
        :data:`NO_STRIDE_WINDOW_S` seconds); seconds per x unit (the stride period, or 1 s); the
        x-axis label.
    """
    from lm_reward_learning.gait.contacts import MIN_PHASE_S, debounce_contacts, touchdown_indices

    contact = debounce_contacts(np.asarray(panel.contact, dtype=bool), math.ceil(MIN_PHASE_S / panel.dt - 1e-9))
    if panel.stride_period_s is None:  # the last seconds: past the start-up transient
        start = max(0, contact.shape[0] - math.ceil(NO_STRIDE_WINDOW_S / panel.dt))
        return contact, start, 1.0, "time (s, last seconds of the record); no stride measured"
    span = STRIDES_SHOWN * panel.stride_period_s / panel.dt
    touchdowns = touchdown_indices(contact[:, 0])
    fitting = touchdowns[touchdowns + span <= contact.shape[0]]
    start = int(fitting[-1]) if fitting.size else int(touchdowns[0]) if touchdowns.size else 0
    return contact, start, panel.stride_period_s, "time (strides, t / T)"


def contact_spans(contact_1d: np.ndarray, dt: float, unit_s: float) -> list[tuple[float, float]]:
    """``(start, length)`` of each contact run of one foot, in x units (``unit_s`` seconds each).

    Sample ``i`` covers ``[i dt, (i + 1) dt)``.
    """
    padded = np.concatenate([[False], np.asarray(contact_1d, dtype=bool), [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(a * dt / unit_s, (b - a) * dt / unit_s) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _draw_footfalls(ax, panel: FootfallPanel) -> None:
    contact, start, unit, xlabel = footfall_window(panel)
    width = STRIDES_SHOWN if panel.stride_period_s is not None else min(contact.shape[0] * panel.dt, NO_STRIDE_WINDOW_S)
    stop = min(contact.shape[0], start + math.ceil(width * unit / panel.dt) + 1)
    for row in range(len(panel.foot_names)):
        spans = contact_spans(contact[start:stop, row], panel.dt, unit)
        ax.broken_barh(spans, (row - 0.35, 0.7), facecolors="black")
    ax.set_yticks(range(len(panel.foot_names)), panel.foot_names)
    ax.set_ylim(len(panel.foot_names) - 0.5, -0.5)
    ax.set_xlim(0.0, width)
    if panel.stride_period_s is not None:
        for k in range(1, STRIDES_SHOWN):
            ax.axvline(k, color="0.6", linewidth=0.8, linestyle="--")
    ax.set_xlabel(xlabel)
    ax.set_title(panel.label, fontsize=10)


def plot_footfalls(path: Path, panels: Sequence[FootfallPanel], title: str = "") -> Path:
    """Write footfall diagrams, one panel per record (e.g. robot, reference), stacked, as PNG.

    Returns:
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 1.1 + 1.6 * len(panels)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels, strict=True):
        _draw_footfalls(ax, panel)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def plot_comparison(
    path: Path,
    scores: Mapping[str, Sequence[float]],
    similarities: Mapping[str, Mapping[str, float]],
    title: str = "",
) -> Path:
    """Write the comparison chart: mean ± std score per method with seeds as dots, and per-feature
    mean similarities per method (grouped bars).

    Args:
        path: PNG to write.
        scores: Per method (in plotting order), its score per seed, each in ``[0, 1]``.
        similarities: Per method, the mean similarity ``exp(-e)`` of each feature over seeds.
        title: Figure title.

    Returns:
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    methods = list(scores)
    fig = Figure(figsize=(11.0, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax_score, ax_feat = fig.subplots(1, 2, width_ratios=(1, 2))
    x = np.arange(len(methods))
    means = [float(np.mean(scores[m])) if len(scores[m]) else 0.0 for m in methods]
    stds = [float(np.std(scores[m], ddof=1)) if len(scores[m]) > 1 else 0.0 for m in methods]
    ax_score.bar(x, means, yerr=stds, capsize=4, color="tab:blue", alpha=0.7)
    for i, m in enumerate(methods):
        ax_score.scatter(np.full(len(scores[m]), i), scores[m], color="black", s=12, zorder=3)
    ax_score.set_xticks(x, methods)
    ax_score.set_ylim(0.0, 1.0)
    ax_score.set_ylabel("gait similarity score")
    ax_score.set_title("score (mean ± std over seeds)", fontsize=10)

    features = sorted({f for m in methods for f in similarities.get(m, {})}, key=_feature_order)
    width = 0.8 / max(len(methods), 1)
    fx = np.arange(len(features))
    for i, m in enumerate(methods):
        vals = [similarities.get(m, {}).get(f, np.nan) for f in features]
        ax_feat.bar(fx + (i - (len(methods) - 1) / 2) * width, vals, width, label=m)
    ax_feat.set_xticks(fx, features, rotation=30, ha="right", fontsize=8)
    ax_feat.set_ylim(0.0, 1.0)
    ax_feat.set_ylabel("feature similarity exp(-e)")
    ax_feat.set_title("per-feature similarity (mean over seeds)", fontsize=10)
    ax_feat.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def _feature_order(name: str) -> int:
    from lm_reward_learning.gait import DEFAULT_WEIGHTS

    order = list(DEFAULT_WEIGHTS)
    return order.index(name) if name in order else len(order)


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def plot_robustness(path: Path, report: Mapping) -> Path:
    """Grouped bars per condition of a ``robustness.json`` report: success rate (top) and velocity-tracking
    RMS error (bottom), one colour per policy. Written atomically; returns ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [c["name"] for c in report["conditions"]]
    pols = report["policies"]
    x = np.arange(len(names))
    width = 0.8 / max(len(pols), 1)
    fig = Figure(figsize=(max(8.0, 0.6 * len(names) + 2), 6.5))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True)
    for i, p in enumerate(pols):
        label = p.get("label") or Path(p["target"]).name
        res = [p["results"][n] for n in names]
        offset = (i - (len(pols) - 1) / 2) * width
        top.bar(x + offset, [100 * r["success_rate"] for r in res], width, label=label)
        bottom.bar(x + offset, [r["vel_rms_mps"] or 0.0 for r in res], width, label=label)
    top.axhline(95.0, color="0.4", lw=0.8, ls="--")
    top.set_ylabel("success (no fall), %")
    top.set_ylim(0, 105)
    bottom.set_ylabel("velocity RMS error, m/s")
    bottom.set_xticks(x, names, rotation=40, ha="right", fontsize=8)
    top.legend(fontsize=8, loc="lower left")
    n, dur = report["episodes"], report["duration_s"]
    top.set_title(f"robustness battery: {n} episodes x {dur:.0f} s per condition, {report['engine']}")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)
