"""A learn run's history in one JSON file: per iteration the chosen policy's score, measured gait and training time.

``learn_summary.json`` is written next to ``report.html`` and into the exported policy's folder, so a
shipped policy carries the numbers its README row quotes. Per iteration ``k`` (0 = the initial program)
it holds the chosen candidate, the loop's objective score (``iter_KK/cand_M/score.json``: the gait
similarity to ``reference`` when the run has one), the gait features measured from that candidate's
rollout (:func:`lm_reward_learning.gait.compute_features`, Hildebrand's class included) with the
similarity to the run's reference, and every candidate's training wall and CPU time, s (the training
worker's ``timings`` in ``train/worker/result.json``; training only, not rollouts or rendering).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lm_reward_learning.bilevel.store import LearnStore, read_json

#: File name of the summary in the run folder and in the exported policy's folder.
SUMMARY_FILE = "learn_summary.json"


def iteration_gaits(store: LearnStore, reference: str | None) -> list[dict[str, Any]]:
    """Per iteration with a rollout of its own chosen candidate, that rollout's gait.

    Args:
        store: The learn run.
        reference: Reference to score against (a name or a file), or None.

    Returns:
        One dict per such iteration, in order: ``iteration``, ``chosen``, and either ``features``
        (:meth:`GaitFeatures.to_dict`), ``similarity`` (None without a reference or for a robot of
        another morphology) and the private ``_trajectory`` (for plots; not JSON), or ``error``
        (the gait is not measurable: the message). Iterations that kept the previous policy are left out.
    """
    from lm_reward_learning.gait import GaitInputError, compute_features, similarity
    from lm_reward_learning.rollout import load_rollout_trajectory

    ref = reference_or_none(reference)
    out = []
    for k in _iterations(store):
        summary = read_json(_iter(store, k) / "summary.json")
        chosen = summary["chosen"] if summary else 0
        arrays = _cand(store, k, chosen) / "rollout.npz"
        if (summary and summary.get("kept_previous")) or not arrays.is_file():
            continue
        row: dict[str, Any] = {"iteration": k, "chosen": chosen}
        try:
            traj = load_rollout_trajectory(arrays)
            feats = compute_features(traj)
        except GaitInputError as exc:
            out.append({**row, "error": str(exc)})
            continue
        sim = None
        if ref is not None:
            try:
                sim = similarity(feats, ref).score
            except GaitInputError as exc:
                sim = str(exc)
        out.append({**row, "features": feats, "similarity": sim, "_trajectory": traj})
    return out


def reference_or_none(reference: str | None):
    """The :class:`~lm_reward_learning.gait.GaitFeatures` of ``reference``, or None without one or when
    its file cannot be read (the run's report then shows the gait without a similarity)."""
    from lm_reward_learning.gait import GaitInputError, reference_features

    if not reference:
        return None
    try:
        return reference_features(reference)
    except GaitInputError:
        return None


def learn_summary(store: LearnStore) -> dict[str, Any]:
    """The summary of the module docstring as a JSON-ready dict.

    Returns:
        ``{"run", "reference", "status", "best", "iterations": [...], "train_wall_s", "train_cpu_s"}``;
        the totals sum every candidate's training (iteration 0 included).
    """
    cfg = store.config()
    status = store.status()
    gaits = {g["iteration"]: g for g in iteration_gaits(store, cfg.reference)}
    rows, wall, cpu = [], 0.0, 0.0
    for k in _iterations(store):
        summary = read_json(_iter(store, k) / "summary.json") or {}
        chosen = summary.get("chosen", 0)
        trainings = []
        m = 0
        while _cand(store, k, m).is_dir():
            result = (read_json(_cand(store, k, m) / "train" / "worker" / "result.json") or {}).get("timings", {})
            trainings.append(
                {"candidate": m, "train_s": result.get("train_s"), "train_cpu_s": result.get("train_cpu_s")}
            )
            wall += result.get("train_s") or 0.0
            cpu += result.get("train_cpu_s") or 0.0
            m += 1
        score = read_json(_cand(store, k, chosen) / "score.json") or {}
        row: dict[str, Any] = {
            "iteration": k,
            "chosen": chosen,
            "kept_previous": bool(summary.get("kept_previous", False)),
            "score": score.get("score"),
            "score_kind": score.get("kind"),
            "trainings": trainings,
        }
        gait = gaits.get(k)
        if gait is not None and "error" in gait:
            row["gait_error"] = gait["error"]
        elif gait is not None:
            row.update(gait=gait["features"].gait, similarity=gait["similarity"], features=gait["features"].to_dict())
        rows.append(row)
    return {
        "run": store.path.name,
        "reference": cfg.reference,
        "status": status.get("status"),
        "best": status.get("best"),
        "iterations": rows,
        "train_wall_s": round(wall, 1),
        "train_cpu_s": round(cpu, 1),
    }


def write_learn_summary(store: LearnStore, *folders: Path) -> None:
    """Write :data:`SUMMARY_FILE` into the run folder and each of ``folders``."""
    from lm_reward_learning.io import atomic_write_json

    data = learn_summary(store)
    for folder in (store.path, *folders):
        atomic_write_json(Path(folder) / SUMMARY_FILE, data)


def _iter(store: LearnStore, k: int) -> Path:  # LearnStore.iter_dir would create it
    return store.path / f"iter_{k:02d}"


def _cand(store: LearnStore, k: int, m: int) -> Path:
    return _iter(store, k) / f"cand_{m}"


def _iterations(store: LearnStore) -> list[int]:
    k = 0
    while _iter(store, k).is_dir():
        k += 1
    return list(range(k))
