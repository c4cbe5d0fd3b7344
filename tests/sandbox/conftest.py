"""Fixtures of the reward-sandbox tests: a canary folder, a planted secret, a recorded state batch."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_fixtures import SECRET, SECRET_VARS


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Secrets in the environment and in a file, and a canary folder that must stay empty."""
    root = tmp_path_factory.mktemp("outside")
    canary = root / "canary"
    canary.mkdir()
    secret_file = root / "credentials"
    secret_file.write_text(f"api_key = {SECRET}\n")
    before = {k: os.environ.get(k) for k in SECRET_VARS}
    os.environ.update(dict.fromkeys(SECRET_VARS, SECRET))
    try:
        yield {"root": root, "canary": canary, "secret_file": secret_file}
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def recorded_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """States recorded from the Go2 simulator, as ``prepare_run`` records them (episodes < 1 s old)."""
    from lm_reward_learning.config import load_train_config
    from lm_reward_learning.robots import get_robot
    from lm_reward_learning.training.trainer import record_state_batch

    path = tmp_path_factory.mktemp("batch") / "go2.pt"
    state = record_state_batch(get_robot("go2"), load_train_config("go2").env, path)
    assert float(state.time_s.max()) < 1.2  # the time bombs' trigger is past what the dry run sees
    return path
