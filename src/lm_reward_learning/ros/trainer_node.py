"""``trainer_node``: the ``train_policy`` action server (PPO on MuJoCo in a worker process).

A goal (``lm_reward_learning_interfaces/action/TrainPolicy``) names a robot, a reward program (source
in the goal, a file, or the robot's default), a budget, and optionally the seed and the rollout's
velocity command and camera side (``session_node`` sets them as the learn loop does). The node checks it
(:func:`~lm_reward_learning.ros.train_worker.make_job`), then runs validation, training and one
rollout in a *spawned worker process* (:mod:`~lm_reward_learning.ros.train_worker`), so the executor
keeps serving cancels, parameters and other goals. During the rollout it publishes, for every policy
step (50 Hz of simulated time, paced by ``realtime_factor``):

* ``rollout/image`` — ``sensor_msgs/msg/Image``, ``rgb8``, ``frame_id = camera_frame``, a tracking
  camera (``camera_view``, ``image_width`` × ``image_height`` pixels);
* ``joint_states`` — ``sensor_msgs/msg/JointState``: rad, rad/s, N·m in the robot's joint order;
* ``/tf`` — ``tf2_msgs/msg/TFMessage``: ``odom_frame`` → ``base_frame`` (the base body's pose, m), then
  every body of the robot in its parent's frame (frames named as the MJCF bodies), so RViz's TF
  display shows the robot;

and records them, as published, to a rosbag2 MCAP directory ``<run>/rollout_bag`` (``rollout_bag_1``,
... for later goals on the same run) (plus the final
``training/report``, ``lm_reward_learning_interfaces/msg/TrainingReport``, which is also published).
Publishers are reliable.

Feedback: phase, PPO iterations done, progress in [0, 1], the last iteration's mean return and episode
length. Result: success, cancelled, message, run directory, checkpoint, bag, video, rollout
statistics and the training report.

Errors: ROS 2 goal rejection carries no reason, so every goal is accepted and a bad one (unknown
robot, missing reward file, bad config or budget, a reward program that fails validation) is
*aborted* at once with the reason in ``result.message`` (and logged). A second goal while one runs is
aborted with "busy". A worker that dies or stops reporting (``worker_timeout_s``) aborts the goal
with its exit code and phase; the node keeps serving. Cancel asks the worker to stop after the
current PPO iteration or rollout step (checkpoints stay consistent), waits ``cancel_timeout_s``, then
terminates it; the result says ``cancelled``.

Parameters: :data:`lm_reward_learning.ros.node_params.TRAINER_NODE` and ``config/ros/trainer_node.yaml``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rclpy
from lm_reward_learning_interfaces.action import TrainPolicy
from lm_reward_learning_interfaces.msg import TrainingReport
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image, JointState
from tf2_msgs.msg import TFMessage

from lm_reward_learning import isolation
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.ros.bag import ROLLOUT_TOPICS, BagRecorder
from lm_reward_learning.ros.image_conversion import frame_to_msg
from lm_reward_learning.ros.messages import header, joint_state_msg, tf_msg, training_report_msg
from lm_reward_learning.ros.node_main import spin_node
from lm_reward_learning.ros.node_params import TRAINER_NODE
from lm_reward_learning.ros.params import declare_parameters, reliable_qos, tf_qos
from lm_reward_learning.ros.train_worker import STOP, TrainJob, make_job, worker_main

_PROGRESS_TRAINING = (0.05, 0.85)  # progress range of the training phase; validation before, rollout after


@dataclass
class _Goal:
    """Per-goal bookkeeping of the supervision loop."""

    handle: ServerGoalHandle
    job: TrainJob
    phase: str = "starting"
    iteration: int = 0
    total: int = 0
    last_record: dict[str, Any] = field(default_factory=dict)
    run_dir: str = ""
    bag: BagRecorder | None = None
    bag_path: str = ""
    rollout: dict[str, Any] = field(default_factory=dict)
    t0: float = 0.0
    last_feedback: float = 0.0


class TrainerNode(Node):
    """Action server ``train_policy``: trains in a worker process, publishes and records the rollout.

    Raises:
        ParameterError: at construction, if a parameter is invalid (the message lists each).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("trainer_node", **kwargs)
        self.params = declare_parameters(self, TRAINER_NODE, "config/ros/trainer_node.yaml")
        self._image_pub = self.create_publisher(Image, "rollout/image", reliable_qos())
        self._joint_pub = self.create_publisher(JointState, "joint_states", reliable_qos())
        self._tf_pub = self.create_publisher(TFMessage, "/tf", tf_qos())
        self._report_pub = self.create_publisher(TrainingReport, "training/report", reliable_qos())
        self._busy = threading.Lock()
        self._mp = multiprocessing.get_context("spawn")
        self._workers: set[Any] = set()
        self._server = ActionServer(
            self,
            TrainPolicy,
            "train_policy",
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=self._on_cancel,
            callback_group=ReentrantCallbackGroup(),
        )
        self.get_logger().info("ready: action server 'train_policy'")

    # ------------------------------------------------------------------ action callbacks
    def _on_goal(self, goal: TrainPolicy.Goal) -> GoalResponse:
        self.get_logger().info(f"goal: robot={goal.robot or self.params['robot']!r} iterations={goal.iterations}")
        return GoalResponse.ACCEPT  # checked in _execute, so that a bad goal gets its reason back

    def _on_cancel(self, _goal_handle: ServerGoalHandle) -> CancelResponse:
        return CancelResponse.ACCEPT

    def _execute(self, handle: ServerGoalHandle) -> TrainPolicy.Result:
        if not self._busy.acquire(blocking=False):
            return self._abort(handle, "trainer_node is busy with another goal; wait for it or cancel it")
        try:
            try:
                job = self._make_job(handle.request)
            except LmrlError as exc:
                return self._abort(handle, f"bad goal: {exc}")
            try:
                return self._supervise(_Goal(handle, job))
            except Exception as exc:  # a bug or a full disk: report it in the result, keep serving
                self.get_logger().error(f"goal failed: {traceback.format_exc()}")
                return self._abort(handle, f"trainer_node failed: {type(exc).__name__}: {exc}")
        finally:
            self._busy.release()

    def _make_job(self, goal: TrainPolicy.Goal) -> TrainJob:
        p = self.params
        program = goal.program
        return make_job(
            robot=goal.robot or p["robot"],
            program_source=program.source,
            program_name=program.name,
            program_origin=program.origin or "ros:train_policy goal",
            reward_path=goal.reward_path,
            iterations=goal.iterations or p["iterations"],
            num_envs=goal.num_envs or p["num_envs"],
            train_config=p["train_config"],
            runs_dir=p["runs_dir"],
            run_name=goal.run_name,
            run_dir=goal.run_dir,
            warm_start=goal.warm_start_checkpoint,
            rollout_duration_s=goal.rollout_duration_s or p["rollout_duration_s"],
            command=tuple(goal.rollout_command) if len(goal.rollout_command) else tuple(p["rollout_command"]),
            view=goal.rollout_view or p["camera_view"],
            width=int(p["image_width"]),
            height=int(p["image_height"]),
            seed=int(goal.seed) if goal.seed >= 0 else None,
            backend=p["backend"],
            device=p["device"],
        )

    # ------------------------------------------------------------------ worker supervision
    def _supervise(self, g: _Goal) -> TrainPolicy.Result:
        """Run the worker for one goal; relay its reports until it is done, fails or is cancelled."""
        conn, child = self._mp.Pipe(duplex=True)
        proc = self._mp.Process(target=worker_main, args=(g.job, child), name="lmrl-train-worker", daemon=True)
        with isolation.secrets_withheld():  # the worker trains; it never needs an API key
            proc.start()
        child.close()
        self._workers.add(proc)
        self.get_logger().info(f"worker pid {proc.pid} started")
        last_report = time.monotonic()
        try:
            while True:
                if g.handle.is_cancel_requested:
                    return self._cancel(g, proc, conn)
                if not rclpy.ok():
                    return self._abort(g.handle, "trainer_node is shutting down", g)
                try:
                    msg = conn.recv() if conn.poll(0.05) else None
                    if msg is None and not proc.is_alive():  # a last report may have raced the exit
                        msg = conn.recv() if conn.poll(0) else None
                except (EOFError, OSError):
                    msg = None
                if msg is None:
                    if not proc.is_alive():
                        proc.join(2.0)
                        return self._abort(
                            g.handle,
                            f"the training worker (pid {proc.pid}) exited with code {proc.exitcode} during "
                            f"{g.phase} without a result; run directory: {g.run_dir or 'none yet'}",
                            g,
                        )
                    if time.monotonic() - last_report > self.params["worker_timeout_s"]:
                        return self._abort(
                            g.handle,
                            f"the training worker reported nothing for {self.params['worker_timeout_s']} s during "
                            f"{g.phase}; it was stopped (raise worker_timeout_s for slow machines)",
                            g,
                        )
                    continue
                last_report = time.monotonic()
                tag = msg[0]
                if tag == "done":
                    return self._succeed(g, msg[1])
                if tag == "error":
                    return self._abort(g.handle, f"{msg[1]}: {msg[2]}", g)
                if tag == "cancelled":  # stopped without our asking: treat as a failure
                    return self._abort(g.handle, "the training worker stopped unexpectedly", g)
                self._relay(g, msg)
        finally:
            self._stop_worker(proc, conn)
            self._workers.discard(proc)
            if g.bag is not None:
                g.bag.close()

    def _relay(self, g: _Goal, msg: tuple) -> None:
        """Handle one progress report of the worker (phase, run_dir, iteration, rollout, step)."""
        tag = msg[0]
        if tag == "phase":
            g.phase = msg[1]
            self._feedback(g, force=True)
        elif tag == "run_dir":
            g.run_dir = msg[1]
        elif tag == "iteration":
            g.iteration, g.total, g.last_record = msg[1] + 1, msg[2], msg[3]
            self._feedback(g, force=True)
        elif tag == "rollout":
            g.rollout = msg[1]
            g.t0 = time.monotonic()
            if self.params["record_bag"] and g.run_dir:
                path = _free_path(Path(g.run_dir) / "rollout_bag")
                g.bag, g.bag_path = BagRecorder(path, ROLLOUT_TOPICS), str(path)
        elif tag == "step":
            self._publish_step(g, msg[1], msg[2], msg[3])

    def _publish_step(self, g: _Goal, step: int, frame: Any, sample: Any) -> None:
        """Publish (and record) one rollout step, paced by ``realtime_factor``."""
        factor = self.params["realtime_factor"]
        if factor > 0:
            delay = g.t0 + step * g.rollout["dt"] / factor - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        stamp = self.get_clock().now().to_msg()
        stamp_ns = stamp.sec * 1_000_000_000 + stamp.nanosec
        base = self.params["base_frame"] or g.rollout["base_body"]
        msgs = [(self._joint_pub, "/joint_states", joint_state_msg(stamp, g.rollout["joint_names"], sample))]
        tf = tf_msg(stamp, self.params["odom_frame"], base, sample, g.rollout["bodies"], g.rollout["base_body"])
        msgs.append((self._tf_pub, "/tf", tf))
        if frame is not None:
            image = frame_to_msg(frame, header(stamp, self.params["camera_frame"]))
            msgs.append((self._image_pub, "/rollout/image", image))
        for pub, topic, m in msgs:
            pub.publish(m)
            if g.bag is not None:
                g.bag.write(topic, stamp_ns, serialize_message(m))
        if time.monotonic() - g.last_feedback >= self.params["feedback_period_s"]:
            self._feedback(g, rollout_fraction=(step + 1) / max(1, g.rollout["steps"]))

    def _feedback(self, g: _Goal, *, force: bool = False, rollout_fraction: float = 0.0) -> None:
        lo, hi = _PROGRESS_TRAINING
        if g.phase == "rollout":
            progress = hi + (1.0 - hi) * rollout_fraction
        elif g.phase == "training" and g.total:
            progress = lo + (hi - lo) * g.iteration / g.total
        else:
            progress = 0.0 if g.phase in ("starting", "validating") else lo
        fb = TrainPolicy.Feedback(
            phase=g.phase,
            iteration=g.iteration,
            iterations_total=g.total,
            progress=float(min(1.0, progress)),
            mean_episode_return=_num(g.last_record.get("mean_episode_return")),
            mean_episode_length_s=_num(g.last_record.get("mean_episode_length_s")),
        )
        g.handle.publish_feedback(fb)
        g.last_feedback = time.monotonic()

    # ------------------------------------------------------------------ outcomes
    def _succeed(self, g: _Goal, summary: dict[str, Any]) -> TrainPolicy.Result:
        stamp = self.get_clock().now().to_msg()
        report = training_report_msg(stamp, summary)
        self._report_pub.publish(report)
        if g.bag is not None:
            g.bag.write("/training/report", stamp.sec * 1_000_000_000 + stamp.nanosec, serialize_message(report))
            g.bag.close()
        ro = summary["rollout"]
        g.handle.succeed()
        self.get_logger().info(f"goal succeeded: run {summary['run_dir']}, bag {g.bag_path or 'not recorded'}")
        return TrainPolicy.Result(
            success=True,
            run_dir=summary["run_dir"],
            checkpoint=summary["checkpoint"],
            rollout_bag=g.bag_path,
            rollout_video=summary["rollout_video"],
            rollout_duration_s=float(ro["duration_s"]),
            rollout_mean_forward_speed=float(ro["mean_forward_speed"]),
            rollout_distance_m=float(ro["distance_m"]),
            rollout_fell=bool(ro["fell"]),
            report=report,
        )

    def _abort(self, handle: ServerGoalHandle, message: str, g: _Goal | None = None) -> TrainPolicy.Result:
        self.get_logger().error(f"goal aborted: {message}")
        handle.abort()
        return TrainPolicy.Result(success=False, message=message, run_dir=g.run_dir if g else "")

    def _cancel(self, g: _Goal, proc: Any, conn: Any) -> TrainPolicy.Result:
        where = f"{g.phase} (iteration {g.iteration}/{g.total})" if g.phase == "training" else g.phase
        self._stop_worker(proc, conn)
        g.handle.canceled()
        msg = f"cancelled during {where}"
        if g.run_dir:
            msg += f"; {g.run_dir} keeps the checkpoints written so far (resume with lmrl train --resume RUN)"
        self.get_logger().info(msg)
        return TrainPolicy.Result(success=False, cancelled=True, message=msg, run_dir=g.run_dir)

    def _stop_worker(self, proc: Any, conn: Any) -> None:
        """Ask the worker to stop, drain its reports, then terminate and finally kill it if needed."""
        if proc.is_alive():
            with contextlib.suppress(OSError):  # BrokenPipeError: the worker is already gone
                conn.send(STOP)
            deadline = time.monotonic() + self.params["cancel_timeout_s"]
            while proc.is_alive() and time.monotonic() < deadline:
                try:
                    if conn.poll(0.05):
                        conn.recv()  # discard: frames and reports after the stop request
                except (EOFError, OSError):
                    proc.join(0.05)
        if proc.is_alive():
            self.get_logger().warning(f"worker pid {proc.pid} did not stop in time; terminating it")
            proc.terminate()
            proc.join(3.0)
        if proc.is_alive():
            proc.kill()
        proc.join(3.0)
        conn.close()

    def destroy_node(self) -> None:
        """Stop running workers, then destroy the node."""
        for proc in list(self._workers):
            if proc.is_alive():
                proc.terminate()
                proc.join(3.0)
        self._server.destroy()
        super().destroy_node()


def _free_path(path: Path) -> Path:
    """``path``, or ``path_1``, ``path_2``, ... if taken (a resumed run keeps its earlier bags)."""
    candidate, i = path, 0
    while candidate.exists():
        i += 1
        candidate = path.with_name(f"{path.name}_{i}")
    return candidate


def _num(v: Any) -> float:
    return float(v) if v is not None else float("nan")


def main(args: list[str] | None = None) -> None:
    """Console script ``trainer_node``: spin the node on a multi-threaded executor until shutdown."""
    spin_node(TrainerNode, "trainer_node", args, executor="multi_threaded", num_threads=4)


if __name__ == "__main__":
    main()
