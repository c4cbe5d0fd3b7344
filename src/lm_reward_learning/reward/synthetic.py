"""Synthetic reward-state batches: physically plausible random states for tests and dry runs.

Used before any simulator data exists. Values are random but consistent with each other: a unit
quaternion close to upright with random yaw, projected gravity and base-frame velocities derived from
it, feet touching the floor exactly when ``foot_contact`` is set, air/contact timers that are zero in
the other phase.
"""

from __future__ import annotations

import torch

from lm_reward_learning.reward.state import RewardState
from lm_reward_learning.rotations import quat_mul, quat_rotate_inverse


def synthetic_state(
    num_envs: int,
    num_joints: int,
    num_feet: int,
    *,
    seed: int = 0,
    dt: float = 0.02,
    base_height: float = 0.35,
    gait_frequency_hz: float = 2.0,
) -> RewardState:
    """Return a random but plausible :class:`RewardState`, the same for the same arguments.

    Args:
        num_envs: Batch size ``N``.
        num_joints: Joints ``J`` (12 for Go2).
        num_feet: Feet ``F`` (4 for quadrupeds, 2 for humanoids).
        seed: Seed of the private generator (the global torch RNG is not touched).
        dt: Control period, s.
        base_height: Mean base height, m (standing height of the robot); heights vary by ±15 %.
        gait_frequency_hz: Frequency used to derive ``gait_phase`` from ``time_s``.

    Returns:
        A float32 state on the CPU. Tilt is at most ~0.3 rad, speeds are a few m/s and rad/s at most,
        torques tens of N·m, actions about unit scale.

    Raises:
        ValueError: if a size is not positive.
    """
    if min(num_envs, num_joints, num_feet) <= 0:
        raise ValueError(f"sizes must be positive, got N={num_envs}, J={num_joints}, F={num_feet}")
    g = torch.Generator().manual_seed(seed)
    n, j, f = num_envs, num_joints, num_feet

    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=g)

    def normal(std: float, *shape: int) -> torch.Tensor:
        return std * torch.randn(*shape, generator=g)

    # Orientation: yaw anywhere, small roll/pitch (axis-angle about a horizontal axis, |angle| < 0.3).
    yaw = uniform(-torch.pi, torch.pi, n)
    tilt_axis = uniform(-torch.pi, torch.pi, n)
    tilt = uniform(0.0, 0.3, n)
    q_yaw = torch.stack([torch.cos(yaw / 2), 0 * yaw, 0 * yaw, torch.sin(yaw / 2)], dim=-1)
    q_tilt = torch.stack(
        [
            torch.cos(tilt / 2),
            torch.cos(tilt_axis) * torch.sin(tilt / 2),
            torch.sin(tilt_axis) * torch.sin(tilt / 2),
            0 * tilt,
        ],
        dim=-1,
    )
    quat = torch.from_numpy(quat_mul(q_yaw.numpy(), q_tilt.numpy())).to(q_yaw.dtype)
    quat = quat / quat.norm(dim=-1, keepdim=True)

    base_pos = torch.cat([uniform(-5.0, 5.0, n, 2), base_height * uniform(0.85, 1.15, n, 1)], dim=-1)
    lin_vel_w = torch.cat([normal(0.6, n, 2), normal(0.1, n, 1)], dim=-1)
    ang_vel_w = torch.cat([normal(0.3, n, 2), normal(0.6, n, 1)], dim=-1)
    gravity_w = torch.tensor([0.0, 0.0, -1.0]).expand(n, 3)

    default_pos = uniform(-0.8, 0.8, j).expand(n, j).clone()
    actions = normal(0.8, n, j)

    contact = torch.rand(n, f, generator=g) < 0.5
    foot_xy = base_pos[:, None, :2] + normal(0.2, n, f, 2)
    foot_z = torch.where(contact, torch.zeros(n, f), uniform(0.0, 0.12, n, f))
    foot_vel = torch.where(contact[..., None], normal(0.02, n, f, 3), normal(0.8, n, f, 3))
    first_contact = contact & (torch.rand(n, f, generator=g) < 0.15)
    contact_time = torch.where(contact, uniform(0.0, 0.5, n, f), torch.zeros(n, f))
    contact_time = torch.where(first_contact, torch.full((n, f), dt), contact_time)
    time_s = uniform(0.0, 20.0, n)

    return RewardState(
        base_pos_w=base_pos,
        base_quat_w=quat,
        base_lin_vel_w=lin_vel_w,
        base_ang_vel_w=ang_vel_w,
        base_lin_vel_b=_to_body(quat, lin_vel_w),
        base_ang_vel_b=_to_body(quat, ang_vel_w),
        projected_gravity_b=_to_body(quat, gravity_w),
        base_height=base_pos[:, 2].clone(),
        joint_pos=default_pos + normal(0.2, n, j),
        joint_vel=normal(2.0, n, j),
        default_joint_pos=default_pos,
        joint_torques=normal(8.0, n, j),
        actions=actions,
        last_actions=actions + normal(0.1, n, j),
        foot_pos_w=torch.cat([foot_xy, foot_z[..., None]], dim=-1),
        foot_vel_w=foot_vel,
        foot_contact=contact,
        foot_contact_force=torch.where(contact, uniform(10.0, 150.0, n, f), torch.zeros(n, f)),
        feet_air_time_s=torch.where(contact, torch.zeros(n, f), uniform(0.0, 0.5, n, f)),
        feet_contact_time_s=contact_time,
        last_air_time_s=uniform(0.0, 0.6, n, f),
        first_contact=first_contact,
        commands=torch.stack([uniform(-1.0, 1.0, n), uniform(-0.5, 0.5, n), uniform(-1.0, 1.0, n)], -1),
        time_s=time_s,
        gait_phase=torch.remainder(time_s * gait_frequency_hz, 1.0),
        dt=float(dt),
    )


def _to_body(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """World vectors ``v`` (N, 3) in the frame of unit quaternions ``q`` (N, 4), as float tensors."""
    return torch.from_numpy(quat_rotate_inverse(q.numpy(), v.numpy())).to(v.dtype)
