"""One rollout of one legged robot (or one motion-capture clip), as plain numpy arrays.

:class:`GaitTrajectory` is the input of :func:`lm_reward_learning.gait.compute_features`. It is
ROS-free and backend-free: the MuJoCo and Isaac Lab backends, a recorded bag or a motion-capture
loader (:mod:`lm_reward_learning.gait.reference`) all fill the same fields with the same units.

Frames follow :mod:`lm_reward_learning.reward.state`: ``_w`` is the world frame, z up, floor at
``z = 0``; quaternions are ``(w, x, y, z)`` and rotate base-frame vectors (x forward, y left, z up)
into the world frame.

Foot order: quadrupeds ``("FL", "FR", "RL", "RR")`` (front left, front right, rear left, rear
right); bipeds ``("left", "right")``. The first foot is the reference foot of phase offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lm_reward_learning.errors import LmrlError

QUADRUPED_FEET: tuple[str, ...] = ("FL", "FR", "RL", "RR")
BIPED_FEET: tuple[str, ...] = ("left", "right")

#: Fewest samples a trajectory may hold; stride analysis needs far more (see TrajectoryTooShortError).
MIN_SAMPLES = 8


class GaitInputError(LmrlError, ValueError):
    """A trajectory, contact array or feature record is malformed (shape, dtype, value range)."""


class TrajectoryTooShortError(GaitInputError):
    """Too few strides were recorded to measure a gait.

    Attributes:
        got_s: Duration of the given record, s.
        needed_s: Duration to record instead, s (at least three stride periods, so that the reference
            foot touches down three times and two complete strides lie between its touchdowns).
    """

    def __init__(self, message: str, got_s: float, needed_s: float) -> None:
        super().__init__(message)
        self.got_s = float(got_s)
        self.needed_s = float(needed_s)


def default_foot_names(num_feet: int) -> tuple[str, ...]:
    """``("FL", "FR", "RL", "RR")`` for 4 feet, ``("left", "right")`` for 2.

    Raises:
        GaitInputError: For any other number of feet.
    """
    if num_feet == 4:
        return QUADRUPED_FEET
    if num_feet == 2:
        return BIPED_FEET
    raise GaitInputError(
        f"gait analysis supports quadrupeds (4 feet: FL, FR, RL, RR) and bipeds (2 feet: left, right); "
        f"got {num_feet} feet"
    )


def as_contact_array(foot_contact: np.ndarray, name: str = "foot_contact") -> np.ndarray:
    """Check and convert a contact record to a bool array of shape ``(T, F)``.

    Accepts bool arrays and numeric arrays holding only 0 and 1 (e.g. labels from a video model).

    Raises:
        GaitInputError: Wrong number of dimensions, or values other than 0/1.
    """
    c = np.asarray(foot_contact)
    if c.ndim != 2:
        raise GaitInputError(f"{name} must have shape (T, F) (time, feet); got shape {c.shape}")
    if c.dtype == bool:
        return c
    if not np.issubdtype(c.dtype, np.number) or not np.isin(c, (0, 1)).all():
        raise GaitInputError(f"{name} must be bool (or 0/1); got dtype {c.dtype}. Threshold contact forces first.")
    return c.astype(bool)


def _finite_array(value: np.ndarray | None, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """``value`` as a float array of the given shape (``None`` entries match any size)."""
    arr = np.asarray(value, dtype=float)
    ok = arr.ndim == len(shape) and all(s is None or s == n for s, n in zip(shape, arr.shape, strict=False))
    if not ok:
        want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
        raise GaitInputError(f"{name} must have shape {want}; got {arr.shape}")
    if not np.isfinite(arr).all():
        raise GaitInputError(f"{name} holds NaN or inf values (first at index {np.argwhere(~np.isfinite(arr))[0]})")
    return arr


@dataclass(frozen=True, eq=False)
class GaitTrajectory:
    """One rollout of one robot, sampled at a fixed period. ``T`` samples, ``F`` feet, ``J`` joints.

    Arrays are converted to float64 (contacts to bool) and checked on construction.

    Attributes:
        dt: Sample period, s.
        base_pos_w: Base position, m, world frame (z up, floor at z = 0). Shape ``(T, 3)``.
        base_quat_w: Base orientation ``(w, x, y, z)``, base → world. Normalised on construction.
            Shape ``(T, 4)``.
        base_lin_vel_w: Base linear velocity, m/s, world frame. Shape ``(T, 3)``.
        foot_pos_w: Foot contact-point positions, m, world frame. Shape ``(T, F, 3)``.
        foot_contact: Whether each foot touches the floor. Shape ``(T, F)``, bool.
        foot_names: Names of the feet, in the order of the ``F`` axis (quadrupeds FL, FR, RL, RR;
            bipeds left, right). The first is the reference foot of phase offsets.
        leg_length: Hip height when standing, m (the length of Alexander & Jayes' Froude number).
        body_length: Distance between shoulder and hip joints (bipeds: hip to neck), m, or ``None``.
        joint_torques: Actuator torques, N·m, or ``None``. Shape ``(T, J)``.
        joint_vel: Joint velocities, rad/s, or ``None``. Shape ``(T, J)``.
        mass_kg: Total robot mass, kg, or ``None`` (cost of transport needs it).
        name: A label for tables and logs (robot/task or reference clip name).

    Raises:
        GaitInputError: On a shape mismatch, non-finite values, a non-positive ``dt`` or length,
            an unsupported number of feet, or fewer than :data:`MIN_SAMPLES` samples.
    """

    dt: float
    base_pos_w: np.ndarray
    base_quat_w: np.ndarray
    base_lin_vel_w: np.ndarray
    foot_pos_w: np.ndarray
    foot_contact: np.ndarray
    leg_length: float
    foot_names: tuple[str, ...] | None = None
    body_length: float | None = None
    joint_torques: np.ndarray | None = None
    joint_vel: np.ndarray | None = None
    mass_kg: float | None = None
    name: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass: normalise fields once, here
        if not (np.isfinite(self.dt) and self.dt > 0):
            raise GaitInputError(f"dt must be a positive number of seconds; got {self.dt!r}")
        base_pos = _finite_array(self.base_pos_w, "base_pos_w", (None, 3))
        num_steps = base_pos.shape[0]
        if num_steps < MIN_SAMPLES:
            raise TrajectoryTooShortError(
                f"a trajectory needs at least {MIN_SAMPLES} samples; got {num_steps}",
                got_s=num_steps * self.dt,
                needed_s=MIN_SAMPLES * self.dt,
            )
        quat = _finite_array(self.base_quat_w, "base_quat_w", (num_steps, 4))
        norm = np.linalg.norm(quat, axis=-1)
        if (norm < 1e-6).any():
            raise GaitInputError(f"base_quat_w has zero-norm quaternions (first at t={np.argmax(norm < 1e-6)})")
        vel = _finite_array(self.base_lin_vel_w, "base_lin_vel_w", (num_steps, 3))
        foot_pos = _finite_array(self.foot_pos_w, "foot_pos_w", (num_steps, None, 3))
        num_feet = foot_pos.shape[1]
        contact = as_contact_array(self.foot_contact)
        if contact.shape != (num_steps, num_feet):
            raise GaitInputError(
                f"foot_contact must have shape (T, F) = ({num_steps}, {num_feet}) like foot_pos_w; got {contact.shape}"
            )
        names = default_foot_names(num_feet) if self.foot_names is None else tuple(self.foot_names)
        if len(names) != num_feet:
            raise GaitInputError(f"foot_names has {len(names)} names for {num_feet} feet: {names}")
        default_foot_names(num_feet)  # rejects unsupported foot counts
        if not (np.isfinite(self.leg_length) and self.leg_length > 0):
            raise GaitInputError(f"leg_length must be a positive length in m; got {self.leg_length!r}")
        if self.body_length is not None and not (np.isfinite(self.body_length) and self.body_length > 0):
            raise GaitInputError(f"body_length must be a positive length in m or None; got {self.body_length!r}")
        if self.mass_kg is not None and not (np.isfinite(self.mass_kg) and self.mass_kg > 0):
            raise GaitInputError(f"mass_kg must be a positive mass in kg or None; got {self.mass_kg!r}")
        torques = vel_j = None
        if (self.joint_torques is None) != (self.joint_vel is None):
            raise GaitInputError("give both joint_torques and joint_vel (cost of transport needs both) or neither")
        if self.joint_torques is not None:
            torques = _finite_array(self.joint_torques, "joint_torques", (num_steps, None))
            vel_j = _finite_array(self.joint_vel, "joint_vel", (num_steps, torques.shape[1]))
        set_(self, "dt", float(self.dt))
        set_(self, "base_pos_w", base_pos)
        set_(self, "base_quat_w", quat / norm[:, None])
        set_(self, "base_lin_vel_w", vel)
        set_(self, "foot_pos_w", foot_pos)
        set_(self, "foot_contact", contact)
        set_(self, "foot_names", names)
        set_(self, "leg_length", float(self.leg_length))
        set_(self, "joint_torques", torques)
        set_(self, "joint_vel", vel_j)

    @property
    def num_steps(self) -> int:
        """Number of samples ``T``."""
        return int(self.base_pos_w.shape[0])

    @property
    def num_feet(self) -> int:
        """Number of feet ``F``."""
        return int(self.foot_contact.shape[1])

    @property
    def duration_s(self) -> float:
        """Time spanned by the samples, ``T * dt``, s."""
        return self.num_steps * self.dt
