"""A node exits on Ctrl-C even while an action goal's callback cannot be interrupted.

``feedback_node`` with the ``human`` backend at a terminal (stdin is a pseudo-terminal here) waits in
``input()`` for the person's answer; the client leaves that goal running, asks to cancel it (refused:
a backend call is not interruptible) and sends a second goal (aborted: busy). SIGINT must then end the
process: rclpy's executor runs callbacks in worker threads that Python joins at exit, so before
``spin_node`` stopped waiting for them the process hung until the person answered.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import time

import numpy as np
import pytest
import yaml
from ros_harness import NAMESPACE, ROSSIDE, VENV_PYTHON, NodeProcess, node_argv

pytestmark = pytest.mark.ros


def _learn_run(tmp_path):
    """A learn run with a trained-and-scored initial candidate (its files only) and the human backend."""
    from lm_reward_learning.video.io import write_video

    run = tmp_path / "run"
    cand = run / "iter_00" / "cand_0"
    cand.mkdir(parents=True)
    (run / "learn.yaml").write_text(yaml.safe_dump({"feedback": "human", "num_frames": 4}))
    (cand / "score.json").write_text("{}")
    (cand / "program.py").write_text("def compute_reward(state):\n    return state.commands[:, 0], {}\n")
    frames = np.zeros((30, 64, 64, 3), dtype=np.uint8)
    frames[:, :, :, 0] = np.arange(30, dtype=np.uint8)[:, None, None] * 8
    write_video(cand / "rollout.mp4", frames, 30.0)
    return run


def test_feedback_node_exits_on_sigint_while_a_goal_waits_for_a_person(ros_env, tmp_path):
    run = _learn_run(tmp_path)
    log = tmp_path / "feedback_node.log"
    controller, terminal = pty.openpty()  # the node's stdin: a terminal nobody types into
    with log.open("w") as f:
        proc = subprocess.Popen(
            node_argv("feedback_node"), env=ros_env, cwd=tmp_path, stdin=terminal, stdout=f, stderr=subprocess.STDOUT
        )
    node = NodeProcess(proc, log, tmp_path)
    try:
        node.wait_for("ready: action server 'get_visual_feedback'", timeout=90)
        out_file = tmp_path / "client.json"
        client = subprocess.run(
            [str(VENV_PYTHON), str(ROSSIDE), "--out", str(out_file), "--namespace", NAMESPACE, "feedback",
             "--run-dir", str(run)],
            env=ros_env, cwd=tmp_path, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert client.returncode == 0, client.stderr[-3000:]
        out = json.loads(out_file.read_text())
        assert out["first_accepted"] and out["cancel_rejected"] and out["second_accepted"], out
        assert out["second_message"] == "feedback_node is busy with another goal"
        node.wait_for("=== Human feedback, iteration 1 (go2) ===", timeout=120)  # goal 1 waits in input()

        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            code = None
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        os.close(controller)
        os.close(terminal)
    assert code == 0, f"feedback_node did not exit on SIGINT (code {code}):\n{node.log_text()[-3000:]}"
    assert elapsed < 15.0
    assert "callback(s) still running after" in node.log_text()
