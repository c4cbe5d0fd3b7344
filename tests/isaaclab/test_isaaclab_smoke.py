"""A real Isaac Lab 3 run (kit-less, Newton MuJoCo-Warp on Warp's CPU device): train, resume, export.

Needs ``.venv-isaaclab`` (``bash scripts/setup_isaaclab.sh``); skipped with the reason when it is not
there. Tiny budgets: 4 envs, iterations of 8 steps. About 2-3 minutes on 2 cores with a warm Warp kernel
cache (``~/.cache/warp``), a few minutes more when it is cold.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from lm_reward_learning.config import config_dir, load_train_config
from lm_reward_learning.export import deploy_info, export_run
from lm_reward_learning.isaaclab_backend.launcher import IsaacLabUnavailableError, check_available, train_isaaclab
from lm_reward_learning.reward.program import default_program
from lm_reward_learning.robots import get_robot
from lm_reward_learning.training.trainer import prepare_run

pytestmark = [pytest.mark.isaaclab, pytest.mark.slow]


def _require_isaaclab(robot: str) -> None:
    try:
        check_available(robot)
    except IsaacLabUnavailableError as exc:
        pytest.skip(f"Isaac Lab venv not built: {exc}")


def _cfg(robot: str, iterations: int):
    """The shipped preset of ``robot`` for this backend (README: the G1's is ``g1_isaaclab.yaml``), shrunk."""
    path = config_dir() / "train" / "g1_isaaclab.yaml" if robot == "g1" else None
    return load_train_config(robot, path, iterations=iterations, **{"env.num_envs": 4, "ppo.num_steps_per_env": 8})


@pytest.fixture(scope="module")
def go2_run(tmp_path_factory):
    """A Go2 run trained 2 iterations through Isaac Lab, with its records and the worker's result."""
    _require_isaaclab("go2")
    cfg = _cfg("go2", 2)
    run = prepare_run("go2", default_program("go2"), cfg, tmp_path_factory.mktemp("runs"), "isaaclab")
    seen = []
    train_isaaclab(run, cfg, progress=False, on_iteration=lambda it, rec: seen.append(it), stall_timeout_s=600)
    result = json.loads((run.path / "isaaclab" / "result.json").read_text())
    return run, seen, result


def test_trains_into_our_run_directory(go2_run):
    run, seen, result = go2_run
    meta = run.meta()
    assert seen == [0, 1]
    assert meta["status"] == "done" and meta["iterations_done"] == 2 and meta["backend"] == "isaaclab"
    assert (run.checkpoints / "latest.pt").is_file()
    records = run.reward_stats()
    assert [r["iteration"] for r in records] == [0, 1]
    # The MuJoCo trainer's record format, with the program's own term names.
    expected_keys = {"iteration", "wall_s", "env_steps", "mean_episode_return", "mean_episode_length_s"}
    expected_keys |= {"collect_s", "learn_s"}  # rsl-rl's split of the iteration
    assert expected_keys | {"explosions", "terms"} == set(records[0])
    assert records[0]["env_steps"] == 4 * 8
    assert "track_lin_vel_xy_exp" in records[1]["terms"] and "feet_air_time" in records[1]["terms"]
    assert all(np.isfinite(v["mean"]) for v in records[1]["terms"].values())
    assert result["status"] == "done" and result["timings"]["env_steps_per_s"] > 0


def test_reward_state_agrees_with_isaaclab_own_frames(go2_run):
    """Our quaternion handling (x, y, z, w → w, x, y, z) reproduces Isaac Lab's own base-frame values."""
    _, _, result = go2_run
    checks = result["checks"]
    assert set(checks) == {"base_lin_vel_b", "base_ang_vel_b", "projected_gravity_b"}
    assert max(checks.values()) < 1e-4, checks


def test_exports_onnx_like_the_mujoco_backend(go2_run, tmp_path):
    import onnxruntime as ort

    run, _, _ = go2_run
    res = export_run(run, tmp_path / "policies")  # the MuJoCo backend's exporter loads the checkpoint
    info = yaml.safe_load(res.deploy_path.read_text())
    spec = get_robot("go2")
    cfg = _cfg("go2", 2)
    assert set(deploy_info(spec, cfg, 0.02, 0.005, run.meta())) <= set(info)
    assert info["trained_iterations"] == 2 and res.parity_max_abs_err < 1e-4
    sess = ort.InferenceSession(str(res.onnx_path), providers=["CPUExecutionProvider"])
    obs = np.zeros((3, info["observation"]["size"]), dtype=np.float32)
    (actions,) = sess.run(["actions"], {"obs": obs})
    assert actions.shape == (3, spec.num_joints) and np.isfinite(actions).all()


def test_resume_continues_the_run(go2_run):
    run, _, _ = go2_run
    seen = []
    train_isaaclab(run, _cfg("go2", 3), resume=True, progress=False, on_iteration=lambda it, rec: seen.append(it))
    assert seen == [2]
    assert run.meta()["iterations_done"] == 3 and [r["iteration"] for r in run.reward_stats()] == [0, 1, 2]


def test_humanoid_trains(tmp_path):
    _require_isaaclab("g1")
    cfg = _cfg("g1", 1)
    run = prepare_run("g1", default_program("g1"), cfg, tmp_path, "isaaclab")
    train_isaaclab(run, cfg, progress=False, stall_timeout_s=600)
    records = run.reward_stats()
    assert run.meta()["status"] == "done" and len(records) == 1
    assert "base_height_l2" in records[0]["terms"]


def test_killing_lmrl_train_stops_the_isaaclab_worker(tmp_path):
    """``kill -9`` of ``lmrl train --backend isaaclab`` leaves no worker training on (parent-death signal)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    _require_isaaclab("go2")
    runs = tmp_path / "runs"
    config = tmp_path / "train.yaml"
    config.write_text("env:\n  num_envs: 4\nppo:\n  num_steps_per_env: 8\n")
    cli = subprocess.Popen(
        [sys.executable, "-m", "lm_reward_learning.cli", "train", "--backend", "isaaclab", "--iterations", "500",
         "--config", str(config), "--runs-dir", str(runs), "--no-video", "--no-export", "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker_pid = None
    deadline = time.monotonic() + 600
    try:
        while worker_pid is None and time.monotonic() < deadline and cli.poll() is None:
            for progress in runs.glob("*/isaaclab/progress.jsonl"):
                events = [json.loads(line) for line in progress.read_text().splitlines() if line.strip()]
                if any(e["event"] == "iteration" for e in events):
                    worker_pid = next(e["pid"] for e in events if e["event"] == "started")
            time.sleep(0.5)
        assert worker_pid is not None, "the worker did not start training"
        cli.send_signal(signal.SIGKILL)
        cli.wait()
        deadline = time.monotonic() + 20
        while _running(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _running(worker_pid), "the Isaac Lab worker kept running after lmrl train was killed"
    finally:
        if cli.poll() is None:
            cli.kill()
        if worker_pid is not None and _running(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
