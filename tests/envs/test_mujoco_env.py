"""dm_control-style property tests of MujocoVecEnv for every registered robot."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lm_reward_learning.config import load_train_config
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.reward.program import default_program, load_reward_fn
from lm_reward_learning.robots import ROBOTS, get_robot

N = 8


def make_env(robot: str, seed: int = 0, **overrides) -> MujocoVecEnv:
    cfg = dataclasses.replace(load_train_config(robot).env, num_envs=N, num_threads=1, **overrides)
    return MujocoVecEnv(get_robot(robot), load_reward_fn(default_program(robot).source), cfg, seed=seed)


def random_actions(env: MujocoVecEnv, steps: int, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [0.5 * torch.randn(env.num_envs, env.num_actions, generator=gen) for _ in range(steps)]


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_observations_match_layout_and_are_finite(robot: str) -> None:
    env = make_env(robot)
    layout = env.layout
    obs = env.get_observations()
    for group in ("policy", "critic"):
        assert obs[group].shape == (N, sum(t.size for t in layout[group]))
        assert obs[group].dtype == torch.float32
    for a in random_actions(env, 40):
        obs, rew, dones, extras = env.step(a)
        assert torch.isfinite(obs["policy"]).all() and torch.isfinite(obs["critic"]).all()
        assert rew.shape == (N,) and torch.isfinite(rew).all()
        # per-step reward (already x dt) of the bundled programs stays well inside +-10
        assert rew.abs().max() < 10.0
        assert dones.shape == (N,) and extras["time_outs"].shape == (N,)
        assert all(k.startswith("/") for k in extras["log"])


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_same_seed_and_actions_give_same_trajectory(robot: str) -> None:
    runs = []
    for _ in range(2):
        env = make_env(robot, seed=3)
        traj = [env.step(a)[0]["policy"].clone() for a in random_actions(env, 15, seed=1)]
        runs.append(torch.stack(traj))
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_two_resets_differ(robot: str) -> None:
    env = make_env(robot, seed=5, obs_noise=False)
    first = env.reset()["policy"].clone()
    second = env.reset()["policy"].clone()
    assert not torch.allclose(first, second)


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_no_observation_stays_constant_over_random_rollout(robot: str) -> None:
    env = make_env(robot, obs_noise=False)
    layout = env.layout["policy"]
    # the command block is constant by design within an episode (resampled every 10 s)
    start = sum(t.size for t in layout[:2])
    cmd = slice(start, start + 3)
    obs = torch.stack([env.step(a)[0]["policy"] for a in random_actions(env, 30)])
    spread = obs.std(dim=0)  # (N, D)
    keep = torch.ones(obs.shape[-1], dtype=torch.bool)
    keep[cmd] = False
    assert (spread[:, keep].max(dim=0).values > 1e-6).all()


def test_reward_state_units_and_frames_when_standing() -> None:
    env = make_env("go2", obs_noise=False, reset_joint_noise=0.0)
    for _ in range(50):  # 1 s of holding the default pose
        env.step(torch.zeros(N, env.num_actions))
    s = env.last_state
    spec = env.spec
    torch.testing.assert_close(s.projected_gravity_b[:, 2], torch.full((N,), -1.0), atol=0.02, rtol=0)
    assert (s.base_height - spec.nominal_base_height).abs().max() < 0.03
    assert s.foot_contact.all()  # all four feet on the floor
    # the feet carry the robot's weight: sum of normal forces ~ m g
    weight = float(env.model.body_mass.sum()) * 9.81
    assert abs(float(s.foot_contact_force.sum(dim=1).mean()) - weight) < 0.15 * weight
    assert s.foot_pos_w[:, :, 2].abs().max() < 0.03
    assert (s.time_s - 50 * env.dt).abs().max() < 1e-5
    assert s.dt == pytest.approx(0.02)


def test_air_time_counts_while_foot_is_lifted() -> None:
    env = make_env("go2", obs_noise=False, reset_joint_noise=0.0)
    for _ in range(25):
        env.step(torch.zeros(N, env.num_actions))
    # lift the front-left foot: flex the FL knee by 0.8 rad and swing the thigh forward by 0.4 rad
    # (the robot then rests on its FR-RL diagonal; RR may lift as well)
    a = torch.zeros(N, env.num_actions)
    a[:, env.spec.joint_names.index("FL_calf_joint")] = -0.8 / env.spec.action_scale
    a[:, env.spec.joint_names.index("FL_thigh_joint")] = -0.4 / env.spec.action_scale
    for _ in range(10):
        env.step(a)
    s = env.last_state
    assert not s.foot_contact[:, 0].any()
    assert (s.feet_air_time_s[:, 0] > 0.1).all()
    assert s.foot_contact[:, 1:3].all()  # FR and RL carry the robot
    assert (s.feet_air_time_s[:, 1:3] == 0).all()
    first_touchdown = torch.full((N,), float("nan"))
    for _ in range(25):
        env.step(torch.zeros(N, env.num_actions))
        s = env.last_state
        new = s.first_contact[:, 0] & first_touchdown.isnan()
        first_touchdown[new] = s.last_air_time_s[new, 0]
    # the swing that ended at the first touchdown lasted the 10 lifted steps (0.2 s) or longer
    assert (first_touchdown >= 0.2 - 1e-6).all()


def test_explosion_ends_the_episode_not_the_run() -> None:
    env = make_env("go2", obs_noise=False)
    env.step(torch.zeros(N, env.num_actions))
    env._qvel[0, :] = 1e6  # blow up simulation 0
    obs, rew, dones, extras = env.step(torch.zeros(N, env.num_actions))
    assert bool(dones[0]) and not bool(extras["time_outs"][0])
    assert float(rew[0]) == 0.0
    assert torch.isfinite(obs["policy"]).all()
    assert env.pop_explosions() >= 1
    assert not dones[1:].any()
    # the exploded env was reset: it continues normally
    obs, rew, dones, _ = env.step(torch.zeros(N, env.num_actions))
    assert torch.isfinite(rew).all() and not bool(dones[0])


def test_fall_terminates_and_timeout_is_flagged() -> None:
    env = make_env("go2", obs_noise=False, episode_length_s=0.1)
    dones_seen, timeouts_seen = False, False
    for _ in range(6):
        _, _, dones, extras = env.step(torch.zeros(N, env.num_actions))
        dones_seen |= bool(dones.any())
        timeouts_seen |= bool(extras["time_outs"].any())
    assert dones_seen and timeouts_seen  # 0.1 s = 5 policy steps
    # a robot flipped upside down falls
    env = make_env("go2", obs_noise=False)
    env._qpos[:, env._base_q + 3 : env._base_q + 7] = [0.0, 1.0, 0.0, 0.0]
    _, _, dones, extras = env.step(torch.zeros(N, env.num_actions))
    assert dones.all() and not extras["time_outs"].any()


def test_reward_stats_collect_every_term() -> None:
    env = make_env("go2")
    for a in random_actions(env, 10):
        env.step(a)
    stats = env.pop_reward_stats()
    names = set(load_reward_fn(default_program("go2").source)(env.last_state)[1])
    assert set(stats) == names
    for v in stats.values():
        assert v["min"] <= v["mean"] <= v["max"]
    assert env.pop_reward_stats() == {}


def test_start_rollout_holds_command_and_heading() -> None:
    env = make_env("go2", obs_noise=False)
    env.start_rollout((0.7, 0.0, 0.0), yaw=0.0, duration_s=1.0)
    np.testing.assert_allclose(env.commands, np.tile([0.7, 0.0, 0.0], (N, 1)))
    q = env._qpos[:, env._base_q + 3 : env._base_q + 7]
    np.testing.assert_allclose(q, np.tile([1.0, 0.0, 0.0, 0.0], (N, 1)), atol=1e-9)
    assert env.max_episode_length == 51
