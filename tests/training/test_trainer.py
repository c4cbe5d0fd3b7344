"""Training: run directory contents, per-term statistics, resume, warm start, bad checkpoints."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch

from lm_reward_learning.errors import CheckpointError, RewardValidationError, RunDirError
from lm_reward_learning.reward.program import RewardProgram, default_program
from lm_reward_learning.training.run_dir import RunDir
from lm_reward_learning.training.runner import LmrlRunner
from lm_reward_learning.training.trainer import prepare_run, train


def test_run_directory_holds_everything(tiny_run: RunDir, tiny_cfg) -> None:
    meta = tiny_run.meta()
    assert meta["status"] == "done" and meta["iterations_done"] == 2 and meta["robot"] == "go2"
    assert meta["reward_sha256"] == default_program("go2").sha256
    assert (tiny_run.reward_dir / "program.py").read_text() == default_program("go2").source
    assert json.loads((tiny_run.reward_dir / "validation.json").read_text())["ok"] is True
    assert (tiny_run.checkpoints / "latest.pt").is_file() and (tiny_run.checkpoints / "model_0.pt").is_file()
    assert any(tiny_run.tb.iterdir())  # TensorBoard events
    records = tiny_run.reward_stats()
    assert [r["iteration"] for r in records] == [0, 1]
    names = set(records[0]["terms"])
    assert {"track_lin_vel_xy_exp", "joint_torques_l2", "feet_air_time"} <= names
    for r in records:
        assert r["env_steps"] == 16 * 8
        # rsl-rl's own split of the iteration, within the iteration's wall time
        assert r["collect_s"] > 0.0 and r["learn_s"] > 0.0 and r["collect_s"] + r["learn_s"] <= r["wall_s"] + 0.01
        for t in r["terms"].values():
            assert t["min"] <= t["mean"] <= t["max"]
        # penalties are weighted negative, tracking positive (the sign lives in the weight)
        assert r["terms"]["joint_torques_l2"]["max"] <= 0.0
        assert r["terms"]["track_lin_vel_xy_exp"]["min"] >= 0.0
    # no temporary files left behind by the atomic writes
    assert not list(tiny_run.path.rglob("*.tmp"))


def test_resume_continues_to_the_new_total(tiny_run: RunDir, tiny_cfg, tmp_path) -> None:
    run = RunDir(shutil.copytree(tiny_run.path, tmp_path / "copy"))
    cfg = dataclasses.replace(tiny_cfg, iterations=3)
    train(run, cfg, resume=True, progress=False)
    assert [r["iteration"] for r in run.reward_stats()] == [0, 1, 2]
    assert run.meta()["iterations_done"] == 3
    saved = torch.load(run.checkpoints / "latest.pt", weights_only=False)
    assert saved["iter"] == 2


def test_corrupted_checkpoint_is_a_clear_error(tiny_run: RunDir, tiny_cfg, tmp_path) -> None:
    run = RunDir(shutil.copytree(tiny_run.path, tmp_path / "copy"))
    data = (run.checkpoints / "latest.pt").read_bytes()
    (run.checkpoints / "latest.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="truncated, corrupted"):
        train(run, dataclasses.replace(tiny_cfg, iterations=3), resume=True, progress=False)
    assert run.reward_stats()[-1]["iteration"] == 1  # nothing already written was lost


def test_warm_start_loads_weights_only(tiny_run: RunDir, tiny_cfg, tmp_path) -> None:
    from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
    from lm_reward_learning.reward.program import load_reward_fn
    from lm_reward_learning.robots import get_robot

    env = MujocoVecEnv(get_robot("go2"), load_reward_fn(default_program("go2").source), tiny_cfg.env)
    runner = LmrlRunner(env, tiny_cfg.ppo.to_rsl_rl(), tiny_run)
    it = runner.load_checkpoint(tiny_run.checkpoints / "latest.pt", weights_only=True)
    saved = torch.load(tiny_run.checkpoints / "latest.pt", weights_only=False)
    assert it == 1
    for k, v in saved["actor_state_dict"].items():
        torch.testing.assert_close(runner.alg.get_policy().state_dict()[k], v)


def test_invalid_reward_is_rejected_before_training(tiny_cfg, tmp_path) -> None:
    bad = RewardProgram(source="import os\ndef compute_reward(state):\n    return 0, {}\n", name="bad")
    with pytest.raises(RewardValidationError, match="line 1"):
        prepare_run("go2", bad, tiny_cfg, tmp_path, "bad")
    (run_path,) = tmp_path.iterdir()
    run = RunDir.open(run_path)
    assert run.meta()["status"] == "invalid_reward"
    assert not json.loads((run.reward_dir / "validation.json").read_text())["ok"]
    assert not (run.checkpoints / "latest.pt").exists()


def test_open_rejects_a_directory_that_is_not_a_run(tmp_path) -> None:
    with pytest.raises(RunDirError, match="not a run directory"):
        RunDir.open(tmp_path)
    (tmp_path / "run.yaml").write_text("- just a list\n")
    with pytest.raises(RunDirError, match="damaged"):
        RunDir.open(tmp_path)
