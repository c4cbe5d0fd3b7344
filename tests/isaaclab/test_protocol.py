"""The launcher-worker file protocol: request round trip, progress lines, result checks."""

from __future__ import annotations

import json

import pytest

from lm_reward_learning.isaaclab_backend.protocol import (
    ProgressReader,
    ProgressWriter,
    ProtocolError,
    WorkerRequest,
    WorkerResult,
)


def _request(tmp_path) -> WorkerRequest:
    return WorkerRequest(
        run_dir=str(tmp_path),
        robot="go2",
        iterations=3,
        seed=1,
        torch_threads=1,
        resume=False,
        warm_start=None,
        device="cpu",
        env={"num_envs": 8},
        train_cfg={"num_steps_per_env": 8},
        observation_layout={"policy": [], "critic": []},
        physics_dt=0.005,
        assets_dir=str(tmp_path),
        progress_file=str(tmp_path / "p.jsonl"),
        result_file=str(tmp_path / "r.json"),
        cancel_file=str(tmp_path / "cancel"),
    )


def test_request_round_trip(tmp_path):
    req = _request(tmp_path)
    req.write(tmp_path / "req.json")
    assert WorkerRequest.read(tmp_path / "req.json") == req


def test_request_of_another_format_is_refused(tmp_path):
    data = json.loads(json.dumps(_request(tmp_path).__dict__))
    data["format"] = 99
    (tmp_path / "req.json").write_text(json.dumps(data))
    with pytest.raises(ProtocolError, match=r"format 99.*setup_isaaclab\.sh"):
        WorkerRequest.read(tmp_path / "req.json")


def test_progress_reader_waits_for_complete_lines(tmp_path):
    path = tmp_path / "p.jsonl"
    reader = ProgressReader(path)
    assert reader.poll() == []  # no file yet
    ProgressWriter(path).emit("started", pid=1)
    with path.open("a") as f:
        f.write('{"event": "iteration", "iter')  # a half-written line
    events = reader.poll()
    assert [e["event"] for e in events] == ["started"] and events[0]["pid"] == 1
    with path.open("a") as f:
        f.write('ation": 0}\nnot json\n')
    assert reader.poll() == [{"event": "iteration", "iteration": 0}]  # the damaged line is skipped
    assert reader.poll() == []


def test_result_checks(tmp_path):
    WorkerResult("done", 3, timings={"train_s": 1.0}).write(tmp_path / "r.json")
    assert WorkerResult.read(tmp_path / "r.json").iterations_done == 3
    (tmp_path / "bad.json").write_text('{"status": "maybe"}')
    with pytest.raises(ProtocolError, match="maybe"):
        WorkerResult.read(tmp_path / "bad.json")
    with pytest.raises(ProtocolError, match="does not exist"):
        WorkerResult.read(tmp_path / "missing.json")
