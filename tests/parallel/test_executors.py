"""Both executors, same semantics: values in order, a raising task, a dying worker, a timeout; and a
Ray cluster address that does not answer."""

from __future__ import annotations

import os
import socket
import time

import pytest
import toy_tasks

from lm_reward_learning.parallel import (
    LocalProcessExecutor,
    RayClusterError,
    RayExecutor,
    Resources,
    probe_ray_cluster,
)

TASKS = [("square", 3), ("fail", 1), ("die", 2), ("square", 4)]


def _check(results) -> None:
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert results[0].ok and results[0].value == 9 and results[3].ok and results[3].value == 16
    err = results[1]
    assert not err.ok and err.failure == "error" and err.error_kind == "ValueError"
    assert "bad input 1" in err.message and "toy_tasks.py" in err.traceback
    dead = results[2]
    assert not dead.ok and dead.failure == "died" and "died" in dead.message
    assert f"on {socket.gethostname()}" in dead.worker and "pid " in dead.worker  # the dead worker is named


def test_local_pool_reports_each_outcome():
    results = LocalProcessExecutor(max_workers=2).map(toy_tasks.dispatch, TASKS)
    _check(results)
    assert "SIGKILL" in results[2].message


def test_local_pool_runs_tasks_in_parallel():
    results = LocalProcessExecutor(max_workers=2).map(toy_tasks.dispatch, [("nap", 1), ("nap", 2)])
    (s0, e0), (s1, e1) = results[0].value, results[1].value
    assert max(s0, s1) < min(e0, e1)  # the two 1 s naps overlap
    assert results[0].worker != results[1].worker


def test_local_pool_with_one_worker_runs_in_turn():
    results = LocalProcessExecutor(max_workers=1).map(toy_tasks.dispatch, [("nap", 1), ("nap", 2)])
    (_, e0), (s1, _) = results[0].value, results[1].value
    assert s1 >= e0


def test_local_pool_timeout():
    (res,) = LocalProcessExecutor(max_workers=1, timeout_s=1.0).map(toy_tasks.dispatch, [("sleep_long", 0)])
    assert not res.ok and res.failure == "timeout"
    assert "1 s limit" in res.message and res.worker.startswith("pid ")


def test_local_pool_size_follows_resources():
    assert LocalProcessExecutor(resources=Resources(num_cpus=1e6)).max_workers == 1


def test_ray_reports_each_outcome(ray_executor):
    results = ray_executor.map(toy_tasks.dispatch, TASKS)
    _check(results)
    assert results[0].worker.startswith("ray node")


def test_ray_timeout(ray_executor):
    ex = RayExecutor(timeout_s=1.0)  # shares the running instance
    (res,) = ex.map(toy_tasks.dispatch, [("sleep_long", 0)])
    assert not res.ok and res.failure == "timeout"
    assert res.worker.startswith("ray node") and " worker " in res.worker and " pid " in res.worker


def test_ray_time_limit_counts_from_each_task_start(ray_executor):
    # 4 naps of 1 s on 2 CPUs: the last two wait ~1 s for a slot and end ~2 s after submission, past a
    # 1.8 s limit counted from submission, within one counted from their own start.
    results = RayExecutor(timeout_s=1.8).map(toy_tasks.dispatch, [("nap", i) for i in range(4)])
    assert [r.ok for r in results] == [True] * 4, [r.message for r in results]
    starts = sorted(r.value[0] for r in results)
    assert starts[2] - starts[0] >= 0.9  # two of them really waited for a slot


def test_unreachable_ray_address_fails_within_the_limit(monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # "auto" with RAY_ADDRESS naming a dead head: Ray alone would retry it for minutes.
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    t0 = time.monotonic()
    with pytest.raises(RayClusterError, match=r"--ray-address auto \(nothing answered within 4 s\)") as info:
        probe_ray_cluster("auto", timeout_s=4.0)
    assert time.monotonic() - t0 < 10.0
    assert "ray start --head" in str(info.value)


def test_probe_of_a_running_cluster_succeeds(ray_executor):
    import ray

    assert probe_ray_cluster(ray.get_runtime_context().gcs_address, timeout_s=60.0) == 2.0  # the session's instance


def test_workers_do_not_inherit_api_keys(monkeypatch):
    """Only the process that calls the endpoint holds the key: pool workers start without it."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-only")
    monkeypatch.setenv("MY_LLM_ENDPOINT_CRED", "named-by-api-key-env")
    monkeypatch.setenv("MUJOCO_GL", "egl")
    names = ["OPENAI_API_KEY", "MY_LLM_ENDPOINT_CRED", "MUJOCO_GL"]
    ex = LocalProcessExecutor(1, withheld_env=["MY_LLM_ENDPOINT_CRED"])
    (res,) = ex.map(toy_tasks.environment, [names])
    assert res.ok, res.message
    assert res.value == {"OPENAI_API_KEY": None, "MY_LLM_ENDPOINT_CRED": None, "MUJOCO_GL": "egl"}
    assert os.environ["OPENAI_API_KEY"] == "sk-parent-only"  # the parent keeps it
