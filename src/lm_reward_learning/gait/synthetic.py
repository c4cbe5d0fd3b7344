"""Synthetic gaits with known timing, for tests, examples and checks of the feature code.

Foot ``i`` is in contact while its stride phase ``p_i(t) = (f t - φ_i) mod 1`` is below its duty
factor ``β_i``; it touches down at ``t = (k + φ_i) / f``. During stance a foot stays where it landed,
during swing it moves forward along a half-sine arc, so foot positions are consistent with the
contacts. The base moves forward at constant speed with optional sinusoidal height, pitch and roll
oscillations at the stride frequency.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lm_reward_learning.gait.trajectory import GaitInputError, GaitTrajectory, default_foot_names
from lm_reward_learning.rotations import quat_from_roll_pitch_yaw

#: Footfall phases (FL, FR, RL, RR or left, right) of textbook gaits, stride fractions.
TEXTBOOK_PHASES: dict[str, tuple[float, ...]] = {
    "trot": (0.0, 0.5, 0.5, 0.0),
    "pace": (0.0, 0.5, 0.0, 0.5),
    "bound": (0.0, 0.0, 0.5, 0.5),
    "pronk": (0.0, 0.0, 0.0, 0.0),
    "walk": (0.0, 0.5, 0.75, 0.25),  # lateral-sequence walk: RL, FL, RR, FR a quarter stride apart
    "rotary_gallop": (0.0, 0.15, 0.65, 0.5),
    "biped_walk": (0.0, 0.5),
}


def synthetic_gait(
    phase_offsets: Sequence[float],
    duty_factor: float | Sequence[float],
    stride_frequency_hz: float,
    *,
    dt: float = 0.01,
    duration_s: float = 4.0,
    speed_mps: float = 1.0,
    leg_length: float = 0.3,
    body_length: float | None = 0.4,
    base_height: float = 0.3,
    height_amplitude: float = 0.0,
    pitch_amplitude: float = 0.0,
    roll_amplitude: float = 0.0,
    step_height: float = 0.05,
    contact_flip_prob: float = 0.0,
    seed: int = 0,
    name: str = "synthetic",
) -> GaitTrajectory:
    """A straight-line rollout with exactly known gait timing.

    Args:
        phase_offsets: Touchdown lag of each foot after the first, stride fractions. 4 values (FL, FR,
            RL, RR) or 2 (left, right).
        duty_factor: Stance fraction, one for all feet or one per foot.
        stride_frequency_hz: Strides per second, Hz.
        dt: Sample period, s. Choose ``1 / (f dt)`` integer for touchdowns exactly on samples.
        duration_s: Record length, s.
        speed_mps: Forward (world +x) base speed, m/s.
        leg_length: Hip height, m.
        body_length: Shoulder-to-hip distance, m.
        base_height: Mean base height, m.
        height_amplitude: Amplitude of the base-height sine, m (its standard deviation over whole
            cycles is ``amplitude / sqrt(2)``).
        pitch_amplitude: Amplitude of the base-pitch sine, rad.
        roll_amplitude: Amplitude of the base-roll sine, rad.
        step_height: Peak foot height during swing, m.
        contact_flip_prob: Probability that a contact sample is flipped (sensor noise).
        seed: Seed of the noise generator.
        name: Label of the trajectory.

    Returns:
        A :class:`GaitTrajectory` with ``round(duration_s / dt)`` samples, no joint data.
    """
    phases = np.asarray(phase_offsets, dtype=float)
    num_feet = phases.size
    names = default_foot_names(num_feet)
    duty = np.broadcast_to(np.asarray(duty_factor, dtype=float), (num_feet,))
    if not ((duty > 0).all() and (duty < 1).all()):
        raise GaitInputError(f"duty factors must lie in (0, 1); got {duty.tolist()}")
    t = np.arange(round(duration_s / dt)) * dt
    cycles = t * stride_frequency_hz
    # stride phase of each foot; rounded so that touchdowns meant to fall on a sample do so exactly
    p = np.round(np.mod(cycles[:, None] - phases[None, :], 1.0), 9) % 1.0  # (T, F)
    contact = p < duty[None, :]
    if contact_flip_prob > 0:
        flips = np.random.default_rng(seed).random(contact.shape) < contact_flip_prob
        contact = contact ^ flips

    stride_length = speed_mps / stride_frequency_hz
    base_x = speed_mps * t
    if num_feet == 4:
        half = 0.5 * (body_length or 0.4)
        hips = np.array([[half, 0.1], [half, -0.1], [-half, 0.1], [-half, -0.1]])
    else:
        hips = np.array([[0.0, 0.1], [0.0, -0.1]])
    # stance: foot fixed in the world; swing: from -β/2 to +β/2 stride lengths ahead of the hip
    swing = np.clip((p - duty) / (1.0 - duty), 0.0, 1.0)
    rel = np.where(contact, duty / 2.0 - p, -duty / 2.0 + swing * duty) * stride_length
    foot_pos = np.zeros((t.size, num_feet, 3))
    foot_pos[..., 0] = base_x[:, None] + hips[None, :, 0] + rel
    foot_pos[..., 1] = hips[None, :, 1]
    foot_pos[..., 2] = np.where(contact, 0.0, step_height * np.sin(np.pi * swing))

    omega = 2.0 * np.pi * stride_frequency_hz
    base_pos = np.stack([base_x, np.zeros_like(t), base_height + height_amplitude * np.sin(omega * t)], axis=-1)
    base_vel = np.stack(
        [np.full_like(t, speed_mps), np.zeros_like(t), height_amplitude * omega * np.cos(omega * t)], axis=-1
    )
    quat = quat_from_roll_pitch_yaw(
        roll_amplitude * np.sin(omega * t), pitch_amplitude * np.sin(omega * t), np.zeros_like(t)
    )
    return GaitTrajectory(
        dt=dt,
        base_pos_w=base_pos,
        base_quat_w=quat,
        base_lin_vel_w=base_vel,
        foot_pos_w=foot_pos,
        foot_contact=contact,
        foot_names=names,
        leg_length=leg_length,
        body_length=body_length,
        name=name,
    )
