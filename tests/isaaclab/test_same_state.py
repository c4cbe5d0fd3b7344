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
import pytest
import torch
from isaaclab_stub_physics import MujocoPhysics, breadth_first, site_offsets, zero_reward

from lm_reward_learning.config import load_train_config
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.isaaclab_backend.state_mapping import RewardStateBuilder, StateLayout
from lm_reward_learning.reward.program import default_program, load_reward_fn
from lm_reward_learning.reward.state import RewardState
from lm_reward_learning.robots import get_robot

NUM_ENVS = 4


@pytest.fixture(scope="module", params=["go2", "g1"])
def states(request):
    """(robot, MuJoCo RewardState, Isaac-mapped RewardState) on the same physical state."""
    robot = request.param
    spec = get_robot(robot)
    cfg = dataclasses.replace(
        load_train_config(robot).env,
        num_envs=NUM_ENVS,
        obs_noise=False,
        num_threads=1,
        action_joints="all",
        gait_clock=False,
    )  # the Isaac Lab task acts on every joint without a clock
    env = MujocoVecEnv(spec, zero_reward, cfg, seed=7)
    m = env.model
    bodies = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, i) for i in range(1, m.nbody)]
    phys = MujocoPhysics(
        env,
        joint_order=breadth_first(spec.joint_names),
        body_order=sorted(bodies),
        sensor_order=sorted(bodies, reverse=True),
    )
    layout = StateLayout.from_names(
        spec,
        phys.joint_order,
        phys.body_order,
        phys.sensor_order,
        site_offsets(env),
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
            # foot_vel_w: float32 positions up to 7.5 m from the world origin, ~0.5 µm / 0.02 s.
            atol = 1e-4 if f.name == "foot_vel_w" else 2e-5
            torch.testing.assert_close(b, a, atol=atol, rtol=1e-5, msg=f"field {f.name}")


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
