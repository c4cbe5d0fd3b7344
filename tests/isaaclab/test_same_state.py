"""The same physical state gives the same RewardState and the same reward through both backends.

One physical state per robot is made by stepping the MuJoCo env (poses, velocities, joint angles,
foot contacts and timers all non-trivial). The MuJoCo path fills its ``RewardState`` as in training;
the Isaac Lab path gets the same physics written the way Isaac Lab 3 reports it — quaternions
(x, y, z, w), envs placed on a grid (``env_origins``), joints and bodies in another order than the
policy's (the breadth-first order Isaac Lab gives), body poses instead of foot sites, contact-sensor
forces and timers — built here from MuJoCo's own ``xpos``/``xquat``/sensor data, not from the MuJoCo
env's reward state. Then every field and the default programs' rewards must agree.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
import pytest
import torch

from lm_reward_learning.config import load_train_config
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.isaaclab_backend.state_mapping import (
    IsaacLabFrame,
    RewardStateBuilder,
    StateLayout,
    wxyz_to_xyzw,
)
from lm_reward_learning.reward.program import default_program, load_reward_fn
from lm_reward_learning.reward.state import RewardState
from lm_reward_learning.robots import get_robot

NUM_ENVS = 4


def _zero(state: RewardState):
    z = torch.zeros(state.num_envs)
    return z, {"zero": z}


def _breadth_first(names: tuple[str, ...]) -> list[str]:
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


def _site_offsets(env: MujocoVecEnv) -> list[list[float]]:
    m = env.model
    return [m.site_pos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, s)].tolist() for s in env.spec.foot_sites]


class _Physics:
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
        ang_w = np.stack([_rot(quat_wxyz[i], qvel[i, env._base_d + 3 : env._base_d + 6]) for i in range(n)])
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


def _rot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    out = np.zeros(3)
    mujoco.mju_rotVecQuat(out, v, q)
    return out


@pytest.fixture(scope="module", params=["go2", "g1"])
def states(request):
    """(robot, MuJoCo RewardState, Isaac-mapped RewardState) on the same physical state."""
    robot = request.param
    spec = get_robot(robot)
    cfg = dataclasses.replace(load_train_config(robot).env, num_envs=NUM_ENVS, obs_noise=False, num_threads=1)
    env = MujocoVecEnv(spec, _zero, cfg, seed=7)
    m = env.model
    bodies = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, i) for i in range(1, m.nbody)]
    phys = _Physics(
        env,
        joint_order=_breadth_first(spec.joint_names),
        body_order=sorted(bodies),
        sensor_order=sorted(bodies, reverse=True),
    )
    layout = StateLayout.from_names(
        spec,
        phys.joint_order,
        phys.body_order,
        phys.sensor_order,
        _site_offsets(env),
        dt=env.dt,
        contact_force_threshold=cfg.contact_force_threshold,
        action_clip=cfg.action_clip,
        gait_frequency_hz=cfg.gait_frequency_hz,
    )
    builder = RewardStateBuilder(layout, NUM_ENVS)
    gen = torch.Generator().manual_seed(0)
    steps = 12 if robot == "go2" else 6
    for _ in range(steps):
        before = phys.frame()
        _, _, dones, _ = env.step(0.3 * torch.randn(NUM_ENVS, env.num_actions, generator=gen))
        assert not dones.any(), "the fixture must not reset an env (the raw data would be post-reset)"
    builder.build(before)  # the previous step: for the foot-velocity finite difference
    return robot, env.last_state, builder.build(phys.frame())


def test_every_field_agrees(states):
    _, mj, il = states
    for f in dataclasses.fields(RewardState):
        a, b = getattr(mj, f.name), getattr(il, f.name)
        if f.name == "dt":
            assert a == pytest.approx(b)
            continue
        assert a.shape == b.shape, f.name
        assert a.dtype == b.dtype, f.name
        if a.dtype == torch.bool:
            assert torch.equal(a, b), f.name
        else:
            torch.testing.assert_close(b, a, atol=2e-5, rtol=1e-5, msg=f"field {f.name}")


def test_state_is_not_trivial(states):
    robot, mj, _ = states
    assert mj.base_lin_vel_w.abs().max() > 1e-3  # moving
    assert mj.foot_contact.any()  # touching the floor
    assert mj.foot_vel_w.abs().max() > 1e-3  # feet moving
    assert (mj.joint_pos - mj.default_joint_pos).abs().max() > 1e-2
    if robot == "go2":
        assert mj.feet_contact_time_s.max() > 0 and mj.feet_air_time_s.max() >= 0


def test_default_program_gives_the_same_reward(states):
    robot, mj, il = states
    fn = load_reward_fn(default_program(robot).source)
    r_mj, c_mj = fn(mj)
    r_il, c_il = fn(il)
    assert set(c_mj) == set(c_il)
    for k in c_mj:
        torch.testing.assert_close(c_il[k], c_mj[k], atol=1e-4, rtol=1e-4, msg=f"component {k}")
    torch.testing.assert_close(r_il, r_mj, atol=1e-4, rtol=1e-4)
