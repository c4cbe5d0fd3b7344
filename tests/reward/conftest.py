"""Fixtures of the reward tests: small synthetic state batches on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from lm_reward_learning.reward.batch import save_state_batch
from lm_reward_learning.reward.synthetic import synthetic_state

#: The Go2-like batch: 16 envs, 12 joints, 4 feet.
GO2_SHAPE = (16, 12, 4)
#: The G1-like batch: 16 envs, 23 joints, 2 feet.
G1_SHAPE = (16, 23, 2)


@pytest.fixture(scope="session")
def go2_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic Go2-sized state batch file."""
    return save_state_batch(synthetic_state(*GO2_SHAPE, seed=1), tmp_path_factory.mktemp("batch") / "go2.pt")


@pytest.fixture(scope="session")
def g1_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic G1-sized state batch file (standing height 0.73 m)."""
    state = synthetic_state(*G1_SHAPE, seed=2, base_height=0.73)
    return save_state_batch(state, tmp_path_factory.mktemp("batch") / "g1.pt")
