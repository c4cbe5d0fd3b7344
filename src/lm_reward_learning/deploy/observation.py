"""The actor observation from what a robot measures, exactly as in training.

:class:`~lm_reward_learning.envs.mujoco_env.MujocoVecEnv` builds the actor's observation (group
``policy``) as Isaac Lab's velocity task does; ``deploy.yaml`` lists its terms with offsets and scales.
:class:`ObservationBuilder` rebuilds it from a robot's own measurements:

==================  ====  ==============================================================  ===============
term                size  source on the robot                                             unit (before scale)
==================  ====  ==============================================================  ===============
base_ang_vel        3     ``sensor_msgs/Imu.angular_velocity`` (base frame, REP 145)      rad/s
projected_gravity   3     ``R^T (0, 0, -1)`` from ``Imu.orientation`` (base in world)     unit vector, base
velocity_commands   3     ``geometry_msgs/Twist`` on ``cmd_vel``: linear.x, .y, angular.z  m/s, m/s, rad/s
joint_pos_rel       J     ``JointState.position`` (by name) minus ``default_joint_pos``   rad
joint_vel_rel       J     ``JointState.velocity`` (by name)                               rad/s
last_action         J     the previous policy action after clipping to ``action_clip``    action units
gait_clock          2     ``sin 2πφ, cos 2πφ``, ``φ = (t · gait_clock_hz) mod 1``, ``t``   --
                          the time since the policy started (the training env's episode
                          clock; unitree_rl_gym G1's phase observation)
==================  ====  ==============================================================  ===============

Joint states arrive in the driver's order with names; :class:`JointMap` puts them in the policy's
order by name (never by index).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lm_reward_learning.deploy.policy import DeployFacts, PolicyMismatchError

SUPPORTED_TERMS = (
    "base_ang_vel",
    "projected_gravity",
    "velocity_commands",
    "joint_pos_rel",
    "joint_vel_rel",
    "last_action",
    "gait_clock",
)
"""Observation terms a robot can measure (privileged training terms such as ``base_lin_vel`` are not)."""


def quat_xyzw_normalized(q: Sequence[float]) -> np.ndarray:
    """The unit quaternion of ``q`` (x, y, z, w); non-finite or zero input gives NaNs. Shape: (4,)."""
    q = np.asarray(q, dtype=np.float64)
    n = math.sqrt(float(q @ q)) if np.all(np.isfinite(q)) else 0.0
    return q / n if n > 1e-9 else np.full(4, np.nan)


def projected_gravity(q_xyzw: Sequence[float]) -> np.ndarray:
    """Gravity direction in the base frame, ``R^T (0, 0, -1)``.

    Args:
        q_xyzw: Orientation of the base in the world (``sensor_msgs/Imu.orientation``), x, y, z, w;
            normalised here. Shape: (4,).

    Returns:
        Unit vector, base frame; ``(0, 0, -1)`` when level. Shape: (3,).
    """
    x, y, z, w = quat_xyzw_normalized(q_xyzw)
    # -(third row of R): R^T e_z is R's third row.
    return np.array([-2.0 * (x * z - w * y), -2.0 * (y * z + w * x), -(1.0 - 2.0 * (x * x + y * y))])


def roll_pitch(q_xyzw: Sequence[float]) -> tuple[float, float]:
    """Roll and pitch of the base (ZYX Euler angles: yaw, then pitch, then roll), rad.

    Args:
        q_xyzw: Orientation of the base in the world, x, y, z, w. Shape: (4,).

    Returns:
        ``(roll, pitch)``: roll in (-pi, pi], pitch in [-pi/2, pi/2]; NaNs for a non-finite quaternion.
    """
    x, y, z, w = quat_xyzw_normalized(q_xyzw)
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    sin_p = 2.0 * (w * y - z * x)
    pitch = math.asin(max(-1.0, min(1.0, sin_p))) if math.isfinite(sin_p) else math.nan
    return roll, pitch


def _brief(names: Sequence[str], limit: int = 6) -> str:
    """``names`` as a list for a message, the first ``limit`` of a longer one and how many more."""
    names = list(names)
    if len(names) <= limit:
        return str(names)
    return f"{str(names[:limit])[:-1]}, ... and {len(names) - limit} more]"


class JointMap:
    """Index map from a driver's joint order (a ``JointState.name`` list) to the policy's order.

    Args:
        policy_names: The policy's joints in order. Length J.
        msg_names: The driver's joint names in its order. Extra joints are allowed and ignored.
        robot: The robot the policy was trained for, for the message (``go2``).

    Raises:
        PolicyMismatchError: if a policy joint is missing from ``msg_names`` or a name repeats; the
            message names the missing joints and the driver's joints the policy does not use (each
            name once, long lists shortened), or says that none match (a policy for another robot).

    Attributes:
        index: ``msg_values[index]`` is in policy order. Shape: (J,).
        extra: Driver joints the policy does not use.
    """

    def __init__(self, policy_names: Sequence[str], msg_names: Sequence[str], robot: str = "") -> None:
        msg_names = list(msg_names)
        dup = sorted({n for n in msg_names if msg_names.count(n) > 1})
        if dup:
            raise PolicyMismatchError(f"joint_states names joints {_brief(dup)} more than once")
        where = {n: i for i, n in enumerate(msg_names)}
        missing = [n for n in policy_names if n not in where]
        self.extra = [n for n in msg_names if n not in set(policy_names)]
        if len(missing) == len(policy_names):
            raise PolicyMismatchError(
                f"joint name mismatch: none of the {len(policy_names)} joints of the policy"
                f"{f' for {robot}' if robot else ''} ({_brief(missing)}) is in joint_states, which has "
                f"{len(msg_names)} other joints ({_brief(msg_names)}): deploy a policy for this robot."
            )
        if missing:
            raise PolicyMismatchError(
                f"joint name mismatch: the policy's joints {_brief(missing)} are not in joint_states (its "
                f"joints that the policy does not use: {_brief(self.extra)}). Remap the driver's joint names "
                "or deploy a policy for this robot."
            )
        self.index = np.array([where[n] for n in policy_names], dtype=np.int64)
        self.size = len(msg_names)

    def gather(self, values: Sequence[float]) -> np.ndarray:
        """``values`` (driver order, length of ``msg_names``) in policy order; NaNs where values are absent.

        A message whose array is shorter than its name list (``JointState.velocity`` may be empty)
        yields NaNs for the absent entries, which the safety layer treats as non-finite input.

        Returns:
            Shape: (J,), float64.
        """
        v = np.asarray(values, dtype=np.float64)
        if v.shape[0] >= self.size:
            return v[self.index]
        out = np.full(self.index.shape[0], np.nan)
        ok = self.index < v.shape[0]
        out[ok] = v[self.index[ok]]
        return out


class ObservationBuilder:
    """Builds the actor observation of a policy from joint states, the IMU, the command and the last action.

    Args:
        facts: The policy's deployment facts (term order, offsets, scales, default pose).

    Raises:
        PolicyMismatchError: if the policy observes a term a robot cannot measure (the message lists
            the supported terms) or a term's size is not what the robot provides.
    """

    def __init__(self, facts: DeployFacts) -> None:
        self.facts = facts
        j = facts.num_joints
        sizes = {
            "base_ang_vel": 3,
            "projected_gravity": 3,
            "velocity_commands": 3,
            "joint_pos_rel": j,
            "joint_vel_rel": j,
            "last_action": j,
            "gait_clock": 2,
        }
        for t in facts.obs_terms:
            if t.name not in sizes:
                raise PolicyMismatchError(
                    f"the policy observes {t.name!r}, which a robot does not measure; supported terms: "
                    f"{list(SUPPORTED_TERMS)}"
                )
            if t.size != sizes[t.name]:
                raise PolicyMismatchError(
                    f"observation term {t.name!r} has size {t.size} in {facts.source}, the robot gives {sizes[t.name]}"
                )
        self._slices = {t.name: slice(t.offset, t.offset + t.size) for t in facts.obs_terms}
        self._scale = np.concatenate([np.asarray(t.scale, dtype=np.float64) for t in facts.obs_terms])
        self._default = np.asarray(facts.default_joint_pos, dtype=np.float64)
        self._raw = np.zeros(facts.obs_size, dtype=np.float64)
        self._obs = np.zeros(facts.obs_size, dtype=np.float32)

        # Each term's place in the raw buffer; a term the policy does not observe gets a scratch array
        # of its size instead, so build() writes every term the same way, without branches or loops.
        def view(name: str) -> np.ndarray:
            sl = self._slices.get(name)
            return self._raw[sl] if sl is not None else np.zeros(sizes[name])

        self._ang_vel = view("base_ang_vel")
        self._gravity = view("projected_gravity")
        self._command = view("velocity_commands")
        self._joint_pos = view("joint_pos_rel")
        self._joint_vel = view("joint_vel_rel")
        self._last_action = view("last_action")
        self._clock = view("gait_clock")

    def build(
        self,
        joint_pos: np.ndarray,
        joint_vel: np.ndarray,
        ang_vel_b: np.ndarray,
        quat_xyzw: np.ndarray,
        command: np.ndarray,
        last_action: np.ndarray,
        gait_phase: float = 0.0,
    ) -> np.ndarray:
        """The observation vector.

        Each term is written into a preallocated buffer at its offset (no per-call arrays but the
        projected gravity's three numbers), then scaled into the preallocated float32 output.

        Args:
            joint_pos: Joint positions in policy order, rad. Shape: (J,).
            joint_vel: Joint velocities in policy order, rad/s. Shape: (J,).
            ang_vel_b: Base angular velocity, base frame, rad/s (IMU). Shape: (3,).
            quat_xyzw: Base orientation in the world, x, y, z, w (IMU). Shape: (4,).
            command: ``(v_x m/s, v_y m/s, yaw_rate rad/s)``, base frame. Shape: (3,).
            last_action: The previous action after clipping, as applied. Shape: (J,).
            gait_phase: The gait phase ``φ`` in [0, 1) for a ``gait_clock`` term (ignored without one).

        Returns:
            Shape: (D,), float32: the builder's output buffer, overwritten by the next call (copy it to
            keep it). Non-finite inputs give non-finite entries (checked by the caller).
        """
        self._ang_vel[:] = ang_vel_b
        self._gravity[:] = projected_gravity(quat_xyzw)
        self._command[:] = command
        np.subtract(joint_pos, self._default, out=self._joint_pos)
        self._joint_vel[:] = joint_vel
        self._last_action[:] = last_action
        self._clock[0] = math.sin(2.0 * math.pi * gait_phase)
        self._clock[1] = math.cos(2.0 * math.pi * gait_phase)
        np.multiply(self._raw, self._scale, out=self._obs, casting="same_kind")
        return self._obs
