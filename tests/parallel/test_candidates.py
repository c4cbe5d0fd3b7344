"""Candidates of one learn iteration trained in parallel into one learn store (Ray and local pool).

Tiny budgets: 16 envs, 2 PPO iterations (4 for the kill tests, so there is training to interrupt),
1 s rollouts.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

from lm_reward_learning.bilevel.config import LearnConfig
from lm_reward_learning.bilevel.steps import Candidate
from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.parallel import FailedCandidate, LocalProcessExecutor, train_candidates
from lm_reward_learning.reward.program import default_program

SOURCE = default_program("go2").source
# The same program with a different weight, so the two candidates differ.
OTHER = SOURCE.replace('"track_lin_vel_xy_exp": {"weight": 1.5', '"track_lin_vel_xy_exp": {"weight": 2.0')


def _cfg(train_iterations: int) -> LearnConfig:
    return LearnConfig(
        robot="go2",
        mode="bilevel",
        num_envs=16,
        initial_train_iterations=1,
        train_iterations=train_iterations,
        rollout_s=1.0,
        candidates=2,
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
