"""Sagittal hip and knee flexion of a biped robot from its joint positions, for comparison with a person's.

The person's angles come from video (:mod:`lm_reward_learning.video.human_pose`: hip flexion = thigh ahead of
the trunk line, knee flexion = shank behind the thigh's line, degrees, 0 standing straight). The robot's are
read from its joints in the same convention:

* Unitree G1: hip flexion = ``-hip_pitch`` (a negative ``*_hip_pitch_joint`` swings the thigh forward about the
  pelvis' y axis), knee flexion = ``+knee`` (a positive ``*_knee_joint`` folds the shank back). Signs checked
  against MuJoCo forward kinematics of the vendored model in ``tests/gait/test_joint_angles.py``. The trunk
  line is the pelvis' vertical: with the waist pitch at its default of 0 the torso is aligned with it.

Hip roll and yaw are out of the sagittal plane and ignored; a clip seen from the side shows neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lm_reward_learning.errors import LmrlError

#: Robot -> side -> ((hip joint, sign), (knee joint, sign)): flexion = sign * joint angle.
SAGITTAL_JOINTS: dict[str, dict[str, tuple[tuple[str, float], tuple[str, float]]]] = {
    "g1": {
        "left": (("left_hip_pitch_joint", -1.0), ("left_knee_joint", 1.0)),
        "right": (("right_hip_pitch_joint", -1.0), ("right_knee_joint", 1.0)),
    },
}
#: Percentiles a flexion range spans (as :mod:`~lm_reward_learning.video.human_pose` reports a person's).
RANGE_PERCENTILES = (2.0, 98.0)


class JointAnglesError(LmrlError):
    """No sagittal joint table for the robot, or the rollout lacks the joints it names."""


@dataclass(frozen=True)
class SagittalAngles:
    """Hip and knee flexion over a rollout, degrees.

    Attributes:
        hip_flexion_deg: Left and right hip flexion (extension < 0). Shape ``(T, 2)``.
        knee_flexion_deg: Left and right knee flexion (0 = straight). Shape ``(T, 2)``.
    """

    hip_flexion_deg: np.ndarray
    knee_flexion_deg: np.ndarray

    @property
    def hip_flexion_range_deg(self) -> tuple[float, float]:
        """:data:`RANGE_PERCENTILES` of hip flexion over both legs, degrees."""
        return _range(self.hip_flexion_deg)

    @property
    def knee_flexion_range_deg(self) -> tuple[float, float]:
        """:data:`RANGE_PERCENTILES` of knee flexion over both legs, degrees; the upper end is the swing's peak."""
        return _range(self.knee_flexion_deg)


def sagittal_angles(robot: str, joint_pos: np.ndarray, joint_names: Sequence[str]) -> SagittalAngles:
    """Hip and knee flexion of ``robot`` (module docstring).

    Args:
        robot: Robot name, a key of :data:`SAGITTAL_JOINTS`.
        joint_pos: Joint angles, rad. Shape ``(T, J)``.
        joint_names: Names of the ``J`` columns.

    Raises:
        JointAnglesError: the robot has no table, or a joint it names is not among ``joint_names``.
    """
    table = SAGITTAL_JOINTS.get(robot)
    if table is None:
        raise JointAnglesError(
            f"no sagittal hip/knee table for robot {robot!r} (bipeds only: {', '.join(sorted(SAGITTAL_JOINTS))})"
        )
    q = np.asarray(joint_pos, np.float64)
    names = list(joint_names)
    if q.ndim != 2 or q.shape[1] != len(names):
        raise JointAnglesError(f"joint_pos must have shape (T, {len(names)}) for the names given; got {q.shape}")
    cols = {}
    for side, joints in table.items():
        for name, sign in joints:
            if name not in names:
                raise JointAnglesError(f"the rollout has no joint {name!r} ({robot}'s {side} leg); it has {names}")
            cols[name] = sign * np.degrees(q[:, names.index(name)])
    hip = np.stack([cols[table[s][0][0]] for s in ("left", "right")], axis=1)
    knee = np.stack([cols[table[s][1][0]] for s in ("left", "right")], axis=1)
    return SagittalAngles(hip, knee)


def rollout_sagittal_angles(robot: str, arrays: Path) -> SagittalAngles:
    """:func:`sagittal_angles` of a ``rollout.npz`` (``joint_pos``; ``joint_names`` when saved, else the
    robot's policy joint order).

    Raises:
        JointAnglesError: see :func:`sagittal_angles`.
        FileNotFoundError: no such file.
    """
    from lm_reward_learning.robots import get_robot

    with np.load(arrays) as a:
        q = a["joint_pos"]
        names = [str(n) for n in a["joint_names"]] if "joint_names" in a else list(get_robot(robot).joint_names)
    return sagittal_angles(robot, q, names)


def _range(a: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(a, RANGE_PERCENTILES)
    return float(lo), float(hi)
