"""Isaac-Lab-style data made from a MuJoCo simulation, and a stub Isaac Lab env around it (tests only).

:class:`MujocoPhysics` reads MuJoCo's own ``qpos``/``qvel``/``xpos``/``xquat``/touch sensors and writes
them the way Isaac Lab 3 reports them (quaternions x, y, z, w; envs on a grid; joints and bodies in
another order than the policy's). :func:`stub_env` wraps an :class:`IsaacLabFrame` in objects with the
attributes of an Isaac Lab ``ManagerBasedRLEnv`` (``scene["robot"].data.<field>.torch``, ...).
"""

from __future__ import annotations

from types import SimpleNamespace

import mujoco
import numpy as np
import torch

from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.isaaclab_backend.state_mapping import IsaacLabFrame, wxyz_to_xyzw
from lm_reward_learning.reward.state import RewardState


def zero_reward(state: RewardState):
    z = torch.zeros(state.num_envs)
    return z, {"zero": z}


def breadth_first(names: tuple[str, ...]) -> list[str]:
    """Isaac Lab's order for our joints: by depth in the tree, not leg by leg (a real reordering)."""
    return sorted(
        names,
        key=lambda n: (
            ["hip", "thigh", "calf", "knee", "ankle"].index(
                next((p for p in ("hip", "thigh", "calf", "knee", "ankle") if p in n), "hip")
            ),
            n,
        ),
    )


def site_offsets(env: MujocoVecEnv) -> list[list[float]]:
    m = env.model
    return [m.site_pos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, s)].tolist() for s in env.spec.foot_sites]


class MujocoPhysics:
    """Isaac-Lab-style tensors read from the MuJoCo batch (independent of the env's RewardState)."""

    def __init__(self, env: MujocoVecEnv, joint_order: list[str], body_order: list[str], sensor_order: list[str]):
        self.env, self.joint_order, self.body_order, self.sensor_order = env, joint_order, body_order, sensor_order
        m = env.model
        self.body_ids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, b) for b in body_order]
        jids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, j) for j in joint_order]
        self.qadr = m.jnt_qposadr[jids]
        self.dadr = m.jnt_dofadr[jids]
        self.act = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, j) for j in joint_order]
        touch = {
            b: m.sensor_adr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SENSOR, s + "_touch")]
            for s, b in zip(env.spec.foot_sites, env.spec.foot_bodies, strict=True)
        }
        self.touch = [touch.get(b) for b in sensor_order]
        self.feet = [env.spec.foot_bodies.index(b) if b in env.spec.foot_bodies else None for b in sensor_order]
        self.xpos = env.batch.bind("xpos")
        self.xquat = env.batch.bind("xquat")
        self.origins = torch.tensor([[2.5 * i, -1.0 * i, 0.0] for i in range(env.num_envs)])

    def frame(self) -> IsaacLabFrame:
        env, n = self.env, self.env.num_envs
        b = env._base_q
        qpos, qvel = env._qpos.copy(), env._qvel.copy()
        quat_wxyz = qpos[:, b + 3 : b + 7]
        ang_w = np.stack([rot(quat_wxyz[i], qvel[i, env._base_d + 3 : env._base_d + 6]) for i in range(n)])
        s_count = len(self.sensor_order)
        forces = np.zeros((n, s_count, 3))
        air = np.zeros((n, s_count))
        ctime = np.zeros((n, s_count))
        last = np.zeros((n, s_count))
        rng = np.random.default_rng(3)
        for k, (adr, foot) in enumerate(zip(self.touch, self.feet, strict=True)):
            forces[:, k, :2] = rng.normal(size=(n, 2))  # friction: not part of the normal force
            if adr is None:
                forces[:, k, 2] = rng.uniform(0, 50, size=n)  # a non-foot body: must be ignored
                continue
            forces[:, k, 2] = env._sensordata[:, adr]
            air[:, k] = env.feet_air_time[:, foot]
            ctime[:, k] = env.feet_contact_time[:, foot]
            last[:, k] = env.last_air_time[:, foot]

        def t(x) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float64)

        return IsaacLabFrame(
            root_pos_w=t(qpos[:, b : b + 3]) + self.origins,
            root_quat_w=wxyz_to_xyzw(t(quat_wxyz)),
            root_lin_vel_w=t(qvel[:, env._base_d : env._base_d + 3]),
            root_ang_vel_w=t(ang_w),
            joint_pos=t(qpos[:, self.qadr]),
            joint_vel=t(qvel[:, self.dadr]),
            applied_torque=t(env._act_force[:, self.act]),
            body_pos_w=t(self.xpos[:, self.body_ids]) + self.origins[:, None, :],
            body_quat_w=wxyz_to_xyzw(t(self.xquat[:, self.body_ids])),
            net_forces_w=t(forces),
            current_air_time=t(air),
            current_contact_time=t(ctime),
            last_air_time=t(last),
            env_origins=self.origins,
            commands=t(env.commands),
            actions=t(env.actions),
            prev_actions=t(env.last_actions),
            episode_length=env.episode_length_buf.clone(),
        )


def rot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    out = np.zeros(3)
    mujoco.mju_rotVecQuat(out, v, q)
    return out


class _Proxy:
    """An Isaac Lab 3 ``ProxyArray`` stand-in: the tensor is under ``.torch``."""

    def __init__(self, t: torch.Tensor) -> None:
        self.torch = t


class _Scene(dict):
    def __init__(self, robot, sensor, origins) -> None:
        super().__init__(robot=robot)
        self.sensors = {"contact_forces": sensor}
        self.env_origins = origins


def stub_env(
    frame: IsaacLabFrame,
    joint_names: list[str],
    body_names: list[str],
    sensor_names: list[str],
    dt: float,
    unstable: torch.Tensor | None = None,
) -> SimpleNamespace:
    """An object with the attributes the reward-term binding reads from an Isaac Lab env."""
    n = frame.root_pos_w.shape[0]
    data = SimpleNamespace(
        root_link_pos_w=_Proxy(frame.root_pos_w),
        root_link_quat_w=_Proxy(frame.root_quat_w),
        root_link_lin_vel_w=_Proxy(frame.root_lin_vel_w),
        root_link_ang_vel_w=_Proxy(frame.root_ang_vel_w),
        joint_pos=_Proxy(frame.joint_pos),
        joint_vel=_Proxy(frame.joint_vel),
        applied_torque=_Proxy(frame.applied_torque),
        body_link_pos_w=_Proxy(frame.body_pos_w),
        body_link_quat_w=_Proxy(frame.body_quat_w),
    )
    sensor_data = SimpleNamespace(
        net_forces_w=_Proxy(frame.net_forces_w),
        current_air_time=_Proxy(frame.current_air_time),
        current_contact_time=_Proxy(frame.current_contact_time),
        last_air_time=_Proxy(frame.last_air_time),
    )
    robot = SimpleNamespace(joint_names=joint_names, body_names=body_names, data=data)
    sensor = SimpleNamespace(sensor_names=sensor_names, data=sensor_data)
    flags = torch.zeros(n, dtype=torch.bool) if unstable is None else unstable
    return SimpleNamespace(
        scene=_Scene(robot, sensor, frame.env_origins),
        command_manager=SimpleNamespace(get_command=lambda name: frame.commands),
        action_manager=SimpleNamespace(action=frame.actions, prev_action=frame.prev_actions),
        termination_manager=SimpleNamespace(get_term=lambda name: flags),
        episode_length_buf=frame.episode_length,
        step_dt=dt,
        num_envs=n,
    )
