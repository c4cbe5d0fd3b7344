"""What the safety layer reads and writes, without ROS: its limits, the measurements, the joint command.

:class:`SafetyConfig` holds the limits and timings of
:class:`~lm_reward_learning.deploy.safety.SafetySupervisor`; :class:`Sensors` the latest measurements
with their arrival times; :class:`JointCommand` the targets and gains sent to the robot;
:class:`SafetyEvent` one mode change. Joint arrays are in the policy's joint order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lm_reward_learning.deploy.modes import Mode


@dataclass(frozen=True)
class SafetyConfig:
    """Limits and timings of the safety layer.

    Attributes:
        stand_up_s: Duration of the stand-up ramp from the present pose to the default pose, s (0:
            one step, still rate-limited).
        sit_down_s: Duration of the sit-down ramp to the sitting pose, s.
        sensor_timeout_s: Joint states or IMU older than this (time since the last message arrived)
            switch an energized controller to damping, s.
        heartbeat_timeout_s: No operator heartbeat for this long switches an energized controller to
            damping, and standing up is refused, s; 0: no heartbeat needed.
        max_roll_rad: ``|roll|`` above this switches to damping, rad.
        max_pitch_rad: ``|pitch|`` above this switches to damping, rad.
        max_target_rate_rad_s: Largest change of a joint target per second, rad/s; applied per control
            period as ``rate * control_dt``. The shipped Go2 walk changes targets by at most 23 rad/s
            at 0.8 m/s (measured over a 10 s rollout), so the default 40 rad/s never limits it.
        hold_timeout_s: A hold (non-finite input) longer than this becomes damping, s.
        damping_kd: Joint damping of passive and damping, N·m·s/rad.
        joint_lower: Lowest joint targets, rad, policy order (None: no clamp). Shape: (J,).
        joint_upper: Highest joint targets, rad, policy order (None: no clamp). Shape: (J,).
        sit_pose: Sitting pose, rad, policy order; None: the robot's
            (:data:`~lm_reward_learning.deploy.modes.SIT_POSES`). Shape: (J,).
    """

    stand_up_s: float = 2.0
    sit_down_s: float = 2.0
    sensor_timeout_s: float = 0.1
    heartbeat_timeout_s: float = 0.0
    max_roll_rad: float = 0.7
    max_pitch_rad: float = 0.7
    max_target_rate_rad_s: float = 40.0
    hold_timeout_s: float = 0.5
    damping_kd: float = 1.0
    joint_lower: tuple[float, ...] | None = None
    joint_upper: tuple[float, ...] | None = None
    sit_pose: tuple[float, ...] | None = None


@dataclass
class Sensors:
    """The latest measurements, in policy joint order, with the times they arrived.

    Attributes:
        joint_pos: Joint positions, rad. Shape: (J,). None before the first message.
        joint_vel: Joint velocities, rad/s. Shape: (J,).
        joint_stamp: When the last joint state arrived, s (monotonic); None before the first.
        quat_xyzw: Base orientation in the world (IMU), x, y, z, w. Shape: (4,).
        ang_vel_b: Base angular velocity, base frame, rad/s (IMU). Shape: (3,).
        imu_stamp: When the last IMU message arrived, s (monotonic); None before the first.
        heartbeat_stamp: When the operator's last heartbeat arrived, s (monotonic); None before the first.
    """

    joint_pos: np.ndarray | None = None
    joint_vel: np.ndarray | None = None
    joint_stamp: float | None = None
    quat_xyzw: np.ndarray | None = None
    ang_vel_b: np.ndarray | None = None
    imu_stamp: float | None = None
    heartbeat_stamp: float | None = None


@dataclass(frozen=True)
class JointCommand:
    """Joint position targets with PD gains, policy joint order.

    The joint controller applies ``tau = kp (positions - q) + kd (velocities - q_dot)``.

    Attributes:
        positions: Target positions, rad. Shape: (J,).
        velocities: Target velocities, rad/s (always zero here). Shape: (J,).
        kp: Position gains, N·m/rad. Shape: (J,).
        kd: Damping gains, N·m·s/rad. Shape: (J,).
        mode: The mode that produced it.
    """

    positions: np.ndarray
    velocities: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    mode: Mode


@dataclass(frozen=True)
class SafetyEvent:
    """A mode change: at ``time`` (s), from ``old`` to ``new``, because of ``reason``."""

    time: float
    old: Mode
    new: Mode
    reason: str


def is_finite_command(cmd: JointCommand) -> bool:
    """Whether every number of ``cmd`` is finite (a last check before anything is published)."""
    return all(math.isfinite(x) for arr in (cmd.positions, cmd.velocities, cmd.kp, cmd.kd) for x in arr)
