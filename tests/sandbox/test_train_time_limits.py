"""Time bombs at train time: programs that pass the dry run and attack later are stopped with a reason.

Each bomb triggers once an episode is older than 1.2 s (the dry run's recorded states are younger).
Training (the sandboxed MuJoCo worker) must end with a ``RewardRuntimeError`` of the right kind,
``run.yaml`` must say ``status: failed`` with the failure, ``lmrl train`` must exit 2 with one
paragraph, and nothing may hang past the limits.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile_programs import HOSTILE, TIME_BOMBS, render
from sandbox_fixtures import SECRET, files_under

from lm_reward_learning import isolation
from lm_reward_learning.config import SandboxConfig, load_train_config
from lm_reward_learning.errors import RewardRuntimeError
from lm_reward_learning.reward.program import RewardProgram, default_program
from lm_reward_learning.training.run_dir import RunDir
from lm_reward_learning.training.trainer import prepare_run, reward_call_limits, train

HARD_TIMEOUT_S = 3.0


@pytest.fixture(scope="module")
def bomb_cfg():
    """16 envs × 16 steps × 5 iterations = 80 steps (1.6 s of episode time): every bomb goes off."""
    cfg = load_train_config("go2", iterations=5, **{"env.num_envs": 16, "ppo.num_steps_per_env": 16})
    return dataclasses.replace(cfg, sandbox=SandboxConfig(hard_timeout_s=HARD_TIMEOUT_S))


def _bomb(name: str, planted) -> RewardProgram:
    source = render(HOSTILE[name][1], str(planted["canary"]), str(planted["secret_file"]))
    return RewardProgram(source=source, name=name, origin="test:hostile")


@pytest.mark.parametrize("name", sorted(TIME_BOMBS))
def test_time_bomb_fails_the_run_with_its_reason(name: str, planted, bomb_cfg, tmp_path: Path) -> None:
    run = prepare_run("go2", _bomb(name, planted), bomb_cfg, tmp_path, name)  # passes the dry run
    start = time.monotonic()
    with pytest.raises(RewardRuntimeError) as info:
        train(run, bomb_cfg, progress=False)
    wall = time.monotonic() - start
    err = info.value
    assert err.kind == TIME_BOMBS[name], str(err)
    assert err.call is not None and err.call > 50  # it behaved for the first ~60 steps
    assert "the reward program failed during training" in str(err) and SECRET not in str(err)
    meta = run.meta()
    assert meta["status"] == "failed"
    assert meta["failure"]["kind"] == TIME_BOMBS[name] and meta["failure"]["call"] == err.call
    if err.kind != "output":
        assert meta["failure"]["line"] is not None or name == "bomb_c_level_hang"
    assert wall < 120  # a generous bound: the limits, not the test's timeout, ended it
    assert files_under(planted["canary"]) == []


def test_lmrl_train_exits_2_and_says_why(planted, tmp_path: Path) -> None:
    program = tmp_path / "bomb.py"
    program.write_text(_bomb("bomb_exception", planted).source)
    cmd = [
        sys.executable, "-m", "lm_reward_learning.cli", "train", "--reward", str(program), "--iterations", "5",
        "--num-envs", "16", "--no-video", "--no-export", "--no-progress", "--runs-dir", str(tmp_path / "runs"),
    ]  # fmt: skip
    config = tmp_path / "train.yaml"
    config.write_text("ppo:\n  num_steps_per_env: 16\n")
    proc = subprocess.run([*cmd, "--config", str(config)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "lmrl train: error: the reward program failed during training" in proc.stderr
    assert "IndexError" in proc.stderr and "Traceback" not in proc.stderr
    (run_path,) = (tmp_path / "runs").iterdir()
    assert RunDir.open(run_path).meta()["status"] == "failed"


def test_the_per_call_limit_follows_the_dry_run(bomb_cfg, tmp_path: Path) -> None:
    run = prepare_run("go2", default_program("go2"), bomb_cfg, tmp_path, "limits")
    per_call, hard = reward_call_limits(run, bomb_cfg)
    # max(50 ms, 20 × median × max(1, 16 / 192)): the bundled program takes well under 2.5 ms per call
    assert per_call == pytest.approx(0.05)
    assert hard == HARD_TIMEOUT_S
    train(run, bomb_cfg, progress=False)  # a normal program trains under the same limits
    meta = run.meta()
    assert meta["status"] == "done"
    assert set(meta["sandbox"]["applied"]) | set(meta["sandbox"]["missing"]) == set(isolation.LAYERS)
