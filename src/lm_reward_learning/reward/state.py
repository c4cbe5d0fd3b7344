"""The backend-independent state a reward program sees.

A reward program (Eureka's contract, in Isaac Lab's term style) is Python source defining

.. code-block:: python

    def compute_reward(state) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ...
        return reward, {"track_lin_vel_xy_exp": ..., "joint_torques_l2": ...}

where ``state`` is a :class:`RewardState`, ``reward`` has shape ``(num_envs,)`` and equals the sum of
the (already weighted) components, each of shape ``(num_envs,)``. The trainer multiplies the total by
``dt`` before PPO sees it, as Isaac Lab's ``RewardManager`` does, so weights are per second.

Frames follow Isaac Lab: ``_w`` world (z up, x forward at reset), ``_b`` base body (x forward, y left,
z up). Quaternions are (w, x, y, z), MuJoCo's order (Isaac Lab 3 uses x, y, z, w; its backend
converts). Every MuJoCo and Isaac Lab backend fills the same fields with the same units.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the static checks read the fields without importing torch
    import torch


@dataclass
class RewardState:
    """Batched robot state handed to ``compute_reward``. ``N`` = num_envs, ``J`` = joints, ``F`` = feet.

    Attributes:
        base_pos_w: Base position, m. Shape ``(N, 3)``.
        base_quat_w: Base orientation quaternion (w, x, y, z). Shape ``(N, 4)``.
        base_lin_vel_w: Base linear velocity, m/s, world frame. Shape ``(N, 3)``.
        base_ang_vel_w: Base angular velocity, rad/s, world frame. Shape ``(N, 3)``.
        base_lin_vel_b: Base linear velocity, m/s, base frame. Shape ``(N, 3)``.
        base_ang_vel_b: Base angular velocity, rad/s, base frame. Shape ``(N, 3)``.
        projected_gravity_b: Unit gravity direction in the base frame (``(0, 0, -1)`` upright).
            Shape ``(N, 3)``.
        base_height: Base height above the floor, m. Shape ``(N,)``.
        joint_pos: Joint angles, rad, policy joint order. Shape ``(N, J)``.
        joint_vel: Joint velocities, rad/s. Shape ``(N, J)``.
        default_joint_pos: Nominal standing pose, rad. Shape ``(N, J)``.
        joint_torques: Actuator torques applied, N·m. Shape ``(N, J)``.
        actions: Policy actions this step (unitless; target = default + scale * action). Shape ``(N, J)``.
        last_actions: Policy actions of the previous step. Shape ``(N, J)``.
        foot_pos_w: Foot contact-point positions, m. Shape ``(N, F, 3)``.
        foot_vel_w: Foot contact-point velocities, m/s. Shape ``(N, F, 3)``.
        foot_contact: Whether each foot touches the floor. Shape ``(N, F)``, bool.
        foot_contact_force: Normal contact force on each foot, N. Shape ``(N, F)``.
        feet_air_time_s: Time since each foot last left the floor (0 while in contact), s.
            Shape ``(N, F)``.
        feet_contact_time_s: Time since each foot last touched down (0 while in the air), s.
            Shape ``(N, F)``.
        last_air_time_s: Duration of the swing that ended at the last touchdown, s. Shape ``(N, F)``.
        first_contact: True on the step a foot touches down. Shape ``(N, F)``, bool.
        commands: Velocity command ``(v_x, v_y, yaw_rate)`` in the base frame, m/s and rad/s.
            Shape ``(N, 3)``.
        time_s: Time since the episode started, s. Shape ``(N,)``.
        gait_phase: ``(time_s * gait_frequency_hz) mod 1`` for the env's nominal gait frequency.
            Shape ``(N,)``, in ``[0, 1)``.
        dt: Control period, s (policy step; 0.02 at 50 Hz).
    """

    base_pos_w: torch.Tensor
    base_quat_w: torch.Tensor
    base_lin_vel_w: torch.Tensor
    base_ang_vel_w: torch.Tensor
    base_lin_vel_b: torch.Tensor
    base_ang_vel_b: torch.Tensor
    projected_gravity_b: torch.Tensor
    base_height: torch.Tensor
    joint_pos: torch.Tensor
    joint_vel: torch.Tensor
    default_joint_pos: torch.Tensor
    joint_torques: torch.Tensor
    actions: torch.Tensor
    last_actions: torch.Tensor
    foot_pos_w: torch.Tensor
    foot_vel_w: torch.Tensor
    foot_contact: torch.Tensor
    foot_contact_force: torch.Tensor
    feet_air_time_s: torch.Tensor
    feet_contact_time_s: torch.Tensor
    last_air_time_s: torch.Tensor
    first_contact: torch.Tensor
    commands: torch.Tensor
    time_s: torch.Tensor
    gait_phase: torch.Tensor
    dt: float

    @property
    def num_envs(self) -> int:
        """Number of environments ``N`` in the batch."""
        return int(self.base_pos_w.shape[0])

    def to_dict(self) -> dict[str, torch.Tensor | float]:
        """Return the fields as a plain dict (for ``torch.save`` of recorded batches)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, torch.Tensor | float]) -> RewardState:
        """Rebuild a state from :meth:`to_dict` output.

        Raises:
            KeyError: if a field is missing.
        """
        return cls(**{f.name: d[f.name] for f in fields(cls)})


def field_table() -> str:
    """Return the documented fields as text (name: description), for LLM prompts.

    The text is taken from the :class:`RewardState` docstring, so prompt and code cannot drift apart.
    """
    doc = RewardState.__doc__ or ""
    _, _, attrs = doc.partition("Attributes:")
    return "\n".join(line[4:] if line.startswith("    ") else line for line in attrs.strip("\n").splitlines())
