"""Candidates of one learn iteration trained in parallel into one learn store (Ray and local pool).

Tiny budgets: 16 envs, 2 PPO iterations (4 for the kill tests, so there is training to interrupt),
1 s rollouts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml

from lm_reward_learning.bilevel import steps
from lm_reward_learning.bilevel.config import LearnConfig
from lm_reward_learning.bilevel.loop import candidate_executor
from lm_reward_learning.bilevel.steps import Candidate
from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.errors import ConfigError
from lm_reward_learning.parallel import (
    FailedCandidate,
    LocalProcessExecutor,
    RayExecutor,
    mark_run_failed,
    train_candidates,
)
from lm_reward_learning.reward.program import default_program
from lm_reward_learning.training.run_dir import RunDir

SOURCE = default_program("go2").source
# The same program with a different weight, so the two candidates differ.
OTHER = SOURCE.replace('"track_lin_vel_xy_exp": {"weight": 1.5', '"track_lin_vel_xy_exp": {"weight": 2.0')


def _cfg(train_iterations: int, **kw) -> LearnConfig:
    return LearnConfig(
        robot="go2",
        mode="bilevel",
        num_envs=16,
        initial_train_iterations=1,
        train_iterations=train_iterations,
        rollout_s=1.0,
        **{"candidates": 2, **kw},
    ).check()


def _store(tmp_path: Path, cfg: LearnConfig) -> LearnStore:
    return LearnStore.create(tmp_path / "learn", cfg)


def _kill_when_training(store: LearnStore, k: int, m: int, timeout_s: float = 240.0) -> threading.Thread:
    """Kill candidate m's worker process once its PPO training has started (run.yaml status)."""

    def watch() -> None:
        d = store.path / f"iter_{k:02d}" / f"cand_{m}"
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            run_yaml = d / "train" / "run.yaml"
            if (d / "worker.json").is_file() and run_yaml.is_file() and "status: training" in run_yaml.read_text():
                os.kill(json.loads((d / "worker.json").read_text())["pid"], signal.SIGKILL)
                return
            time.sleep(0.05)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


def test_ray_trains_two_candidates_in_parallel_into_one_store(tmp_path, ray_executor):
    cfg = _cfg(2)
    store = _store(tmp_path, cfg)
    out = train_candidates(cfg, store, 1, [SOURCE, OTHER], None, None, ray_executor)
    assert [type(c) for c in out] == [Candidate, Candidate]
    assert [(c.iteration, c.index) for c in out] == [(1, 0), (1, 1)]
    for c in out:
        d = store.path / "iter_01" / f"cand_{c.index}"
        assert c.run == d / "train" and (d / "score.json").is_file() and c.rollout_video.is_file()
        assert json.loads((d / "score.json").read_text())["score"] == c.score["score"]
        assert (d / "train" / "checkpoints" / "latest.pt").is_file()
        assert len(json.loads((d / "train" / "reward_stats.json").read_text())) == 2
    assert out[1].source == OTHER
    workers = [json.loads((store.path / "iter_01" / f"cand_{m}" / "worker.json").read_text()) for m in (0, 1)]
    assert workers[0]["pid"] != workers[1]["pid"] != os.getpid()
    # Both ran at once: each started before the other's run finished.
    ends = [(store.path / "iter_01" / f"cand_{m}" / "score.json").stat().st_mtime for m in (0, 1)]
    assert workers[0]["started"] < ends[1] and workers[1]["started"] < ends[0]


def test_ray_worker_killed_mid_training_is_a_failed_candidate(tmp_path, ray_executor):
    cfg = _cfg(4)
    store = _store(tmp_path, cfg)
    watcher = _kill_when_training(store, 1, 1)
    out = train_candidates(cfg, store, 1, [SOURCE, OTHER], None, None, ray_executor)
    watcher.join(timeout=5)
    assert isinstance(out[0], Candidate)
    failed = out[1]
    assert isinstance(failed, FailedCandidate) and failed.failure == "died" and failed.index == 1
    assert failed.value == float("-inf") and failed.source == OTHER
    record = json.loads((store.path / "iter_01" / "cand_1" / "failed.json").read_text())
    assert record["failure"] == "died" and record["error_kind"] == failed.error_kind
    _check_worker_death_is_recorded(store, 1)


def test_local_pool_same_semantics_killed_and_failing(tmp_path):
    cfg = _cfg(4)
    store = _store(tmp_path, cfg)
    watcher = _kill_when_training(store, 1, 0)
    bad = "def compute_reward(state):\n    import os\n    return state.base_height, {}\n"  # fails validation
    out = train_candidates(cfg, store, 1, [SOURCE, bad], None, None, LocalProcessExecutor(max_workers=2))
    watcher.join(timeout=5)
    killed, invalid = out
    assert isinstance(killed, FailedCandidate) and killed.failure == "died" and "SIGKILL" in killed.message
    assert isinstance(invalid, FailedCandidate) and invalid.failure == "error"
    assert invalid.error_kind == "RewardValidationError" and "import" in invalid.message
    for m in (0, 1):
        assert (store.path / "iter_01" / f"cand_{m}" / "failed.json").is_file()
    _check_worker_death_is_recorded(store, 0)
    invalid_run = RunDir.open(store.path / "iter_01" / "cand_1" / "train").meta()
    assert invalid_run["status"] == "invalid_reward" and "failure" not in invalid_run  # its own status is kept
    # --resume trains the killed candidate again (from its checkpoint when it has one) to the end.
    steps.train_candidate(cfg, store, 1, 0, SOURCE, None, None, progress=False)
    meta = RunDir.open(store.path / "iter_01" / "cand_0" / "train").meta()
    assert meta["status"] == "done" and meta.get("failure") is None and meta["iterations_done"] == 4


