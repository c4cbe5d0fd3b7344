"""Controller modes and the transitions an operator may ask for, without ROS.

The modes follow the finite-state machines of legged-robot deployment stacks (rl_sar's
passive / get-up / RL / get-down states, unitree_rl_lab's ``Passive``, ``FixStand`` and policy
states): the robot starts limp, is stood up to the policy's default pose by a ramp, runs the
policy, is sat down by a ramp, and ends limp again.

==============  ===========================================================================
mode            command
==============  ===========================================================================
``idle``        nothing (the lifecycle node is unconfigured or inactive)
``passive``     damping: ``kp = 0``, ``kd = damping_kd``; the joints only resist motion
``stand_up``    a ramp (smoothstep) from the present pose to the default pose over
                ``stand_up_s``, then the default pose held, with the policy's kp/kd
``policy``      the policy's targets (``default + action_scale * clip(action)``)
``sit_down``    a ramp to the robot's sitting pose over ``sit_down_s``; then ``passive``
``hold``        the last target held (a non-finite input); the previous mode resumes when the
                inputs are finite again, ``damping`` after ``hold_timeout_s``
``damping``     as ``passive``, but latched by a fault or the e-stop: only an operator's
                request for ``passive`` (after the e-stop is released) leaves it
==============  ===========================================================================

:data:`ALLOWED` lists the operator's transitions (:data:`REQUESTABLE` are the modes one can ask
for); ``passive`` may be asked for from every active mode, ``damping`` is entered by faults only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from lm_reward_learning.errors import LmrlError


class Mode(str, Enum):
    """Mode of the controller (see the module docstring)."""

    IDLE = "idle"
    PASSIVE = "passive"
    STAND_UP = "stand_up"
    POLICY = "policy"
    SIT_DOWN = "sit_down"
    HOLD = "hold"
    DAMPING = "damping"


REQUESTABLE = (Mode.PASSIVE, Mode.STAND_UP, Mode.POLICY, Mode.SIT_DOWN)
"""The modes an operator can ask for (service, joystick); the others are entered by the controller."""

ALLOWED: dict[Mode, frozenset[Mode]] = {
    Mode.IDLE: frozenset(),
    Mode.PASSIVE: frozenset({Mode.PASSIVE, Mode.STAND_UP}),
    Mode.STAND_UP: frozenset({Mode.PASSIVE, Mode.POLICY, Mode.SIT_DOWN}),
    Mode.POLICY: frozenset({Mode.PASSIVE, Mode.STAND_UP, Mode.SIT_DOWN}),
    Mode.SIT_DOWN: frozenset({Mode.PASSIVE, Mode.STAND_UP}),
    Mode.HOLD: frozenset({Mode.PASSIVE}),
    Mode.DAMPING: frozenset({Mode.PASSIVE}),
}
"""Operator transitions: ``ALLOWED[from]`` holds the modes that may be asked for in ``from``.

``policy`` only follows a completed stand-up (the robot at its default pose, where the policy was
trained to start); ``sit_down`` only from a standing or walking robot; leaving ``damping`` takes
``passive`` (the operator acknowledges the fault). Each transition has further preconditions
(fresh inputs, heartbeat, e-stop released), checked by
:meth:`~lm_reward_learning.deploy.safety.SafetySupervisor.request`.
"""

ENERGIZED = frozenset({Mode.STAND_UP, Mode.POLICY, Mode.SIT_DOWN, Mode.HOLD})
"""Modes with stiffness (kp > 0): the watchdogs (sensors, heartbeat) and tilt limits apply in them."""


class TransitionRefusedError(LmrlError):
    """An operator's mode request was refused (not allowed from the present mode, or a precondition failed)."""


SIT_POSES: dict[str, dict[str, float]] = {
    # Unitree Go2: the lying pose of unitree_sdk2's go2_stand_example (its first target,
    # _targetPos_1, FR/FL/RR/RL order: hips 0, 0, -0.2, 0.2; thighs 1.36; calves -2.65), rad.
    "go2": {
        **{f"{leg}_thigh_joint": 1.36 for leg in ("FL", "FR", "RL", "RR")},
        **{f"{leg}_calf_joint": -2.65 for leg in ("FL", "FR", "RL", "RR")},
        "FL_hip_joint": 0.0,
        "FR_hip_joint": 0.0,
        "RL_hip_joint": 0.2,
        "RR_hip_joint": -0.2,
    },
}
"""Sitting (lying) pose per robot, rad by joint name; a robot without one sits down to its default
pose (a humanoid cannot sit on its own: lower it on its gantry, then ``passive``)."""


def sit_pose(robot: str, joint_names: tuple[str, ...], default: np.ndarray) -> np.ndarray:
    """The sitting pose of ``robot`` in ``joint_names`` order (the default pose where none is known).

    Args:
        robot: Registered robot name (``DeployFacts.robot``).
        joint_names: The policy's joints.
        default: The policy's default pose, rad. Shape: (J,).

    Returns:
        Joint positions, rad. Shape: (J,).
    """
    table = SIT_POSES.get(robot, {})
    return np.array([table.get(n, float(d)) for n, d in zip(joint_names, default, strict=True)])


def smoothstep(a: float) -> float:
    """3a² − 2a³ on [0, 1]: zero slope at both ends, so a ramp starts and ends without a jerk."""
    a = min(max(a, 0.0), 1.0)
    return a * a * (3.0 - 2.0 * a)


@dataclass(frozen=True)
class Ramp:
    """Joint targets moving from ``start`` to ``goal`` over ``duration`` s from ``t0`` (smoothstep).

    Attributes:
        start: Targets at ``t0``, rad. Shape: (J,).
        goal: Targets from ``t0 + duration`` on, rad. Shape: (J,).
        t0: Start time, s (monotonic).
        duration: Length, s; 0: the goal at once.
    """

    start: np.ndarray
    goal: np.ndarray
    t0: float
    duration: float

    def at(self, now: float) -> np.ndarray:
        """The targets at ``now``, rad. Shape: (J,)."""
        alpha = 1.0 if self.duration <= 0 else (now - self.t0) / self.duration
        return self.start + (self.goal - self.start) * smoothstep(alpha)

    def remaining(self, now: float) -> float:
        """Seconds until the goal is reached (0 once it is)."""
        return max(0.0, self.t0 + self.duration - now)
