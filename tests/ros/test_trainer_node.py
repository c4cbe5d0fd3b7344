"""``trainer_node`` as a real process with real rclpy: the ``train_policy`` action end to end.

One node process serves every goal of this module (see ``conftest.trainer``); an action client
(``rosside.py train``) sends each goal and reads the rollout bag back with rosbags. Budgets are tiny
(16 envs, 2 PPO iterations, a 1 s rollout = 50 policy steps at 50 Hz).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ros_harness import REPO, run_rosside, start_node, trainer_argv

pytestmark = pytest.mark.ros

ROLLOUT_STEPS = 50  # 1.0 s rollout / 0.02 s policy step
GO2_JOINTS = [f"{leg}_{part}_joint" for leg in ("FL", "FR", "RL", "RR") for part in ("hip", "thigh", "calf")]


def test_goal_trains_publishes_and_records_the_rollout(ros_env, trainer, tmp_path):
    out = run_rosside(ros_env, tmp_path, "train", "--iterations", "2", "--num-envs", "16", "--rollout-s", "1.0")

    assert out["status"] == "succeeded", out["message"]
    assert out["success"] and not out["cancelled"] and out["message"] == ""
    run = Path(out["run_dir"])
    assert run.parent == trainer.cwd / "runs"
    assert Path(out["checkpoint"]) == run / "checkpoints" / "latest.pt" and Path(out["checkpoint"]).is_file()
    assert Path(out["rollout_video"]).is_file()
    assert out["rollout_duration_s"] == pytest.approx(1.0)
    # The report: both PPO iterations, 16 envs x 24 steps each, the default program's terms.
    assert out["report"]["iterations_done"] == 2
    assert out["report"]["env_steps"] == 16 * 24
    assert "track_lin_vel_xy_exp" in out["report"]["terms"]

    # Feedback: the phases in order, one message per PPO iteration, progress never decreasing.
    phases = [f["phase"] for f in out["feedback"]]
    assert phases[0] == "validating" and "training" in phases and phases[-1] == "rollout"
    assert [f["iteration"] for f in out["feedback"] if f["phase"] == "training"][-2:] == [1, 2]
    progress = [f["progress"] for f in out["feedback"]]
    assert progress == sorted(progress) and progress[0] >= 0.0 and progress[-1] <= 1.0

    # Live: a best-effort (sensor-data QoS) subscriber received the reliable publishers' messages.
    assert all(n > 0 for n in out["live"].values()), out["live"]

    # The bag, read back with rosbags: every rollout step has an image, joint states and TF.
    bag = out["bag"]
    assert Path(out["rollout_bag"]) == run / "rollout_bag"
    assert "metadata.yaml" in bag["files"] and any(f.endswith(".mcap") for f in bag["files"])
    assert bag["counts"] == {
        "/rollout/image": ROLLOUT_STEPS,
        "/joint_states": ROLLOUT_STEPS,
        "/tf": ROLLOUT_STEPS,
        "/training/report": 1,
    }
    assert bag["summary"]["/rollout/image"] == ["sensor_msgs/msg/Image", ROLLOUT_STEPS]
    assert bag["summary"]["/tf"][0] == "tf2_msgs/msg/TFMessage"
    assert bag["image_shape"] == [72, 96, 3] and bag["image_encoding"] == "rgb8"
    assert bag["image_frame_id"] == "rollout_camera" and bag["image_nonblank"]
    assert bag["joint_names"] == GO2_JOINTS and bag["joint_lengths"] == [[12, 12, 12]]
    frames = {tuple(f) for f in bag["tf_frames"]}
    # odom -> base, then the Go2's body tree (MJCF names): base -> hips -> thighs -> calves.
    assert ("odom", "base") in frames
    assert {("base", "FL_hip"), ("FL_hip", "FL_thigh"), ("FL_thigh", "FL_calf"), ("RR_thigh", "RR_calf")} <= frames
    assert len(frames) == 1 + 12
    assert 0.15 < bag["tf_base_z"][0] < 0.45  # the base starts near its standing height (m)
    assert bag["stamps_increasing"]
    assert bag["report_terms"] == sorted(out["report"]["terms"])


def test_a_goal_on_an_existing_run_resumes_it(ros_env, trainer, tmp_path):
    run_dir = tmp_path / "learn" / "iter_01" / "cand_0" / "train"  # as the learn loop lays runs out
    first = run_rosside(
        ros_env, tmp_path, "train", "--iterations", "1", "--run-dir", str(run_dir), "--rollout-s", "0.2"
    )
    assert first["status"] == "succeeded", first["message"]
    assert Path(first["run_dir"]) == run_dir and Path(first["rollout_bag"]) == run_dir / "rollout_bag"

    again = run_rosside(
        ros_env, tmp_path, "train", "--iterations", "2", "--run-dir", str(run_dir), "--rollout-s", "0.2"
    )

    assert again["status"] == "succeeded", again["message"]
    assert again["report"]["iterations_done"] == 2
    # Resumed: no new validation, only the second PPO iteration trained; the first bag is kept.
    assert "validating" not in [f["phase"] for f in again["feedback"]]
    assert [f["iteration"] for f in again["feedback"] if f["phase"] == "training" and f["iteration"]] == [2]
    assert Path(again["rollout_bag"]) == run_dir / "rollout_bag_1"
    assert again["bag"]["counts"]["/rollout/image"] == 10 and (run_dir / "rollout_bag" / "metadata.yaml").is_file()


def test_cancel_mid_training_stops_the_worker(ros_env, trainer, tmp_path):
    out = run_rosside(
        ros_env, tmp_path, "train", "--iterations", "60", "--num-envs", "16", "--act-after-iterations", "1", "--cancel"
    )

    assert out["status"] == "canceled"
    assert out["cancelled"] and not out["success"]
    assert "cancelled during training" in out["message"] and "resume" in out["message"]
    run = Path(out["run_dir"])
    assert (run / "checkpoints" / "latest.pt").is_file()  # what was trained is kept
    assert not (run / "rollout_bag").exists()
    assert max(f["iteration"] for f in out["feedback"]) < 60
    assert trainer.proc.poll() is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--robot", "spot"], "unknown robot 'spot'; known robots: g1, go2"),
        (["--reward-path", "/nonexistent/reward.py"], "reward program /nonexistent/reward.py does not exist"),
        (["--num-envs", "16", "--reward-source", str(REPO / "tests" / "ros" / "bad_reward.txt")], "not allowed"),
    ],
    ids=["unknown-robot", "missing-reward-file", "reward-fails-validation"],
)
def test_bad_goals_are_aborted_with_the_reason(ros_env, trainer, tmp_path, args, expected):
    out = run_rosside(ros_env, tmp_path, "train", *args)

    assert out["accepted"] and out["status"] == "aborted"
    assert not out["success"] and not out["cancelled"]
    assert expected in out["message"]
    assert f"goal aborted: {out['message'][:40]}" in trainer.log_text()
    assert trainer.proc.poll() is None


def test_a_lost_worker_aborts_the_goal_and_the_node_keeps_serving(ros_env, trainer, tmp_path):
    out = run_rosside(
        ros_env,
        tmp_path,
        "train",
        "--iterations",
        "60",
        "--num-envs",
        "16",
        "--act-after-iterations",
        "1",
        "--kill-worker-of",
        str(trainer.proc.pid),
    )

    assert out["status"] == "aborted"
    assert "exited with code -9 during training" in out["message"]
    assert out["run_dir"]
    assert trainer.proc.poll() is None
    again = run_rosside(ros_env, tmp_path, "train", "--robot", "spot")  # still answering goals
    assert again["status"] == "aborted" and "unknown robot" in again["message"]


def test_invalid_parameters_stop_the_node_with_the_reason(ros_env, tmp_path):
    node = start_node(
        ros_env,
        tmp_path,
        trainer_argv(tmp_path / "runs", "-p", "camera_view:=top", "-p", "rollout_duration_s:=-1.0"),
        "bad_params",
    )
    assert node.proc.wait(90) == 2
    log = node.log_text()
    assert "camera_view='top' must be one of ['side', 'three_quarter', 'front', 'back']" in log
    assert "rollout_duration_s=-1.0 must be a number > 0" in log