def _check_worker_death_is_recorded(store: LearnStore, m: int) -> None:
    """failed.json names the worker; run.yaml says failed (not training), why and where."""
    d = store.path / "iter_01" / f"cand_{m}"
    record = json.loads((d / "failed.json").read_text())
    worker = json.loads((d / "worker.json").read_text())
    assert f"pid {worker['pid']} " in record["worker"] and f"on {socket.gethostname()}" in record["worker"]
    meta = RunDir.open(d / "train").meta()
    assert meta["status"] == "failed"
    assert meta["failure"]["kind"] == "died" and meta["failure"]["worker"] == record["worker"]
    assert meta["failure"]["message"] == record["message"]


def test_candidate_timeout_from_the_learn_config_stops_the_candidate(tmp_path):
    cfg = _cfg(50, candidate_timeout_s=2.0)  # 50 PPO iterations do not fit in 2 s
    store = _store(tmp_path, cfg)
    (out,) = train_candidates(cfg, store, 1, [SOURCE], None, None)  # the default executor takes the limit
    assert isinstance(out, FailedCandidate) and out.failure == "timeout" and out.time_limit_s == 2.0
    record = json.loads((store.path / "iter_01" / "cand_0" / "failed.json").read_text())
    assert record["failure"] == "timeout" and record["time_limit_s"] == 2.0
    assert "2 s limit" in record["message"] and record["worker"].startswith("pid ")


def test_a_stopped_run_is_marked_failed_and_a_finished_one_is_left_alone(tmp_path):
    def failed(run: Path) -> FailedCandidate:
        return FailedCandidate(1, 0, SOURCE, 1, "timeout", "Timeout", "ran past 9 s", "", run, "pid 7 on h", 9.1, 9.0)

    training = RunDir.create_at(tmp_path / "a")
    training.write_meta(robot="go2", status="training", iterations_done=3)
    mark_run_failed(failed(training.path))
    meta = training.meta()
    assert meta["status"] == "failed" and meta["iterations_done"] == 3
    assert meta["failure"] == {
        "kind": "timeout", "error_kind": "Timeout", "message": "ran past 9 s", "worker": "pid 7 on h",
        "time_limit_s": 9.0,
    }  # fmt: skip
    done = RunDir.create_at(tmp_path / "b")
    done.write_meta(robot="go2", status="done")
    mark_run_failed(failed(done.path))
    assert done.meta() == {"robot": "go2", "status": "done"}
    mark_run_failed(failed(tmp_path / "never_made"))  # failed before its run directory existed: nothing to do


def test_candidate_executor_applies_the_time_limit_everywhere(ray_executor):
    with candidate_executor(_cfg(1, candidates=1)) as ex:
        assert ex is None  # one candidate, no limit: trains here
    for parallel, kind in (("none", LocalProcessExecutor), ("local", LocalProcessExecutor), ("ray", RayExecutor)):
        with candidate_executor(_cfg(1, parallel=parallel, candidate_timeout_s=30.0)) as ex:
            assert isinstance(ex, kind) and ex.timeout_s == 30.0
            if parallel == "none":
                assert ex.max_workers == 1  # one at a time, in a process the limit can stop
    with pytest.raises(ConfigError, match="candidate_timeout_s must be a positive number"):
        _cfg(1, candidate_timeout_s=0.0)


@pytest.mark.parametrize("preset", ["default", "smoke"])
def test_shipped_presets_set_a_candidate_time_limit(preset):
    from lm_reward_learning.bilevel.config import load_learn_config
    from lm_reward_learning.config import config_dir

    data = yaml.safe_load((config_dir() / "learn" / f"{preset}.yaml").read_text())
    assert data["candidate_timeout_s"] > 0
    assert load_learn_config(preset).candidate_timeout_s == data["candidate_timeout_s"]


def test_a_candidate_whose_worker_died_resumes_from_its_checkpoint(tmp_path):
    store = _store(tmp_path, _cfg(2))
    steps.train_candidate(_cfg(2), store, 1, 0, SOURCE, None, None, progress=False)
    run = RunDir.open(store.path / "iter_01" / "cand_0" / "train")
    before = run.reward_stats()
    run.write_meta(status="failed", failure={"kind": "died", "message": "killed by SIGKILL"})  # as _outcome leaves it
    steps.train_candidate(_cfg(3), store, 1, 0, SOURCE, None, None, progress=False)  # --resume, one more iteration
    after = run.reward_stats()
    assert len(after) == 3 and after[:2] == before  # iterations 0 and 1 were kept, not trained again
    assert run.meta()["status"] == "done" and run.meta()["failure"] is None
