"""Shared fixtures: a tiny trained Go2 run (16 envs, 2 PPO iterations), made once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture(scope="session")
def tiny_cfg():
    """A training config small enough for unit tests (16 envs, 2 iterations of 8 steps)."""
    from lm_reward_learning.config import load_train_config

    return load_train_config("go2", iterations=2, **{"env.num_envs": 16, "ppo.num_steps_per_env": 8})


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_cfg):
    """A validated and trained run directory (shared: tests must not modify it)."""
    import torch

    from lm_reward_learning.reward.program import default_program
    from lm_reward_learning.training.trainer import prepare_run, train

    torch.set_num_threads(1)
    root: Path = tmp_path_factory.mktemp("runs")
    run = prepare_run("go2", default_program("go2"), tiny_cfg, root, "tiny")
    train(run, tiny_cfg, progress=False)
    return run
