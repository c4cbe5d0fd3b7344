"""``lmrl evaluate``: roll a policy out, measure its gait and score it against a reference gait.

The score (``score`` in ``evaluation.json``, in ``[0, 1]``):

* ``gait_similarity``: :func:`lm_reward_learning.gait.similarity` between the rollout's
  :class:`~lm_reward_learning.gait.GaitFeatures` and the reference's, i.e. the weighted mean of
  per-feature similarities ``exp(-e_i)`` over the features measured on both sides, after removing
  size by dynamic similarity (Alexander & Jayes 1983). Definitions, normalisations and weights are in
  :mod:`lm_reward_learning.gait.score`; the per-feature table says what each feature contributed.
* A feature of the reference the robot does not produce counts as similarity 0, a robot that does
  not stride scores at most ~0.05, and a biped is never scored against a quadruped reference
  (:mod:`lm_reward_learning.gait.score`).
* ``score = gait_similarity``, except ``0`` when the robot fell (the rollout ended early by a fall)
  or no gait could be measured (fewer than two strides in a record too short to tell; then
  ``gait_similarity`` is None and ``note`` says why). The bi-level loop's objective zeroes falls
  the same way.

Rollout: one deterministic simulation of ``duration_s`` seconds (10 s = 500 policy steps at 50 Hz)
with a fixed velocity command, no video. The default command asks for the reference's speed scaled to
the robot by equal Froude number, ``v = (v_ref / sqrt(g L_ref)) · sqrt(g L_robot)``, clipped to the
range the policy was trained on (``lin_vel_x``); lateral speed and yaw rate are the middles of their
trained ranges (0 for the bundled configs). When that clipping lowered the speed, the speed feature
compares the robot with the speed it was asked for and the table says that the reference's speed is
outside the trained range (duty factor and flight fraction are compared with a tolerance widened by
the speed gap), so a pattern can still match.

Outputs, in ``out_dir`` (default ``<target>/evaluation/<reference>/``): ``rollout.npz`` (recorded
state), ``footfalls.png`` (footfall diagrams, robot above reference, time in stride fractions) and,
written last, ``evaluation.json``::

    {"target", "kind", "robot", "policy_run", "reference", "command", "duration_s",
     "rollout": {"duration_s", "fell", "mean_forward_speed_mps", "distance_m"},
     "score", "gait_similarity", "note",
     "features": {"robot": {...} | null, "reference": {...}},
     "table": [{"feature", "robot", "reference", "error", "similarity", "weight", "contribution", "note"}],
     "files": {"rollout", "footfalls"}, "lmrl_version"}
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lm_reward_learning import __version__
from lm_reward_learning.evaluation.plots import FootfallPanel, plot_footfalls
from lm_reward_learning.evaluation.targets import PolicyTarget, resolve_target
from lm_reward_learning.gait import (
    GRAVITY,
    GaitFeatures,
    GaitMorphologyError,
    GaitScore,
    TrajectoryTooShortError,
    compute_features,
    load_reference,
    reference_features,
    reference_label,
    similarity,
)
from lm_reward_learning.io import atomic_write_json

log = logging.getLogger(__name__)

JSON_NAME = "evaluation.json"
PLOT_NAME = "footfalls.png"
ARRAYS_NAME = "rollout.npz"
#: The named quadruped references, for error messages.
_QUADRUPED_REFS = "dog_trot, dog_pace, dog_canter, hildebrand_bound, hildebrand_pronk"


@dataclass(frozen=True)
class EvaluationResult:
    """What :func:`evaluate` measured and wrote.

    Attributes:
        target: The evaluated directory.
        kind: ``training run``, ``learn run`` or ``exported policy``.
        reference: Reference name (``dog_trot``, ...).
        command: Velocity command held, ``(v_x m/s, v_y m/s, yaw rate rad/s)``.
        fell: Whether the rollout ended by a fall.
        score: The score in ``[0, 1]`` (module docstring).
        gait: The similarity with its per-feature table, or None when no gait was measurable.
        robot_features: The rollout's gait features, or None when not measurable.
        reference_features: The reference's gait features.
        note: Why the score is 0 or a feature set is missing; empty otherwise.
        json_path: ``evaluation.json``.
        plot_path: ``footfalls.png``.
        arrays_path: ``rollout.npz``.
    """

    target: Path
    kind: str
    reference: str
    command: tuple[float, float, float]
    fell: bool
    score: float
    gait: GaitScore | None
    robot_features: GaitFeatures | None
    reference_features: GaitFeatures
    note: str
    json_path: Path
    plot_path: Path
    arrays_path: Path

    def table(self) -> str:
        """The per-feature table as Markdown, with the score (or the note) on the last line."""
        body = self.gait.table() if self.gait is not None else "(no per-feature table)"
        tail = f"score = {self.score:.3f}" + (f" ({self.note})" if self.note else "")
        return f"{body.rsplit('score =', 1)[0].rstrip()}\n\n{tail}"


def default_command(
    reference: GaitFeatures, leg_length_m: float, ranges: dict[str, tuple[float, float]]
) -> tuple[float, float, float]:
    """The reference's speed at equal Froude number, clipped to the trained range (module docstring).

    Args:
        reference: Reference features (speed and leg length; without them: the middle of the range).
        leg_length_m: The robot's leg length, m.
        ranges: Trained command ranges, ``{"lin_vel_x": (lo, hi), "lin_vel_y": ..., "ang_vel_z": ...}``.

    Returns:
        ``(v_x m/s, v_y m/s, yaw rate rad/s)``.
    """
    lo, hi = ranges["lin_vel_x"]
    u = reference.dimensionless_speed
    vx = (lo + hi) / 2.0 if u is None else min(max(u * math.sqrt(GRAVITY * leg_length_m), lo), hi)
    mid = {k: (a + b) / 2.0 for k, (a, b) in ranges.items()}
    return (float(vx), float(mid["lin_vel_y"]), float(mid["ang_vel_z"]))


def evaluate(
    target: Path | str,
    reference: str,
    *,
    duration_s: float = 10.0,
    command: tuple[float, float, float] | None = None,
    out_dir: Path | None = None,
) -> EvaluationResult:
    """Roll out a policy, measure its gait and score it against ``reference`` (module docstring).

    Args:
        target: A training run, a learn run (its best candidate) or an exported policy directory.
        reference: A reference gait name (:data:`lm_reward_learning.gait.REFERENCE_NAMES`) or the path of
            a reference file (:mod:`lm_reward_learning.gait.reference_file`).
        duration_s: Rollout length, s (at least three stride periods: 10 s suits gaits above 0.3 Hz).
        command: ``(v_x m/s, v_y m/s, yaw rate rad/s)``; default: :func:`default_command`.
        out_dir: Output folder; default ``<target>/evaluation/<reference name or file stem>/``.

    Returns:
        The :class:`EvaluationResult` (also written to ``out_dir/evaluation.json``).

    Raises:
        lm_reward_learning.gait.UnknownReferenceError: unknown ``reference`` (lists the names).
        lm_reward_learning.gait.GaitMorphologyError: a biped against a quadruped reference or the
            reverse (before any rollout).
        lm_reward_learning.evaluation.targets.EvaluationError: ``target`` is not evaluable, or an
            exported policy does not match this version's environment.
        lm_reward_learning.errors.LmrlError: non-positive ``duration_s``; a damaged run or checkpoint.
    """
    from lm_reward_learning.errors import LmrlError
    from lm_reward_learning.robots import get_robot
    from lm_reward_learning.rollout import load_rollout_trajectory

    ref_feats = reference_features(reference)  # unknown names fail before any rollout
    if not (duration_s > 0 and math.isfinite(duration_s)):
        raise LmrlError(f"the rollout duration must be a positive number of seconds; got {duration_s!r}")
    tgt = resolve_target(target)
    spec = get_robot(tgt.robot)
    if len(spec.foot_sites) != len(ref_feats.foot_names):
        kinds = {2: "biped", 4: "quadruped"}
        raise GaitMorphologyError(
            f"{tgt.robot} is a {kinds.get(len(spec.foot_sites), 'robot')} with {len(spec.foot_sites)} feet; reference "
            f"{reference_label(reference)!r} has {len(ref_feats.foot_names)}. Choose a reference of its kind "
            f"({_QUADRUPED_REFS if len(spec.foot_sites) == 4 else 'human_walk, human_run'}) or a file."
        )
    reachable = None
    if command is None:
        command = default_command(ref_feats, spec.leg_length, tgt.command_ranges)
        u = ref_feats.dimensionless_speed
        if u is not None and abs(command[0]) < abs(u) * math.sqrt(GRAVITY * spec.leg_length) - 1e-6:
            reachable = command[0]  # the reference's speed is beyond the trained range
    command = (float(command[0]), float(command[1]), float(command[2]))
    out = Path(out_dir) if out_dir is not None else tgt.path / "evaluation" / reference_label(reference)
    arrays = out / ARRAYS_NAME
    log.info("evaluating %s %s against %s, command %s, %.1f s", tgt.kind, tgt.path, reference, command, duration_s)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batch-1 inference: extra threads only contend (3x slower on 2 busy cores)
    try:
        res = tgt.rollout(duration_s, command, arrays)
    finally:
        torch.set_num_threads(threads)
    traj = load_rollout_trajectory(arrays)
    feats: GaitFeatures | None = None
    gait: GaitScore | None = None
    note = ""
    try:
        feats = compute_features(traj)
        gait = similarity(feats, ref_feats, reachable_speed_mps=reachable)
    except TrajectoryTooShortError as exc:
        note = f"no gait measurable: {exc}"
    if res.fell:
        note = "; ".join(x for x in (f"the robot fell after {res.duration_s:.2f} s: score 0", note) if x)
    score = 0.0 if (gait is None or res.fell) else gait.score

    ref_traj = load_reference(reference)
    panels = [
        FootfallPanel(
            f"robot ({tgt.robot}): {(feats.gait if feats else None) or 'no gait class'}",
            traj.foot_contact,
            traj.dt,
            traj.foot_names,
            feats.stride_period_s if feats else None,
        ),
        FootfallPanel(
            f"reference {reference_label(reference)}: {ref_feats.gait}",
            ref_traj.foot_contact,
            ref_traj.dt,
            ref_traj.foot_names,
            ref_feats.stride_period_s,
        ),
    ]
    plot = plot_footfalls(
        out / PLOT_NAME, panels, title=f"{tgt.path.name} vs {reference_label(reference)}: score {score:.3f}"
    )
    result = EvaluationResult(
        target=tgt.path,
        kind=tgt.kind,
        reference=reference,
        command=command,
        fell=res.fell,
        score=float(score),
        gait=gait,
        robot_features=feats,
        reference_features=ref_feats,
        note=note,
        json_path=out / JSON_NAME,
        plot_path=plot,
        arrays_path=arrays,
    )
    atomic_write_json(result.json_path, _to_json(result, tgt, res, duration_s))
    log.info("score %.3f (%s); wrote %s", score, note or "ok", result.json_path)
    return result


def _to_json(r: EvaluationResult, tgt: PolicyTarget, res: Any, duration_s: float) -> dict[str, Any]:
    rows = [dataclasses.asdict(row) for row in r.gait.rows] if r.gait is not None else []
    return {
        "target": str(r.target),
        "kind": r.kind,
        "robot": tgt.robot,
        "policy_run": str(tgt.run) if tgt.run is not None else None,
        "reference": r.reference,
        "command": list(r.command),
        "duration_s": duration_s,
        "rollout": {
            "duration_s": res.duration_s,
            "fell": res.fell,
            "mean_forward_speed_mps": res.mean_forward_speed,
            "distance_m": res.distance_m,
        },
        "score": r.score,
        "gait_similarity": r.gait.score if r.gait is not None else None,
        "note": r.note,
        "features": {
            "robot": r.robot_features.to_dict() if r.robot_features is not None else None,
            "reference": r.reference_features.to_dict(),
        },
        "table": rows,
        "files": {"rollout": ARRAYS_NAME, "footfalls": PLOT_NAME},
        "lmrl_version": __version__,
    }
