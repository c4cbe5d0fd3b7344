"""Build our :class:`~lm_reward_learning.reward.state.RewardState` from Isaac Lab's asset and sensor data.

Pure torch: no ``isaaclab``, no simulator. The Isaac Lab task (:mod:`~.task`) copies the tensors it reads
(``asset.data.<field>.torch``, the contact sensor's ``data``, the command and action managers) into an
:class:`IsaacLabFrame`; :class:`RewardStateBuilder` turns a frame into a ``RewardState`` with exactly the
names, shapes, units and frames the MuJoCo backend fills (``envs/mujoco_env.py``), so the same reward
program gives the same value on the same physical state (``tests/isaaclab/test_same_state.py``).

Conventions, Isaac Lab 3 → ours:

=========================  ===================================================  ==========================
field                      Isaac Lab 3 source                                   mapping
=========================  ===================================================  ==========================
``base_pos_w``             ``root_link_pos_w`` (sim world, all envs)             minus ``scene.env_origins``
``base_quat_w``            ``root_link_quat_w`` **(x, y, z, w)**                 reordered to (w, x, y, z)
``base_lin_vel_w``         ``root_link_lin_vel_w`` (link origin, not COM)        as is
``base_ang_vel_w``         ``root_link_ang_vel_w``                               as is
``*_b``, gravity           (``root_link_lin_vel_b``, ``projected_gravity_b``)    rotated here by the quaternion
``base_height``            ``root_link_pos_w.z``                                 minus env origin z (flat floor)
``joint_*``                ``joint_pos/vel``, ``applied_torque`` (asset order)   gathered into policy order by name
``foot_pos_w``             ``body_link_pos_w/quat_w`` of the foot bodies         ``+ R(q) @ site offset``, minus origin
``foot_vel_w``             (foot positions of the previous step)                 finite difference over ``dt``
``foot_contact_force``     contact sensor ``net_forces_w`` of the foot bodies    world z component, ≥ 0
``foot_contact``           (the force above)                                    ``> contact_force_threshold``
``feet_air_time_s`` etc.   sensor ``current_air_time/current_contact_time/``     gathered by foot body name
                           ``last_air_time``
``first_contact``          sensor ``current_contact_time``                       ``0 < t ≤ dt`` (its
                                                                                 ``compute_first_contact``)
``commands``               ``command_manager.get_command(...)`` (base frame)     as is
``actions``                ``action_manager.action`` / ``prev_action``           clipped to ``±action_clip``
``time_s``                 ``episode_length_buf * step_dt``                      as is
=========================  ===================================================  ==========================

Isaac Lab 2.x differences (this module targets 3.x): 2.x quaternions are (w, x, y, z) (pass
``quat_order="wxyz"``), data fields are torch tensors directly (no ``.torch``), and 2.x's ``root_lin_vel_w``
is the centre-of-mass velocity (use ``root_link_lin_vel_w`` there too).

Sources: Isaac Lab 3.0 ``isaaclab_newton.assets.ArticulationData`` and ``isaaclab.sensors.ContactSensorData``
docstrings (fields, frames, quaternion order); MuJoCo ``mj_name2id``-by-name mapping in
:mod:`lm_reward_learning.robots.model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.reward.state import RewardState
from lm_reward_learning.robots.spec import RobotSpec

QuatOrder = Literal["xyzw", "wxyz"]

FIRST_CONTACT_TOL_S = 1.0e-8
"""Slack on ``dt`` in the first-contact test, s (Isaac Lab's ``compute_first_contact`` ``abs_tol``)."""


class StateMappingError(LmrlError, ValueError):
    """The Isaac Lab asset or sensor does not match the robot spec (a joint or foot body is missing)."""


def xyzw_to_wxyz(q: torch.Tensor) -> torch.Tensor:
    """Reorder quaternions (x, y, z, w) → (w, x, y, z). Shape ``(..., 4)``."""
    return torch.cat([q[..., 3:4], q[..., :3]], dim=-1)


def wxyz_to_xyzw(q: torch.Tensor) -> torch.Tensor:
    """Reorder quaternions (w, x, y, z) → (x, y, z, w). Shape ``(..., 4)``."""
    return torch.cat([q[..., 1:4], q[..., 0:1]], dim=-1)


def quat_rotate(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate ``v`` by unit quaternions ``q`` (w, x, y, z): body → world. Shapes ``(..., 4)``, ``(..., 3)``."""
    w, u = q[..., :1], q[..., 1:]
    t = 2.0 * torch.cross(u, v, dim=-1)
    return v + w * t + torch.cross(u, t, dim=-1)


def quat_rotate_inverse(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate ``v`` by the inverse of ``q`` (w, x, y, z): world → body. Shapes as :func:`quat_rotate`."""
    conj = torch.cat([q[..., :1], -q[..., 1:]], dim=-1)
    return quat_rotate(conj, v)


def _index(names: Sequence[str], wanted: Sequence[str], what: str, spec: RobotSpec) -> torch.Tensor:
    missing = [n for n in wanted if n not in names]
    if missing:
        raise StateMappingError(
            f"robot {spec.name!r}: {what} {missing} not found in Isaac Lab's list {list(names)}. The USD made "
            f"from the MJCF must keep the spec's names; re-run scripts/setup_isaaclab.sh (it re-converts the "
            f"MJCF) or fix lm_reward_learning/robots/{spec.name}.py."
        )
    return torch.tensor([list(names).index(n) for n in wanted], dtype=torch.long)


@dataclass(frozen=True)
class StateLayout:
    """Index maps from Isaac Lab's orders to ours and the constants of the mapping (built by name, once).

    Attributes:
        joint_ids: Asset joint index of each policy joint (``spec.joint_names`` order). Shape ``(J,)``.
        foot_body_ids: Asset body index of each foot body (``spec.foot_bodies`` order). Shape ``(F,)``.
        foot_sensor_ids: Contact-sensor body index of each foot body. Shape ``(F,)``.
        foot_offsets_b: Foot site position in its body's frame, m (``asset_info.json``). Shape ``(F, 3)``.
        default_joint_pos: Standing pose, rad, policy order. Shape ``(J,)``.
        dt: Control period, s (``env.step_dt``).
        contact_force_threshold: Foot normal force above which a foot is in contact, N.
        action_clip: Actions are clipped to ``±action_clip`` (the MuJoCo env clips before storing).
        gait_frequency_hz: Nominal gait frequency for ``gait_phase``, Hz.
    """

    joint_ids: torch.Tensor
    foot_body_ids: torch.Tensor
    foot_sensor_ids: torch.Tensor
    foot_offsets_b: torch.Tensor
    default_joint_pos: torch.Tensor
    dt: float
    contact_force_threshold: float
    action_clip: float
    gait_frequency_hz: float

    @classmethod
    def from_names(
        cls,
        spec: RobotSpec,
        joint_names: Sequence[str],
        body_names: Sequence[str],
        sensor_body_names: Sequence[str],
        foot_offsets_b: Sequence[Sequence[float]],
        *,
        dt: float,
        contact_force_threshold: float,
        action_clip: float,
        gait_frequency_hz: float,
    ) -> StateLayout:
        """Map Isaac Lab's joint, body and sensor-body lists onto the spec's names.

        Args:
            spec: The robot.
            joint_names: ``articulation.joint_names`` (Isaac Lab's order).
            body_names: ``articulation.body_names``.
            sensor_body_names: ``contact_sensor.body_names``.
            foot_offsets_b: Per foot, the site position in the foot body's frame, m. Shape ``(F, 3)``.
            dt: Control period, s.
            contact_force_threshold: Contact threshold, N.
            action_clip: Action clip (action units).
            gait_frequency_hz: Gait frequency for ``gait_phase``, Hz.

        Raises:
            StateMappingError: if a joint or foot body of the spec is not in the lists, or the offsets
                do not have shape ``(F, 3)``.
        """
        offsets = torch.as_tensor(foot_offsets_b, dtype=torch.float32)
        if offsets.shape != (spec.num_feet, 3):
            raise StateMappingError(
                f"robot {spec.name!r}: foot_offsets_b has shape {tuple(offsets.shape)}, expected ({spec.num_feet}, 3)"
            )
        return cls(
            joint_ids=_index(joint_names, spec.joint_names, "joints", spec),
            foot_body_ids=_index(body_names, spec.foot_bodies, "foot bodies", spec),
            foot_sensor_ids=_index(sensor_body_names, spec.foot_bodies, "contact-sensor foot bodies", spec),
            foot_offsets_b=offsets,
            default_joint_pos=torch.tensor(spec.per_joint(spec.default_joint_pos), dtype=torch.float32),
            dt=float(dt),
            contact_force_threshold=float(contact_force_threshold),
            action_clip=float(action_clip),
            gait_frequency_hz=float(gait_frequency_hz),
        )


@dataclass
class IsaacLabFrame:
    """One step of Isaac Lab data in Isaac Lab 3's conventions. ``N`` envs, ``Ja`` asset joints,
    ``B`` asset bodies, ``S`` contact-sensor bodies, ``J`` policy joints.

    Attributes:
        root_pos_w: ``root_link_pos_w``, sim world frame (env grid offsets included), m. Shape ``(N, 3)``.
        root_quat_w: ``root_link_quat_w``, (x, y, z, w) in Isaac Lab 3. Shape ``(N, 4)``.
        root_lin_vel_w: ``root_link_lin_vel_w`` (the base frame origin's velocity), m/s. Shape ``(N, 3)``.
        root_ang_vel_w: ``root_link_ang_vel_w``, rad/s. Shape ``(N, 3)``.
        joint_pos: ``joint_pos``, rad, asset order. Shape ``(N, Ja)``.
        joint_vel: ``joint_vel``, rad/s, asset order. Shape ``(N, Ja)``.
        applied_torque: ``applied_torque`` (after the actuator's effort limit), N·m. Shape ``(N, Ja)``.
        body_pos_w: ``body_link_pos_w``, m. Shape ``(N, B, 3)``.
        body_quat_w: ``body_link_quat_w``, same order as ``root_quat_w``. Shape ``(N, B, 4)``.
        net_forces_w: Contact sensor ``net_forces_w``, N, world frame. Shape ``(N, S, 3)``.
        current_air_time: Sensor ``current_air_time``, s. Shape ``(N, S)``.
        current_contact_time: Sensor ``current_contact_time``, s. Shape ``(N, S)``.
        last_air_time: Sensor ``last_air_time``, s. Shape ``(N, S)``.
        env_origins: ``scene.env_origins``, m. Shape ``(N, 3)``.
        commands: Velocity command ``(v_x, v_y, yaw_rate)``, base frame. Shape ``(N, 3)``.
        actions: ``action_manager.action`` (policy joint order). Shape ``(N, J)``.
        prev_actions: ``action_manager.prev_action``. Shape ``(N, J)``.
        episode_length: ``episode_length_buf`` (policy steps since reset). Shape ``(N,)``.
        quat_order: ``"xyzw"`` (Isaac Lab 3) or ``"wxyz"`` (Isaac Lab 2.x).
    """

    root_pos_w: torch.Tensor
    root_quat_w: torch.Tensor
    root_lin_vel_w: torch.Tensor
    root_ang_vel_w: torch.Tensor
    joint_pos: torch.Tensor
    joint_vel: torch.Tensor
    applied_torque: torch.Tensor
    body_pos_w: torch.Tensor
    body_quat_w: torch.Tensor
    net_forces_w: torch.Tensor
    current_air_time: torch.Tensor
    current_contact_time: torch.Tensor
    last_air_time: torch.Tensor
    env_origins: torch.Tensor
    commands: torch.Tensor
    actions: torch.Tensor
    prev_actions: torch.Tensor
    episode_length: torch.Tensor
    quat_order: QuatOrder = "xyzw"


class RewardStateBuilder:
    """Turns :class:`IsaacLabFrame` s into :class:`RewardState` s (keeps the previous foot positions).

    Args:
        layout: The index maps and constants.
        num_envs: Number of environments ``N``.

    Stateful only for ``foot_vel_w`` (finite difference of the foot positions over ``dt``, as the MuJoCo
    backend does); after :meth:`reset` of an env its next ``foot_vel_w`` is zero.
    """

    def __init__(self, layout: StateLayout, num_envs: int) -> None:
        self.layout = layout
        self.num_envs = int(num_envs)
        self._prev_foot_pos: torch.Tensor | None = None
        self._prev_valid = torch.zeros(self.num_envs, dtype=torch.bool)

    def reset(self, env_ids: torch.Tensor | Sequence[int] | None = None) -> None:
        """Forget the previous foot positions of ``env_ids`` (all when None): they were just reset."""
        if env_ids is None:
            self._prev_valid[:] = False
        else:
            self._prev_valid[torch.as_tensor(env_ids, dtype=torch.long, device="cpu")] = False

    def build(self, f: IsaacLabFrame) -> RewardState:
        """Map one frame (see the module table); every tensor is float32 on the frame's device.

        Raises:
            StateMappingError: if a tensor does not have ``num_envs`` rows.
        """
        lay = self.layout
        n = f.root_pos_w.shape[0]
        if n != self.num_envs:
            raise StateMappingError(f"frame has {n} envs, the builder was made for {self.num_envs}")
        dev = f.root_pos_w.device

        def fl(x: torch.Tensor) -> torch.Tensor:
            return x.to(device=dev, dtype=torch.float32)

        to_wxyz = xyzw_to_wxyz if f.quat_order == "xyzw" else (lambda q: q)
        quat = fl(to_wxyz(fl(f.root_quat_w)))
        quat = quat / quat.norm(dim=-1, keepdim=True).clamp_min(1e-9)
        origins = fl(f.env_origins)
        lin_w, ang_w = fl(f.root_lin_vel_w), fl(f.root_ang_vel_w)
        gravity_w = torch.tensor([0.0, 0.0, -1.0], device=dev).expand(n, 3)

        jid = lay.joint_ids.to(dev)
        fid, sid = lay.foot_body_ids.to(dev), lay.foot_sensor_ids.to(dev)
        body_q = fl(to_wxyz(fl(f.body_quat_w[:, fid])))
        foot_pos = fl(f.body_pos_w[:, fid]) + quat_rotate(body_q, lay.foot_offsets_b.to(dev).expand(n, -1, -1))
        foot_pos = foot_pos - origins[:, None, :]
        if self._prev_foot_pos is None:
            self._prev_foot_pos = foot_pos.clone()
        valid = self._prev_valid.to(dev)[:, None, None]
        foot_vel = torch.where(valid, (foot_pos - self._prev_foot_pos.to(dev)) / lay.dt, torch.zeros_like(foot_pos))
        self._prev_foot_pos = foot_pos.clone()
        self._prev_valid[:] = True

        force = fl(f.net_forces_w[:, sid, 2]).clamp_min(0.0)
        contact_time = fl(f.current_contact_time[:, sid])
        actions = fl(f.actions).nan_to_num(0.0).clamp(-lay.action_clip, lay.action_clip)
        prev_actions = fl(f.prev_actions).nan_to_num(0.0).clamp(-lay.action_clip, lay.action_clip)
        time_s = fl(f.episode_length) * lay.dt
        joint_pos = fl(f.joint_pos[:, jid])
        return RewardState(
            base_pos_w=fl(f.root_pos_w) - origins,
            base_quat_w=quat,
            base_lin_vel_w=lin_w,
            base_ang_vel_w=ang_w,
            base_lin_vel_b=quat_rotate_inverse(quat, lin_w),
            base_ang_vel_b=quat_rotate_inverse(quat, ang_w),
            projected_gravity_b=quat_rotate_inverse(quat, gravity_w),
            base_height=fl(f.root_pos_w[:, 2]) - origins[:, 2],
            joint_pos=joint_pos,
            joint_vel=fl(f.joint_vel[:, jid]),
            default_joint_pos=lay.default_joint_pos.to(dev).expand_as(joint_pos).clone(),
            joint_torques=fl(f.applied_torque[:, jid]),
            actions=actions,
            last_actions=prev_actions,
            foot_pos_w=foot_pos,
            foot_vel_w=foot_vel,
            foot_contact=force > lay.contact_force_threshold,
            foot_contact_force=force,
            feet_air_time_s=fl(f.current_air_time[:, sid]),
            feet_contact_time_s=contact_time,
            last_air_time_s=fl(f.last_air_time[:, sid]),
            first_contact=(contact_time > 0.0) & (contact_time < lay.dt + FIRST_CONTACT_TOL_S),
            commands=fl(f.commands),
            time_s=time_s,
            gait_phase=torch.remainder(time_s * lay.gait_frequency_hz, 1.0),
            dt=lay.dt,
        )
