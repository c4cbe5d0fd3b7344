"""Left-right mirror augmentation of observations and actions (rsl-rl-lib's symmetry extension)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lm_reward_learning.config import load_train_config
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.envs.symmetry import mirror_augmentation
from lm_reward_learning.errors import ConfigError
from lm_reward_learning.robots import get_robot
from lm_reward_learning.training.trainer import zero_reward


@pytest.fixture(scope="module")
def env() -> MujocoVecEnv:
    cfg = dataclasses.replace(load_train_config("g1").env, num_envs=4, num_threads=1, obs_noise=False)
    env = MujocoVecEnv(get_robot("g1"), zero_reward, cfg, seed=2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        env.step(0.5 * torch.randn(4, 12, generator=gen))
    return env


def test_mirroring_twice_is_the_identity_and_the_originals_come_first(env) -> None:
    obs = env.get_observations()
    actions = torch.randn(4, 12)
    m_obs, m_act = mirror_augmentation(env, obs, actions)
    assert m_obs.batch_size[0] == 8 and m_act.shape == (8, 12)
    torch.testing.assert_close(m_obs["policy"][:4], obs["policy"])
    mm_obs, mm_act = mirror_augmentation(env, m_obs[4:], m_act[4:])
    torch.testing.assert_close(mm_obs["policy"][4:], obs["policy"])
    torch.testing.assert_close(mm_obs["critic"][4:], obs["critic"])
    torch.testing.assert_close(mm_act[4:], actions)


def test_mirror_swaps_sides_and_flips_lateral_quantities(env) -> None:
    obs = env.get_observations()
    actions = torch.arange(12, dtype=torch.float32)[None].repeat(4, 1)
    m_obs, m_act = mirror_augmentation(env, obs, actions)
    # actions: left hip pitch (0) <- right hip pitch (6); left hip roll (1) <- -right hip roll (7)
    assert m_act[4, 0] == 6.0 and m_act[4, 1] == -7.0 and m_act[4, 6] == 0.0 and m_act[4, 9] == 3.0
    p, mp = obs["policy"][0], m_obs["policy"][4]
    torch.testing.assert_close(mp[0:3], p[0:3] * torch.tensor([-1.0, 1.0, -1.0]))  # angular velocity
    torch.testing.assert_close(mp[3:6], p[3:6] * torch.tensor([1.0, -1.0, 1.0]))  # gravity
    torch.testing.assert_close(mp[6:9], p[6:9] * torch.tensor([1.0, -1.0, -1.0]))  # command
    torch.testing.assert_close(mp[9 + 2], -p[9 + 8])  # left hip yaw angle <- -right hip yaw angle
    torch.testing.assert_close(mp[-2:], -p[-2:])  # gait clock half a stride on
    c, mc = obs["critic"][0], m_obs["critic"][4]
    torch.testing.assert_close(mc[-2:], c[-2:].flip(0))  # foot contacts left <-> right
    torch.testing.assert_close(mc[1], -c[1])  # lateral velocity


def test_a_robot_without_a_mirror_table_is_refused() -> None:
    cfg = dataclasses.replace(load_train_config("go2").env, num_envs=2, num_threads=1)
    env = MujocoVecEnv(get_robot("go2"), zero_reward, cfg)
    with pytest.raises(ConfigError, match="no mirror table"):
        mirror_augmentation(env, env.get_observations(), None)
