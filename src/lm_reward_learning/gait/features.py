"""Gait features of a rollout or a motion clip: one record with units and sources.

:func:`compute_features` measures everything from a :class:`GaitTrajectory` (simulator state or
motion capture); :func:`features_from_contacts` measures what a contact record alone allows (the
video path) and leaves the rest ``None``. A field that cannot be measured is ``None``, never a guess.

Sources for the definitions:

* Duty factor, phase offsets and gait classes: Hildebrand 1965/1977 (see
  :mod:`lm_reward_learning.gait.contacts` and :mod:`lm_reward_learning.gait.classify`).
* Froude number ``Fr = v² / (g L)`` with ``L`` the hip height, and the dynamic similarity hypothesis
  (animals of different size move alike at equal Froude number, with equal duty factors, relative
  stride lengths and dimensionless frequencies ``f·sqrt(L/g)``): R. McN. Alexander and A. S. Jayes,
  "A dynamic similarity hypothesis for the gaits of quadrupedal mammals", J. Zoology 201:135-152
  (1983).
* Cost of transport ``CoT = Σ_t Σ_j |τ_j ω_j| dt / (m g d)`` (mechanical, dimensionless): the
  transport-cost measure of V. A. Tucker, "The energetic cost of moving about", American Scientist
  63:413-419 (1975), with actuator power as in legged-robot practice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from lm_reward_learning.gait.classify import PHASE_TOLERANCE, classify_gait
from lm_reward_learning.gait.contacts import MIN_PHASE_S, ContactTiming, analyse_contacts
from lm_reward_learning.gait.trajectory import (
    GaitInputError,
    GaitTrajectory,
    as_contact_array,
    default_foot_names,
)
from lm_reward_learning.rotations import roll_pitch_yaw

#: Standard gravity, m/s².
GRAVITY = 9.81
#: Cost of transport is left undefined when the base travels less than this many leg lengths.
MIN_TRAVEL_LEG_LENGTHS = 0.05


@dataclass(frozen=True)
class GaitFeatures:
    """Gait features of one rollout or clip. ``None`` marks a feature that could not be measured.

    Attributes:
        foot_names: Feet in the order of the per-foot tuples (FL, FR, RL, RR or left, right).
        duration_s: Length of the record, s.
        num_strides: Complete strides of the reference foot (the first foot) in the record.
        stride_frequency_hz: Strides per second, Hz: ``1 /`` median touchdown-to-touchdown interval
            over all feet.
        duty_factor: Per foot, fraction of the stride in ground contact, ``[0, 1]`` (Hildebrand).
        phase_offsets: Per foot, touchdown lag after the reference foot in stride fractions
            ``[0, 1)``; the reference foot is 0.
        flight_fraction: Fraction of time with no foot on the ground, ``[0, 1]``.
        gait: Gait class (:data:`~lm_reward_learning.gait.classify.QUADRUPED_GAITS` or
            :data:`~lm_reward_learning.gait.classify.BIPED_GAITS`), rules in
            :mod:`lm_reward_learning.gait.classify`.
        gait_detail: A finer description of the gait (sequence, lead, limb phase).
        forward_speed_mps: Speed of progression, m/s: the magnitude of the horizontal base
            velocity averaged over one stride (over the record when no stride is measured), then
            averaged over the record; negative where it points more than 90° away from the base
            heading (walking backwards). Averaging over a stride keeps the body's sway and yaw
            wobble within a stride (a dog's pelvis turns ~8° off its path) out of the speed.
        leg_length_m: Hip height when standing, m (the length in the Froude number).
        body_length_m: Shoulder-to-hip distance (bipeds: hip to neck), m.
        froude_number: ``v² / (g L)`` with ``v`` the forward speed and ``L`` the leg length
            (Alexander & Jayes 1983). Dimensionless.
        stride_length_m: Distance travelled per stride, ``v / f``, m.
        base_height_mean_m: Mean base height above the floor (world z), m.
        base_height_osc_m: Standard deviation of the base height, m.
        base_pitch_osc_rad: Standard deviation of the base pitch angle, rad.
        base_roll_osc_rad: Standard deviation of the base roll angle, rad.
        cost_of_transport: ``Σ_t Σ_j |τ_j ω_j| dt / (m g d)`` over the record, ``d`` the horizontal
            distance between first and last base position. Dimensionless. ``None`` without torques,
            joint velocities or mass, or when the base travelled less than
            :data:`MIN_TRAVEL_LEG_LENGTHS` leg lengths.
    """

    foot_names: tuple[str, ...]
    duration_s: float
    num_strides: int
    stride_frequency_hz: float | None
    duty_factor: tuple[float, ...]
    phase_offsets: tuple[float | None, ...] | None
    flight_fraction: float
    gait: str | None
    gait_detail: str | None
    forward_speed_mps: float | None = None
    leg_length_m: float | None = None
    body_length_m: float | None = None
    froude_number: float | None = None
    stride_length_m: float | None = None
    base_height_mean_m: float | None = None
    base_height_osc_m: float | None = None
    base_pitch_osc_rad: float | None = None
    base_roll_osc_rad: float | None = None
    cost_of_transport: float | None = None

    @property
    def stride_period_s(self) -> float | None:
        """Stride period ``1 / f``, s."""
        return None if self.stride_frequency_hz is None else 1.0 / self.stride_frequency_hz

    @property
    def dimensionless_speed(self) -> float | None:
        """Signed ``v / sqrt(g L)`` (the square root of the Froude number, keeping the sign of v)."""
        if self.forward_speed_mps is None or self.leg_length_m is None:
            return None
        return self.forward_speed_mps / float(np.sqrt(GRAVITY * self.leg_length_m))

    @property
    def dimensionless_stride_frequency(self) -> float | None:
        """``f · sqrt(L / g)`` (Alexander & Jayes 1983)."""
        if self.stride_frequency_hz is None or self.leg_length_m is None:
            return None
        return self.stride_frequency_hz * float(np.sqrt(self.leg_length_m / GRAVITY))

    def to_dict(self) -> dict[str, object]:
        """The fields as a JSON-friendly dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def features_from_contacts(
    foot_contact: np.ndarray,
    dt: float,
    *,
    foot_names: tuple[str, ...] | None = None,
    forward_speed_mps: float | None = None,
    leg_length_m: float | None = None,
    min_phase_s: float = MIN_PHASE_S,
    phase_tolerance: float = PHASE_TOLERANCE,
) -> GaitFeatures:
    """Gait features measurable from a foot-contact record alone (e.g. contacts seen in a video).

    Stride frequency, duty factors, phase offsets, flight fraction and gait class come from the
    contacts; the Froude number and stride length also need ``forward_speed_mps`` and
    ``leg_length_m``. Base and energy features are ``None``.

    Args:
        foot_contact: Contact record, first foot = reference foot. Shape ``(T, F)``, bool or 0/1,
            ``F`` = 4 (FL, FR, RL, RR) or 2 (left, right).
        dt: Sample period, s (for a video: the real-time seconds per frame, not the playback rate
            of a slowed-down clip).
        foot_names: Foot names; default by ``F``.
        forward_speed_mps: Mean forward speed, m/s, if known.
        leg_length_m: Hip height, m, if known.
        min_phase_s: Contact or swing phases shorter than this are noise, s.
        phase_tolerance: Tolerance of the gait-class rules, stride fractions.

    Returns:
        The :class:`GaitFeatures`.

    Raises:
        GaitInputError: Malformed contacts, ``dt``, speed or leg length.
        TrajectoryTooShortError: Fewer than two strides recorded (the message says how long to record).
    """
    contact = as_contact_array(foot_contact)
    if not (np.isfinite(dt) and dt > 0):
        raise GaitInputError(f"dt must be a positive number of seconds; got {dt!r}")
    names = default_foot_names(contact.shape[1]) if foot_names is None else tuple(foot_names)
    if len(names) != contact.shape[1]:
        raise GaitInputError(f"foot_names has {len(names)} names for {contact.shape[1]} feet: {names}")
    if forward_speed_mps is not None and not np.isfinite(forward_speed_mps):
        raise GaitInputError(f"forward_speed_mps must be a finite speed in m/s or None; got {forward_speed_mps!r}")
    if leg_length_m is not None and not (np.isfinite(leg_length_m) and leg_length_m > 0):
        raise GaitInputError(f"leg_length_m must be a positive length in m or None; got {leg_length_m!r}")
    timing = analyse_contacts(contact, dt, names, min_phase_s)
    return _assemble(timing, names, contact.shape[0] * dt, forward_speed_mps, leg_length_m, phase_tolerance)


def compute_features(
    traj: GaitTrajectory, *, min_phase_s: float = MIN_PHASE_S, phase_tolerance: float = PHASE_TOLERANCE
) -> GaitFeatures:
    """All gait features of a rollout (definitions and sources in the module and field docstrings).

    Args:
        traj: The rollout (or a clip from :func:`lm_reward_learning.gait.load_reference`).
        min_phase_s: Contact or swing phases shorter than this are noise, s.
        phase_tolerance: Tolerance of the gait-class rules, stride fractions.

    Returns:
        The :class:`GaitFeatures`.

    Raises:
        TrajectoryTooShortError: Fewer than two strides of the reference foot were recorded (the
            message says how many seconds to record).
    """
    roll, pitch, yaw = roll_pitch_yaw(traj.base_quat_w)
    timing = analyse_contacts(traj.foot_contact, traj.dt, traj.foot_names, min_phase_s)
    period = timing.stride_period_s
    window = traj.num_steps if period is None else max(1, round(period / traj.dt))
    heading = _moving_average(np.stack([np.cos(yaw), np.sin(yaw)], axis=-1), window)
    velocity = _moving_average(traj.base_lin_vel_w[:, :2], window)
    backwards = np.sum(velocity * heading, axis=-1) < 0
    speed = float(np.mean(np.where(backwards, -1.0, 1.0) * np.linalg.norm(velocity, axis=-1)))
    base = _assemble(timing, traj.foot_names, traj.duration_s, speed, traj.leg_length, phase_tolerance)
    height = traj.base_pos_w[:, 2]
    return GaitFeatures(
        **{
            **asdict(base),
            "body_length_m": traj.body_length,
            "base_height_mean_m": float(height.mean()),
            "base_height_osc_m": float(height.std()),
            "base_pitch_osc_rad": float(np.std(np.unwrap(pitch))),
            "base_roll_osc_rad": float(np.std(np.unwrap(roll))),
            "cost_of_transport": _cost_of_transport(traj),
        }
    )


def _assemble(
    timing: ContactTiming,
    names: tuple[str, ...],
    duration_s: float,
    speed: float | None,
    leg_length: float | None,
    tol: float,
) -> GaitFeatures:
    """The contact-derived features, plus Froude number and stride length where speed is known."""
    freq = None if timing.stride_period_s is None else 1.0 / timing.stride_period_s
    resolution = 0.0 if timing.stride_period_s is None else timing.dt / timing.stride_period_s
    gait, detail = classify_gait(timing.phase_offsets, timing.duty_factor, tol, resolution=resolution)
    froude = None if speed is None or leg_length is None else speed**2 / (GRAVITY * leg_length)
    stride_length = None if speed is None or freq is None else speed / freq
    return GaitFeatures(
        foot_names=names,
        duration_s=float(duration_s),
        num_strides=timing.num_strides,
        stride_frequency_hz=freq,
        duty_factor=timing.duty_factor,
        phase_offsets=timing.phase_offsets,
        flight_fraction=timing.flight_fraction,
        gait=gait,
        gait_detail=detail,
        forward_speed_mps=speed,
        leg_length_m=leg_length,
        froude_number=froude,
        stride_length_m=stride_length,
    )


def _moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` samples along axis 0 (shorter at the ends). Shape kept."""
    kernel = np.ones(min(window, x.shape[0]))
    counts = np.convolve(np.ones(x.shape[0]), kernel, mode="same")
    return np.stack([np.convolve(col, kernel, mode="same") / counts for col in x.T], axis=-1)


def _cost_of_transport(traj: GaitTrajectory) -> float | None:
    """Mechanical cost of transport over the record, or ``None`` (see :class:`GaitFeatures`).

    Energy is the rectangle rule over the ``T - 1`` sample intervals, matching the displacement
    between the first and the last sample.
    """
    if traj.joint_torques is None or traj.joint_vel is None or traj.mass_kg is None:
        return None
    distance = float(np.linalg.norm(traj.base_pos_w[-1, :2] - traj.base_pos_w[0, :2]))
    if distance < MIN_TRAVEL_LEG_LENGTHS * traj.leg_length:
        return None
    energy = float(np.abs(traj.joint_torques[:-1] * traj.joint_vel[:-1]).sum() * traj.dt)
    return energy / (traj.mass_kg * GRAVITY * distance)
