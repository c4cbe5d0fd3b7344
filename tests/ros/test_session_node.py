"""The bi-level loop over ROS 2 with real rclpy: ``learn_reward`` across four node processes.

``session_node``, ``trainer_node``, ``feedback_node`` and ``reward_synth_node`` run as processes (one
set for this module, in this run's namespace); an action client (``rosside.learn_main``) sends
``learn_reward`` goals, records the action feedback and what arrives on ``visual_feedback`` and
``reward_program`` (sensor-data QoS), and reads every rollout bag of a finished run back with rosbags.
Offline backends (``motion``/``rules``) and a tiny budget: 16 envs, 1 PPO iteration for the initial
program, 1 loop iteration of 1 PPO iteration, 2 s rollouts (100 policy steps at 50 Hz).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from ros_harness import (
    NAMESPACE,
    REPO,
    NodeProcess,
    launch_node_argv,
    node_argv,
    run_learn_client,
    start_node,
    trainer_argv,
)

pytestmark = pytest.mark.ros

TINY = {
    "robot": "go2",
    "iterations": 1,
    "candidates": 1,
    "initial_train_iterations": 1,
    "train_iterations": 1,
    "num_envs": 16,
    "rollout_s": 2.0,
    "num_frames": 2,
}
ROLLOUT_STEPS = 100  # 2 s / 0.02 s
KEY_ENV = "LMRL_TEST_API_KEY"  # the fake key of the openai backends (the endpoint is never reached)


@dataclass
class LearnNodes:
    """The four node processes, their working directory and the run/policy roots of the session."""

    session: NodeProcess
    trainer: NodeProcess
    feedback: NodeProcess
    synth: NodeProcess
    cwd: Path
    runs: Path
    policies: Path

    def all_alive(self) -> bool:
        return all(n.proc.poll() is None for n in (self.session, self.trainer, self.feedback, self.synth))


@pytest.fixture(scope="module")
def nodes(ros_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LearnNodes]:
    """The four nodes of the loop as processes, started together; the session reads ``TINY``."""
    cwd = tmp_path_factory.mktemp("session")
    (cwd / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    env = {**ros_env, KEY_ENV: "test-key"}
    runs, policies = cwd / "runs", cwd / "policies"
    session_args = [
        *("-p", f"learn_config:={cwd / 'tiny.yaml'}", "-p", f"runs_dir:={runs}", "-p", f"policies_dir:={policies}"),
        *("-p", "server_timeout_s:=10.0", "-p", "lost_server_s:=5.0"),
    ]
    procs = {
        "session": start_node(env, cwd, node_argv("session_node", *session_args), "session_node"),
        "trainer": start_node(env, cwd, trainer_argv(runs), "trainer_node"),
        "feedback": start_node(env, cwd, node_argv("feedback_node"), "feedback_node"),
        "synth": start_node(env, cwd, node_argv("reward_synth_node"), "reward_synth_node"),
    }
    try:
        for name, action in (
            ("session", "learn_reward"),
            ("trainer", "train_policy"),
            ("feedback", "get_visual_feedback"),
            ("synth", "synthesize_reward"),
        ):
            procs[name].wait_for(f"ready: action server '{action}'", timeout=120)
        yield LearnNodes(**procs, cwd=cwd, runs=runs, policies=policies)
    finally:
        for p in procs.values():
            p.stop()


def test_bad_goals_are_aborted_with_the_reason(ros_env, nodes, tmp_path):
    out = run_learn_client(
        ros_env,
        tmp_path,
        [
            {"video": "/nonexistent/horse.mp4"},
            {"robot": "spot"},
            {"feedback_backend": "gpt-vision"},
            {"synthesis_backend": "magic"},
            {"resume_run_dir": str(tmp_path)},
        ],
        timeout=120,
    )

    expected = [
        "Expert video /nonexistent/horse.mp4 does not exist",
        "unknown robot 'spot'; known robots: g1, go2",
        "unknown feedback 'gpt-vision'; choose one of motion, openai, gemini, human",
        "unknown synthesis 'magic'; choose one of rules, openai",
        "is not a learn run (no learn.yaml)",
    ]
    for goal, reason in zip(out["goals"], expected, strict=True):
        assert goal["accepted"] and goal["status"] == "aborted"
        assert not goal["success"] and not goal["cancelled"]
        assert goal["message"].startswith("bad goal: ") and reason in goal["message"], goal["message"]
        assert goal["feedback"] == []
    assert not nodes.runs.exists() or not any(nodes.runs.iterdir())  # nothing was created
    assert nodes.all_alive()


def test_learn_reward_round_trip(ros_env, nodes, tmp_path):
    out = run_learn_client(ros_env, tmp_path, [{"run_name": "rt"}])
    goal = out["goals"][0]

    assert goal["status"] == "succeeded", goal["message"]
    assert goal["success"] and goal["message"] == ""
    run = Path(goal["run_dir"])
    assert run == nodes.runs / "rt"
    assert Path(goal["onnx_path"]) == nodes.policies / "go2" / "rt" / "policy.onnx"
    assert Path(goal["onnx_path"]).is_file() and (Path(goal["onnx_path"]).parent / "deploy.yaml").is_file()
    assert Path(goal["report_path"]) == run / "report.html" and Path(goal["report_path"]).is_file()

    # The store is lmrl learn's: every step's file, written by the node that did the step.
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "done" and status["iterations_done"] == 1
    it = run / "iter_01"
    fb = json.loads((it / "feedback.json").read_text())
    assert fb["backend"] == "motion (heuristic analyser, not a VLM)" and fb["problems"]
    syn = json.loads((it / "cand_0" / "synthesis.json").read_text())
    assert syn["label"].startswith("rules (deterministic editor, not an LLM)") and syn["kept"] == "new"
    assert (it / "cand_0" / "diff.patch").read_text().startswith("--- previous")
    for f in ("side_by_side.mp4", "summary.json", "cand_0/program.py", "cand_0/score.json", "cand_0/rollout.npz"):
        assert (it / f).is_file(), f
    for k in (0, 1):  # the trainer trained each candidate into the store and its rollout was adopted
        cand = run / f"iter_{k:02d}" / "cand_0"
        assert (cand / "train" / "checkpoints" / "latest.pt").is_file()
        assert (cand / "rollout.mp4").is_file() and (cand / "score.json").is_file()
    assert yaml.safe_load((run / "learn.yaml").read_text())["num_envs"] == 16

    # Every rollout bag holds an image, joint states and TF for each of the 100 policy steps.
    assert set(goal["bags"]) == {"iter_00/cand_0/train/rollout_bag", "iter_01/cand_0/train/rollout_bag"}
    for name, bag in goal["bags"].items():
        counts = bag["counts"]
        assert counts["/rollout/image"] == counts["/joint_states"] == counts["/tf"] == ROLLOUT_STEPS, (name, counts)
        assert bag["image_nonblank"] and len(bag["joint_names"]) == 12
        assert ("odom", "base") in {tuple(f) for f in bag["tf_frames"]}

    # Action feedback: the loop's phases in order, the trainer's progress relayed, each candidate scored.
    phases = [f["phase"] for f in goal["feedback"]]
    assert phases[0] == "expert" and phases[-1] == "export"
    for phase in ("validating", "training", "rollout", "scoring", "feedback", "synthesis"):
        assert phase in phases, phase
    assert phases.index("feedback") < phases.index("synthesis") < len(phases) - 1
    scored = [f for f in goal["feedback"] if f["phase"] == "scoring" and "score" in f["metrics"]]
    assert [f["iteration"] for f in scored] == [0, 1] and all("forward_speed_mps" in f["metrics"] for f in scored)
    ppo = [f["metrics"] for f in goal["feedback"] if f["phase"] == "training" and "ppo_iteration" in f["metrics"]]
    assert ppo and ppo[-1]["ppo_iteration"] == ppo[-1]["ppo_iterations_total"] == 1  # the trainer's, relayed

    # The topics: one VisualFeedback (motion) and the kept RewardProgram with its diff, validated.
    assert [(m["iteration"], m["backend"]) for m in out["seen"]["visual_feedback"]] == [
        (1, "motion (heuristic analyser, not a VLM)")
    ]
    # feedback_node showed the backend the robot frames recorded in the initial policy's rollout bag.
    assert f"(bag:{run / 'iter_00' / 'cand_0' / 'train' / 'rollout_bag'})" in nodes.feedback.log_text()
    programs = out["seen"]["reward_program"]
    assert programs and programs[-1]["status"] == 1 and programs[-1]["sha_ok"]
    assert programs[-1]["diff"].startswith("--- previous")
    assert nodes.all_alive()


def test_a_run_made_through_ros_reports_and_resumes_without_training(ros_env, nodes, tmp_path):
    from lm_reward_learning.cli import main

    run = nodes.runs / "rt"
    if not (run / "status.json").is_file():
        pytest.skip("needs the round-trip run")
    ckpt = run / "iter_01" / "cand_0" / "train" / "checkpoints" / "latest.pt"
    mtime = ckpt.stat().st_mtime

    out = run_learn_client(ros_env, tmp_path, [{"resume_run_dir": str(run)}], timeout=180)

    goal = out["goals"][0]
    assert goal["status"] == "succeeded", goal["message"]
    phases = {f["phase"] for f in goal["feedback"]}
    assert not phases & {"training", "feedback", "synthesis"}  # every step was in the store
    assert ckpt.stat().st_mtime == mtime
    # lmrl itself reads and resumes it.
    assert main(["report", str(run)]) == 0
    assert main(["learn", "--resume", str(run), "--policies-dir", str(tmp_path / "pol"), "--no-progress"]) == 0
    assert ckpt.stat().st_mtime == mtime


def _copy_for_another_iteration(run: Path, dest: Path, **changes: object) -> Path:
    """A copy of a finished one-iteration run, configured for a second iteration (with ``changes``)."""
    shutil.copytree(run, dest)
    cfg = yaml.safe_load((dest / "learn.yaml").read_text())
    cfg.update(iterations=2, **changes)
    (dest / "learn.yaml").write_text(yaml.safe_dump(cfg))
    return dest


def test_a_lost_synthesis_backend_is_reported_in_the_result(ros_env, nodes, tmp_path):
    run = nodes.runs / "rt"
    if not (run / "status.json").is_file():
        pytest.skip("needs the round-trip run")
    endpoint = {"base_url": "http://127.0.0.1:9/v1", "api_key_env": KEY_ENV, "max_retries": 0, "timeout_s": 5.0}
    lost = _copy_for_another_iteration(run, nodes.runs / "lost", synthesis="openai", synthesis_endpoint=endpoint)

    out = run_learn_client(ros_env, tmp_path, [{"resume_run_dir": str(lost)}], timeout=180)

    goal = out["goals"][0]
    assert goal["status"] == "aborted" and not goal["success"]
    assert goal["message"].startswith("iteration 2 candidate 0: reward synthesis failed: cannot connect to ")
    assert "http://127.0.0.1:9/v1" in goal["message"]
    assert goal["run_dir"] == str(lost) and "resume it" in goal["message"]
    assert (lost / "iter_02" / "feedback.json").is_file()  # the upper level ran before the lower one failed
    status = json.loads((lost / "status.json").read_text())
    assert status["status"] == "failed" and "reward synthesis" in status["error"]
    assert "goal aborted: reward synthesis failed" in nodes.synth.log_text()
    assert nodes.all_alive()


def test_cancel_is_passed_on_to_the_running_training(ros_env, nodes, tmp_path):
    run = nodes.runs / "rt"
    if not (run / "status.json").is_file():
        pytest.skip("needs the round-trip run")
    again = _copy_for_another_iteration(run, nodes.runs / "cancel", train_iterations=50)

    out = run_learn_client(
        ros_env, tmp_path, [{"resume_run_dir": str(again), "_cancel_on_phase": "training"}], timeout=180
    )

    goal = out["goals"][0]
    assert goal["status"] == "canceled" and goal["cancelled"] and not goal["success"]
    assert goal["message"].startswith("cancelled during trainer_node (train_policy, iteration 2 candidate 0)")
    assert goal["run_dir"] == str(again) and "resume it" in goal["message"]
    assert (again / "iter_02" / "cand_0" / "synthesis.json").is_file()  # completed steps stay
    assert "cancelled during" in nodes.trainer.log_text()
    assert json.loads((again / "status.json").read_text())["status"] == "failed"
    assert nodes.all_alive()


def test_a_feedback_node_gone_mid_run_is_reported_in_the_result(ros_env, nodes, tmp_path):
    run = nodes.runs / "rt"
    if not (run / "status.json").is_file():
        pytest.skip("needs the round-trip run")
    gone = _copy_for_another_iteration(run, nodes.runs / "gone")
    assert nodes.feedback.stop() == 0  # the upper level's node is gone (this module's last test)

    out = run_learn_client(ros_env, tmp_path, [{"resume_run_dir": str(gone)}, {"robot": "spot"}], timeout=180)

    goal, after = out["goals"]
    assert goal["status"] == "aborted"
    assert "feedback_node (get_visual_feedback, iteration 2) is not available" in goal["message"], goal["message"]
    assert json.loads((gone / "status.json").read_text())["status"] == "failed"
    assert after["status"] == "aborted" and "unknown robot" in after["message"]  # the session keeps serving
    assert nodes.session.proc.poll() is None


def test_invalid_parameters_stop_the_session_node_with_the_reason(ros_env, tmp_path):
    argv = node_argv("session_node", "-p", "feedback:=gpt-vision", "-p", "server_timeout_s:=-1.0")
    node = start_node(ros_env, tmp_path, argv, "bad_session_params")
    assert node.proc.wait(90) == 2
    log = node.log_text()
    assert "feedback='gpt-vision' must be empty or one of ['motion', 'openai', 'gemini', 'human'" in log
    assert "server_timeout_s=-1.0 must be a number > 0" in log


def test_learn_launch_preset_reaches_the_session_node(ros_env, tmp_path):
    """``learn.launch.py preset:=...`` as launch_ros passes it: a preset that does not exist stops the node."""
    launch = REPO / "launch" / "learn.launch.py"
    argv = launch_node_argv(launch, "session_node", NAMESPACE, tmp_path, {"preset": "smok"})
    node = start_node(ros_env, tmp_path, argv, "session_bad_preset")
    assert node.proc.wait(90) == 2
    assert "preset='smok' must be a learn preset: one of ['default', 'smoke']" in node.log_text()
