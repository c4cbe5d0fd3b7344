"""The launcher against a fake worker: progress relayed, errors, a dead worker, cancel, timeouts.

The fake (``fake_isaaclab_worker.py``) stands in for ``.venv-isaaclab/bin/python -m ...worker`` through
``LMRL_ISAACLAB_PYTHON``, so these tests need no Isaac Lab and take seconds.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from lm_reward_learning.config import load_train_config
from lm_reward_learning.errors import CheckpointError
from lm_reward_learning.isaaclab_backend.launcher import (
    IsaacLabCancelledError,
    IsaacLabTimeoutError,
    IsaacLabUnavailableError,
    IsaacLabWorkerError,
    train_isaaclab,
)
from lm_reward_learning.isaaclab_backend.protocol import WorkerRequest
from lm_reward_learning.training.run_dir import RunDir

FAKE = Path(__file__).with_name("fake_isaaclab_worker.py")


@pytest.fixture
def fake_env(tmp_path, monkeypatch):
    """Point the launcher at the fake worker and a fake asset folder; return a setter for the mode."""
    # the worker's environment is scrubbed (sandbox), so the mode travels in a file the wrapper reads
    mode_file = tmp_path / "fake-mode"
    mode_file.write_text("ok")
    python = tmp_path / "fake-python"
    python.write_text(f'#!/bin/sh\nFAKE_WORKER_MODE=$(cat "{mode_file}") exec "{sys.executable}" "{FAKE}" "$@"\n')
    python.chmod(0o755)
    assets = tmp_path / "assets"
    (assets / "go2").mkdir(parents=True)
    (assets / "go2" / "robot.usdc").write_bytes(b"")
    monkeypatch.setenv("LMRL_ISAACLAB_PYTHON", str(python))
    monkeypatch.setenv("LMRL_ISAACLAB_ASSETS", str(assets))
    return mode_file.write_text


@pytest.fixture
def run(tmp_path) -> RunDir:
    r = RunDir.create_at(tmp_path / "run")
    r.write_meta(robot="go2", status="validated", iterations_done=0)
    return r


@pytest.fixture
def cfg():
    return load_train_config("go2", iterations=2, **{"env.num_envs": 4})


def test_done_relays_every_iteration_and_writes_the_request(fake_env, run, cfg):
    fake_env("ok")
    seen = []
    out = train_isaaclab(run, cfg, progress=False, on_iteration=lambda it, rec: seen.append((it, rec["terms"])))
    assert out is run
    assert [it for it, _ in seen] == [0, 1] and seen[0][1] == {"alive": {"mean": 1.0, "min": 1.0, "max": 1.0}}
    assert run.meta()["status"] == "done" and len(run.reward_stats()) == 2
    req = WorkerRequest.read(run.path / "isaaclab" / "request.json")
    assert req.robot == "go2" and req.iterations == 2 and req.env["num_envs"] == 4
    assert [t["name"] for t in req.observation_layout["policy"]][:2] == ["base_ang_vel", "projected_gravity"]
    assert req.train_cfg["obs_groups"] == {"actor": ["policy"], "critic": ["policy", "critic"]}
    assert req.physics_dt == pytest.approx(0.005)


def test_worker_error_is_raised_with_its_message(fake_env, run, cfg):
    fake_env("error")
    with pytest.raises(IsaacLabWorkerError, match="the simulator said no") as info:
        train_isaaclab(run, cfg, progress=False)
    assert info.value.kind == "RuntimeError" and info.value.log_path.name == "worker.log"


def test_checkpoint_error_keeps_its_type(fake_env, run, cfg):
    fake_env("checkpoint")
    with pytest.raises(CheckpointError, match="the simulator said no"):
        train_isaaclab(run, cfg, progress=False)


def test_dead_worker_is_reported_with_signal_phase_and_log(fake_env, run, cfg):
    fake_env("die")
    with pytest.raises(IsaacLabWorkerError, match=r"SIGKILL.*during training \(after iteration 0\)") as info:
        train_isaaclab(run, cfg, progress=False)
    assert info.value.kind == "died" and "about to be killed" in str(info.value)


def test_cancel_event_stops_the_worker_cleanly(fake_env, run, cfg):
    fake_env("slow")
    cancel = threading.Event()

    def on_iteration(it, rec):
        if it == 2:
            cancel.set()

    with pytest.raises(IsaacLabCancelledError, match="checkpoints are kept"):
        train_isaaclab(run, cfg, progress=False, on_iteration=on_iteration, cancel=cancel, cancel_grace_s=10)
    assert (run.path / "isaaclab" / "cancel").exists()
    assert 3 <= run.meta()["iterations_done"] < 100  # stopped soon after the request


def test_callback_exception_stops_the_worker_and_propagates(fake_env, run, cfg):
    fake_env("slow")

    class StopError(Exception):
        pass

    def on_iteration(it, rec):
        raise StopError

    with pytest.raises(StopError):
        train_isaaclab(run, cfg, progress=False, on_iteration=on_iteration, cancel_grace_s=10)
    assert run.meta()["iterations_done"] < 100


def test_stalled_worker_is_killed(fake_env, run, cfg):
    fake_env("stubborn")  # ignores the cancel file and SIGTERM
    with pytest.raises(IsaacLabTimeoutError, match="reported nothing for 1 s during training"):
        train_isaaclab(run, cfg, progress=False, stall_timeout_s=1.0, cancel_grace_s=0.5)


def test_overall_timeout(fake_env, run, cfg):
    fake_env("slow")
    with pytest.raises(IsaacLabTimeoutError, match="past its 1 s timeout"):
        train_isaaclab(run, cfg, progress=False, timeout_s=1.0, cancel_grace_s=5)


def test_missing_environment_names_the_setup_script(run, cfg, monkeypatch, tmp_path):
    monkeypatch.setenv("LMRL_ISAACLAB_PYTHON", str(tmp_path / "nope" / "python"))
    with pytest.raises(IsaacLabUnavailableError, match=r"scripts/setup_isaaclab\.sh"):
        train_isaaclab(run, cfg, progress=False)


def test_half_built_environment_is_reported(run, cfg, monkeypatch, tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")  # an interrupted setup: interpreter, no install stamp
    monkeypatch.delenv("LMRL_ISAACLAB_PYTHON", raising=False)
    monkeypatch.setenv("LMRL_ISAACLAB_VENV", str(venv))
    with pytest.raises(IsaacLabUnavailableError, match=r"incomplete.*setup_isaaclab\.sh"):
        train_isaaclab(run, cfg, progress=False)


def test_the_g1_walking_preset_is_refused_and_the_isaaclab_preset_accepted(tmp_path):
    """config/train/g1.yaml (legs, gait clock, symmetry) is MuJoCo-only; the error names g1_isaaclab.yaml,
    which the Isaac Lab task accepts (all 29 joints)."""
    from lm_reward_learning.config import config_dir
    from lm_reward_learning.errors import ConfigError
    from lm_reward_learning.isaaclab_backend.launcher import make_request

    r = RunDir.create_at(tmp_path / "run")
    r.write_meta(robot="g1", status="validated", iterations_done=0)
    files = {name: tmp_path / name for name in ("progress", "result", "cancel")}
    with pytest.raises(ConfigError, match=r"config/train/g1_isaaclab\.yaml"):
        make_request(r, load_train_config("g1"), resume=False, warm_start=None, device="cpu", files=files)
    preset = load_train_config("g1", config_dir() / "train" / "g1_isaaclab.yaml")
    request = make_request(r, preset, resume=False, warm_start=None, device="cpu", files=files)
    assert isinstance(request, WorkerRequest)
