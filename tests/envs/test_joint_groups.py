"""Acting on a joint group (the G1's legs) and the gait clock observation."""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np
import pytest
import torch

from lm_reward_learning.config import load_train_config
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv, observation_layout
from lm_reward_learning.errors import ConfigError
from lm_reward_learning.robots import get_robot, load_model
from lm_reward_learning.training.trainer import zero_reward

G1 = get_robot("g1")


def g1_env(**overrides) -> MujocoVecEnv:
    cfg = load_train_config("g1").env
    cfg = dataclasses.replace(cfg, num_envs=2, num_threads=1, obs_noise=False, reset_joint_noise=0.0, **overrides)
    return MujocoVecEnv(G1, zero_reward, cfg, seed=0)


def test_acting_on_the_legs_keeps_their_order_and_holds_the_rest() -> None:
    legs = G1.acting("legs")
    assert legs.joint_names == G1.joint_names[:12]
    assert all("hip" in j or "knee" in j or "ankle" in j for j in legs.joint_names)
    assert set(legs.held_joints) == set(G1.joint_names[12:])
    assert legs.servo_joints == G1.joint_names  # policy joints first, then the held ones: the MJCF order here
    assert G1.acting("all") is G1
    assert legs.acting("legs") == legs  # idempotent: a run's spec can be acted on again
    with pytest.raises(KeyError, match=r"arms.*all, legs"):
        G1.acting("arms")


def test_an_unknown_joint_group_in_the_config_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"action_joints.*no joint group .arms."):
        load_train_config("g1", **{"env.action_joints": "arms"})
    with pytest.raises(ConfigError, match=r"go2.*no joint group .legs."):
        load_train_config("go2", **{"env.action_joints": "legs"})


def test_legs_env_acts_on_12_joints_with_the_upper_body_welded_at_its_default_pose() -> None:
    env = g1_env(action_joints="legs", gait_clock=False)
    assert env.num_actions == 12 and env.spec.num_joints == 12
    full = load_model(G1)
    assert env.model.nu == 12 and env.model.nv == full.nv - 17  # 17 held joints welded
    # every body sits where the full model puts it with all 29 joints at their default angles
    d_full, d_weld = mujoco.MjData(full), mujoco.MjData(env.model)
    for model, data, names in ((full, d_full, G1.joint_names), (env.model, d_weld, env.spec.joint_names)):
        data.qpos[3] = 1.0
        for name in names:
            data.qpos[model.jnt_qposadr[model.joint(name).id]] = G1.default_joint_pos[name]
        mujoco.mj_forward(model, data)
    for body in ("left_elbow_link", "right_wrist_yaw_link", "torso_link", "left_shoulder_roll_link"):
        np.testing.assert_allclose(d_weld.xpos[env.model.body(body).id], d_full.xpos[full.body(body).id], atol=1e-12)
        np.testing.assert_allclose(d_weld.xquat[env.model.body(body).id], d_full.xquat[full.body(body).id], atol=1e-12)
    assert env.model.body_mass.sum() == pytest.approx(full.body_mass.sum())
    obs, *_ = env.step(torch.zeros(2, 12))
    assert obs["policy"].shape == (2, 9 + 3 * 12)
    assert env.last_state.joint_pos.shape == (2, 12)


def test_the_default_layout_is_the_one_exported_policies_have() -> None:
    env = g1_env(action_joints="all", gait_clock=False)
    names = [t.name for t in env.layout["policy"]]
    assert names == [
        "base_ang_vel",
        "projected_gravity",
        "velocity_commands",
        "joint_pos_rel",
        "joint_vel_rel",
        "last_action",
    ]
    assert env.get_observations()["policy"].shape == (2, 9 + 3 * 29)
    assert env.model.nu == 29
    assert [t.name for t in observation_layout(G1)["policy"]] == names


def test_gait_clock_is_sin_cos_of_the_episode_phase() -> None:
    env = g1_env(action_joints="legs", gait_clock=True)
    f = env.cfg.gait_frequency_hz
    assert env.layout["policy"][-1].name == "gait_clock" and env.layout["policy"][-1].size == 2
    obs = env.get_observations()["policy"]
    np.testing.assert_allclose(obs[:, -2:].numpy(), [[0.0, 1.0]] * 2, atol=1e-6)  # phase 0 at reset
    for k in range(1, 30):
        obs, _, dones, _ = env.step(torch.zeros(2, 12))
        assert not dones.any()
        phase = 2.0 * math.pi * ((k * env.dt * f) % 1.0)
        np.testing.assert_allclose(obs["policy"][:, -2:].numpy(), [[math.sin(phase), math.cos(phase)]] * 2, atol=1e-5)
        np.testing.assert_allclose(env.last_state.gait_phase.numpy(), (k * env.dt * f) % 1.0, atol=1e-5)
