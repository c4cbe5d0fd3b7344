"""The ROS side of the ROS tests: run with ``.venv-ros/bin/python`` (real rclpy), never imported by pytest.

The main test venv has no rclpy (the ROS wheels re-exec Python and stay in ``.venv-ros``), so the tests
in this directory start this script as a process and read the JSON it writes to ``--out``:

* ``train``: an action client of ``train_policy``: sends one goal, records feedback and what its
  sensor-data-QoS subscriptions receive live, optionally cancels it or kills the node's worker process
  after N PPO iterations, and reads the rollout bag back with ``rosbags``.
* ``image``: numpy ⇄ ``sensor_msgs/Image`` checks, and numpy vs cv_bridge where cv_bridge exists.
* ``bag``: write and read a bag with every rollout topic, our TrainingReport included.
* ``feedback``: a ``get_visual_feedback`` client that leaves a goal running, asks to cancel it, and
  sends a second goal.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def worker_pids(server_pid: int) -> list[int]:
    """Training-worker processes (multiprocessing spawn children) of the node process ``server_pid``."""
    pids = []
    for task in Path(f"/proc/{server_pid}/task").iterdir():
        for pid in (task / "children").read_text().split():
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"spawn_main" in cmd:
                pids.append(int(pid))
    return pids


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    import rclpy
    from action_msgs.msg import GoalStatus
    from lm_reward_learning_interfaces.action import TrainPolicy
    from lm_reward_learning_interfaces.msg import RewardProgram
    from rclpy.action import ActionClient
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image, JointState
    from tf2_msgs.msg import TFMessage

    rclpy.init()
    node = rclpy.create_node("lmrl_test_client", namespace=args.namespace)
    live = {"rollout/image": 0, "joint_states": 0, "/tf": 0}
    for topic, typ in (("rollout/image", Image), ("joint_states", JointState), ("/tf", TFMessage)):
        node.create_subscription(
            typ, topic, lambda _m, t=topic: live.__setitem__(t, live[t] + 1), qos_profile_sensor_data
        )
    client = ActionClient(node, TrainPolicy, "train_policy")
    if not client.wait_for_server(timeout_sec=60.0):
        raise SystemExit("train_policy server did not appear within 60 s")
    program = RewardProgram(source=Path(args.reward_source).read_text() if args.reward_source else "")
    goal = TrainPolicy.Goal(
        robot=args.robot,
        program=program,
        reward_path=args.reward_path,
        iterations=args.iterations,
        num_envs=args.num_envs,
        rollout_duration_s=args.rollout_s,
        run_name=args.run_name,
        run_dir=args.run_dir,
    )
    feedback: list[dict[str, Any]] = []

    def on_feedback(msg: Any) -> None:
        f = msg.feedback
        feedback.append(
            {
                "phase": f.phase,
                "iteration": f.iteration,
                "total": f.iterations_total,
                "progress": float(f.progress),
                "return": _finite(f.mean_episode_return),
            }
        )

    deadline = time.monotonic() + args.timeout
    fut = client.send_goal_async(goal, feedback_callback=on_feedback)
    rclpy.spin_until_future_complete(node, fut, timeout_sec=30.0)
    handle = fut.result()
    if handle is None or not handle.accepted:
        return {"accepted": False}
    result_future = handle.get_result_async()
    acted = False
    while not result_future.done():
        rclpy.spin_once(node, timeout_sec=0.1)
        if time.monotonic() > deadline:
            handle.cancel_goal_async()
            raise SystemExit(f"goal did not finish within {args.timeout} s; feedback so far: {feedback[-3:]}")
        done_iters = max((f["iteration"] for f in feedback), default=0)
        if not acted and args.act_after_iterations and done_iters >= args.act_after_iterations:
            acted = True
            if args.cancel:
                handle.cancel_goal_async()
            if args.kill_worker_of:
                for pid in worker_pids(args.kill_worker_of):
                    os.kill(pid, signal.SIGKILL)
    wrapped = result_future.result()
    r = wrapped.result
    status = {
        GoalStatus.STATUS_SUCCEEDED: "succeeded",
        GoalStatus.STATUS_ABORTED: "aborted",
        GoalStatus.STATUS_CANCELED: "canceled",
    }.get(wrapped.status, str(wrapped.status))
    for _ in range(10):  # let the last best-effort messages arrive
        rclpy.spin_once(node, timeout_sec=0.05)
    out = {
        "accepted": True,
        "status": status,
        "success": r.success,
        "cancelled": r.cancelled,
        "message": r.message,
        "run_dir": r.run_dir,
        "checkpoint": r.checkpoint,
        "rollout_bag": r.rollout_bag,
        "rollout_video": r.rollout_video,
        "rollout_duration_s": r.rollout_duration_s,
        "report": {
            "iterations_done": r.report.iterations_done,
            "terms": [t.name for t in r.report.terms],
            "env_steps": r.report.env_steps,
        },
        "feedback": feedback,
        "live": live,
    }
    if r.rollout_bag:
        out["bag"] = summarize_bag(Path(r.rollout_bag))
    node.destroy_node()
    rclpy.try_shutdown()
    return out


def summarize_bag(path: Path) -> dict[str, Any]:
    """What a rollout bag holds, read back with rosbags (counts, image size, joints, TF frames, report)."""
    from lm_reward_learning.ros.bag import bag_summary, read_bag
    from lm_reward_learning.ros.image_conversion import from_image_msg

    msgs = read_bag(path)
    images = msgs.get("/rollout/image", [])
    joints = msgs.get("/joint_states", [])
    tfs = msgs.get("/tf", [])
    reports = msgs.get("/training/report", [])
    first = from_image_msg(images[0][1]) if images else None
    return {
        "files": sorted(p.name for p in path.iterdir()),
        "summary": {t: list(v) for t, v in bag_summary(path).items()},
        "counts": {t: len(v) for t, v in msgs.items()},
        "image_shape": list(first.shape) if first is not None else None,
        "image_encoding": images[0][1].encoding if images else None,
        "image_frame_id": images[0][1].header.frame_id if images else None,
        "image_nonblank": bool(first is not None and first.std() > 1.0),
        "joint_names": list(joints[0][1].name) if joints else [],
        "joint_lengths": sorted({(len(m.position), len(m.velocity), len(m.effort)) for _, m in joints}),
        "tf_frames": sorted({(t.header.frame_id, t.child_frame_id) for _, m in tfs for t in m.transforms}),
        "tf_base_z": [float(m.transforms[0].transform.translation.z) for _, m in tfs[:1]],
        "stamps_increasing": all(a[0] <= b[0] for a, b in itertools.pairwise(images)),
        "report_terms": [t.name for t in reports[0][1].terms] if reports else [],
    }


def cmd_image(_args: argparse.Namespace) -> dict[str, Any]:
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from lm_reward_learning.ros.image_conversion import (
        ImageConversionError,
        cv_bridge_available,
        cv_bridge_image_msg,
        from_image_msg,
        to_image_msg,
    )

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    hdr = Header(frame_id="cam")
    hdr.stamp.sec, hdr.stamp.nanosec = 12, 34
    msg = to_image_msg(frame, hdr)
    out: dict[str, Any] = {
        "fields": [msg.height, msg.width, msg.encoding, bool(msg.is_bigendian), msg.step, len(msg.data)],
        "header": [msg.header.frame_id, msg.header.stamp.sec, msg.header.stamp.nanosec],
        "round_trip": bool(np.array_equal(from_image_msg(msg), frame)),
        # A Fortran-ordered view must give the same row-major bytes.
        "non_contiguous": bytes(to_image_msg(np.asfortranarray(frame)).data) == bytes(msg.data),
    }
    padded = Image(height=2, width=2, encoding="rgb8", step=8, data=bytes(range(16)))
    out["padded"] = from_image_msg(padded).reshape(-1).tolist()
    errors = []
    for bad in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((0, 4, 3), np.uint8)):
        try:
            to_image_msg(bad)
        except ImageConversionError as exc:
            errors.append(str(exc)[:40])
    out["errors"] = errors
    if cv_bridge_available():
        ref = cv_bridge_image_msg(frame, hdr)
        out["cv_bridge_identical"] = ref == msg
    else:
        out["cv_bridge_identical"] = None
    return out


def cmd_bag(args: argparse.Namespace) -> dict[str, Any]:
    from builtin_interfaces.msg import Time
    from rclpy.serialization import serialize_message

    from lm_reward_learning.ros.bag import ROLLOUT_TOPICS, BagError, BagRecorder
    from lm_reward_learning.ros.image_conversion import to_image_msg
    from lm_reward_learning.ros.messages import header, joint_state_msg, tf_msg, training_report_msg
    from lm_reward_learning.ros.train_worker import Sample

    path = Path(args.path)
    sample = Sample(np.arange(3.0), np.ones(3), -np.ones(3), np.array([1.0, 2.0, 0.3]), np.array([1.0, 0, 0, 0]))
    summary = {
        "run_dir": "/r",
        "robot": "go2",
        "iterations_done": 2,
        "last": {
            "env_steps": 384,
            "mean_episode_return": None,
            "mean_episode_length_s": 1.5,
            "terms": {"b": {"mean": 1.0, "min": 0.0, "max": 2.0}, "a": {"mean": -1.0, "min": -2.0, "max": 0.0}},
        },
        "gait_features": {"stride_frequency_hz": (2.0, "Hz")},
    }
    with BagRecorder(path, ROLLOUT_TOPICS) as rec:
        for i in range(3):
            stamp = Time(sec=100 + i, nanosec=5)
            t_ns = stamp.sec * 10**9 + stamp.nanosec
            rec.write("/joint_states", t_ns, serialize_message(joint_state_msg(stamp, ["a", "b", "c"], sample)))
            rec.write("/tf", t_ns, serialize_message(tf_msg(stamp, "odom", "base", sample)))
            img = to_image_msg(np.full((4, 6, 3), i, np.uint8), header(stamp, "cam"))
            rec.write("/rollout/image", t_ns, serialize_message(img))
        rec.write("/training/report", t_ns, serialize_message(training_report_msg(stamp, summary)))
    errors = []
    try:
        BagRecorder(path, ROLLOUT_TOPICS)
    except BagError as exc:
        errors.append(str(exc))
    out = summarize_bag(path)
    from lm_reward_learning.ros.bag import read_bag

    report = read_bag(path, topics=["/training/report"])["/training/report"][0][1]
    out["report"] = {
        "terms": [(t.name, t.mean, t.min, t.max) for t in report.terms],
        "return_is_nan": math.isnan(report.mean_episode_return),
        "gait": [(g.name, g.value, g.unit) for g in report.gait_features],
    }
    out["first_stamp_ns"] = read_bag(path, topics=["/tf"])["/tf"][0][0]
    out["quat_xyzw"] = [
        getattr(read_bag(path, topics=["/tf"])["/tf"][0][1].transforms[0].transform.rotation, k) for k in "xyzw"
    ]
    out["errors"] = errors
    return out


def cmd_learn(args: argparse.Namespace) -> dict[str, Any]:
    """A ``learn_reward`` client: send each goal of ``--goals`` in turn; record feedback, results, topics, bags."""
    import rclpy
    from lm_reward_learning_interfaces.action import LearnReward
    from lm_reward_learning_interfaces.msg import RewardProgram, VisualFeedback
    from rclpy.action import ActionClient
    from rclpy.qos import qos_profile_sensor_data

    rclpy.init()
    node = rclpy.create_node("lmrl_test_learn_client", namespace=args.namespace)
    seen: dict[str, list] = {"visual_feedback": [], "reward_program": []}

    def on_feedback_msg(m: Any) -> None:
        seen["visual_feedback"].append({"iteration": m.iteration, "backend": m.backend, "problems": len(m.problems)})

    def on_program(m: Any) -> None:
        seen["reward_program"].append(
            {
                "iteration": m.iteration,
                "candidate": m.candidate,
                "status": int(m.validation_status),
                "diff": m.diff[:200],
                "sha_ok": __import__("hashlib").sha256(m.source.encode()).hexdigest() == m.sha256,
            }
        )

    node.create_subscription(VisualFeedback, "visual_feedback", on_feedback_msg, qos_profile_sensor_data)
    node.create_subscription(RewardProgram, "reward_program", on_program, qos_profile_sensor_data)
    client = ActionClient(node, LearnReward, "learn_reward")
    if not client.wait_for_server(timeout_sec=60.0):
        raise SystemExit("learn_reward server did not appear within 60 s")
    deadline = time.monotonic() + args.timeout
    outcomes = [_learn_goal(node, client, goal, deadline) for goal in json.loads(args.goals.read_text())]
    for _ in range(10):  # let the last best-effort messages arrive
        rclpy.spin_once(node, timeout_sec=0.05)
    node.destroy_node()
    rclpy.try_shutdown()
    return {"goals": outcomes, "seen": seen}


def _learn_goal(node: Any, client: Any, fields: dict[str, Any], deadline: float) -> dict[str, Any]:
    """Send one ``LearnReward`` goal and wait for its result (until ``deadline``, monotonic s)."""
    import rclpy
    from action_msgs.msg import GoalStatus
    from lm_reward_learning_interfaces.action import LearnReward

    feedback: list[dict[str, Any]] = []
    fields = dict(fields)
    cancel_on = fields.pop("_cancel_on_phase", None)  # cancel the goal once this phase is reported

    def on_feedback(msg: Any) -> None:
        f = msg.feedback
        metrics = {m.name: _finite(m.value) for m in f.metrics}
        feedback.append({"iteration": f.iteration, "candidate": f.candidate, "phase": f.phase, "metrics": metrics})

    fut = client.send_goal_async(LearnReward.Goal(**fields), feedback_callback=on_feedback)
    rclpy.spin_until_future_complete(node, fut, timeout_sec=30.0)
    handle = fut.result()
    if handle is None or not handle.accepted:
        return {"accepted": False}
    result_future = handle.get_result_async()
    cancelled = False
    while not result_future.done():
        rclpy.spin_once(node, timeout_sec=0.1)
        if time.monotonic() > deadline:
            handle.cancel_goal_async()
            raise SystemExit(f"learn_reward goal did not finish in time; feedback so far: {feedback[-3:]}")
        if cancel_on and not cancelled and any(f["phase"] == cancel_on for f in feedback):
            cancelled = True
            handle.cancel_goal_async()
    wrapped = result_future.result()
    r = wrapped.result
    status = {
        GoalStatus.STATUS_SUCCEEDED: "succeeded",
        GoalStatus.STATUS_ABORTED: "aborted",
        GoalStatus.STATUS_CANCELED: "canceled",
    }.get(wrapped.status, str(wrapped.status))
    out: dict[str, Any] = {
        "accepted": True,
        "status": status,
        "success": r.success,
        "cancelled": r.cancelled,
        "message": r.message,
        "onnx_path": r.onnx_path,
        "report_path": r.report_path,
        "run_dir": r.run_dir,
        "feedback": feedback,
        "bags": {},
    }
    if r.success:
        run = Path(r.run_dir)
        for bag in sorted(run.rglob("rollout_bag*")):
            if (bag / "metadata.yaml").is_file():
                out["bags"][str(bag.relative_to(run))] = summarize_bag(bag)
    return out


def cmd_feedback(args: argparse.Namespace) -> dict[str, Any]:
    """A ``get_visual_feedback`` client: goal 1 (left running), a cancel request for it, then goal 2 to its end."""
    import rclpy
    from lm_reward_learning_interfaces.action import GetVisualFeedback
    from rclpy.action import ActionClient

    rclpy.init()
    node = rclpy.create_node("lmrl_test_feedback_client", namespace=args.namespace)
    client = ActionClient(node, GetVisualFeedback, "get_visual_feedback")
    if not client.wait_for_server(timeout_sec=60.0):
        raise SystemExit("get_visual_feedback server did not appear within 60 s")
    goal = GetVisualFeedback.Goal(run_dir=args.run_dir, iteration=1, current_iteration=0, current_candidate=0)

    def wait(fut: Any, what: str) -> Any:
        rclpy.spin_until_future_complete(node, fut, timeout_sec=60.0)
        if not fut.done():
            raise SystemExit(f"no answer to {what} within 60 s")
        return fut.result()

    first = wait(client.send_goal_async(goal), "goal 1")
    cancel = wait(first.cancel_goal_async(), "the cancel request")
    second = wait(client.send_goal_async(goal), "goal 2")
    result = wait(second.get_result_async(), "goal 2's result")
    out = {
        "first_accepted": first.accepted,
        "cancel_rejected": not cancel.goals_canceling,  # rclpy answers a refused cancel with no goals canceling
        "second_accepted": second.accepted,
        "second_message": result.result.message,
    }
    node.destroy_node()
    rclpy.try_shutdown()
    return out


def learn_main() -> None:
    """Entry point of the ``learn_reward`` client (``python -c 'import rosside; rosside.learn_main()' ...``)."""
    parser = argparse.ArgumentParser(description="learn_reward action client of the ROS tests")
    parser.add_argument("--out", required=True, type=Path, help="JSON output file")
    parser.add_argument("--namespace", default="/", help="namespace of the nodes under test")
    parser.add_argument("--goals", required=True, type=Path, help="JSON list of LearnReward goals (field: value)")
    parser.add_argument("--timeout", type=float, default=480.0, help="s for all goals together")
    args = parser.parse_args()
    args.out.write_text(json.dumps(cmd_learn(args), indent=1, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="JSON output file")
    parser.add_argument("--namespace", default="/", help="namespace of the nodes under test")
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--robot", default="go2")
    t.add_argument("--reward-path", default="")
    t.add_argument("--reward-source", default="", help="file whose text goes into goal.program.source")
    t.add_argument("--iterations", type=int, default=2)
    t.add_argument("--num-envs", type=int, default=16)
    t.add_argument("--rollout-s", type=float, default=1.0)
    t.add_argument("--run-name", default="")
    t.add_argument("--run-dir", default="")
    t.add_argument("--timeout", type=float, default=240.0)
    t.add_argument("--act-after-iterations", type=int, default=0)
    t.add_argument("--cancel", action="store_true")
    t.add_argument("--kill-worker-of", type=int, default=0, help="node pid whose worker to SIGKILL")
    sub.add_parser("image")
    b = sub.add_parser("bag")
    b.add_argument("path")
    f = sub.add_parser("feedback")
    f.add_argument("--run-dir", required=True)
    args = parser.parse_args()
    out = {"train": cmd_train, "image": cmd_image, "bag": cmd_bag, "feedback": cmd_feedback}[args.cmd](args)
    args.out.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main())
