"""``session_node``: the ``learn_reward`` action server that runs the bi-level loop across the nodes.

A goal (``lm_reward_learning_interfaces/action/LearnReward``) names an expert video, a robot, the
backends and a budget, or a run to resume. The node checks it and creates (or opens) the learn run
exactly as ``lmrl learn`` does (:func:`~lm_reward_learning.ros.session_logic.open_session`), then
runs the loop (:func:`~lm_reward_learning.ros.session_logic.run_session`), handing three steps to
the other nodes as action goals:

* ``train_policy`` (``trainer_node``): train candidate M of iteration K into
  ``<run>/iter_KK/cand_M/train`` (warm-started, or resumed), then roll it out as the loop does,
  publishing and recording the rollout bag;
* ``get_visual_feedback`` (``feedback_node``): the upper level, stored as ``iter_KK/feedback.json``;
* ``synthesize_reward`` (``reward_synth_node``): the lower level with validation and retries, stored
  in ``iter_KK/cand_M/``.

The expert clip, the objective score, the ONNX export and the HTML report are done here. Every wait
has a timeout (``server_timeout_s`` for a node to appear, ``*_timeout_s`` per step, ``lost_server_s``
for a server that disappears mid-step).

Feedback: loop iteration, iterations total, candidate, phase, and metrics (the trainer's PPO progress,
each candidate's score, forward speed and stride frequency). Result: success, cancelled, message,
ONNX path, report path, run directory (also on failure: resume it with ``resume_run_dir``).

Errors: every goal is accepted (ROS 2 goal rejection carries no reason) and a bad one (missing video,
unknown robot or backend, bad learn config, existing run name) is aborted at once with the reason in
``result.message``. A step that fails in another node (its backend lost, a timeout, the node gone) aborts
the goal with that node's message; ``status.json`` says ``failed`` and everything completed stays in
the run. A second goal while one runs is aborted with "busy". Cancel is passed on to the running step.

With ``autostart`` (as ``learn.launch.py`` sets it) the node sends itself one goal built from its
parameters at start-up and logs its progress.

Parameters: :data:`lm_reward_learning.ros.node_params.SESSION_NODE` and ``config/ros/session_node.yaml``.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rclpy
from lm_reward_learning_interfaces.action import GetVisualFeedback, LearnReward, SynthesizeReward, TrainPolicy
from lm_reward_learning_interfaces.msg import RewardProgram, VisualFeedback
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.task import Future

from lm_reward_learning.bilevel.protocols import Feedback
from lm_reward_learning.bilevel.steps import Candidate
from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.ros.candidates import TrainOutcome, TrainPlan, latest_bag
from lm_reward_learning.ros.messages import feedback_from_msg, named_values, visual_feedback_msg
from lm_reward_learning.ros.node_main import spin_node
from lm_reward_learning.ros.node_params import SESSION_NODE
from lm_reward_learning.ros.params import declare_parameters
from lm_reward_learning.ros.session_logic import (
    LearnGoal,
    Progress,
    RemoteStepError,
    SessionCancelledError,
    SessionDefaults,
    open_session,
    run_session,
)

_GOAL_RESPONSE_TIMEOUT_S = 30.0


class SessionNode(Node):
    """Action server ``learn_reward``; client of ``train_policy``, ``get_visual_feedback``, ``synthesize_reward``.

    Raises:
        ParameterError: at construction, if a parameter is invalid (the message lists each).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("session_node", **kwargs)
        self.params = declare_parameters(self, SESSION_NODE, "config/ros/session_node.yaml")
        group = ReentrantCallbackGroup()
        self.trainer = ActionClient(self, TrainPolicy, "train_policy", callback_group=group)
        self.feedback = ActionClient(self, GetVisualFeedback, "get_visual_feedback", callback_group=group)
        self.synthesis = ActionClient(self, SynthesizeReward, "synthesize_reward", callback_group=group)
        self._busy = threading.Lock()
        self._group = group
        self._server = ActionServer(
            self,
            LearnReward,
            "learn_reward",
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=lambda _h: CancelResponse.ACCEPT,
            callback_group=group,
        )
        self._last_progress: tuple[int, int, str] | None = None
        self._autostart_timer = self.create_timer(0.5, self._autostart, callback_group=group)
        if not self.params["autostart"]:
            self._autostart_timer.cancel()
        self.get_logger().info("ready: action server 'learn_reward'")

    # ------------------------------------------------------------------ action callbacks
    def _on_goal(self, goal: LearnReward.Goal) -> GoalResponse:
        what = f"resume {goal.resume_run_dir}" if goal.resume_run_dir else f"video={goal.video or '(default)'!r}"
        self.get_logger().info(f"goal: {what} robot={goal.robot or '(default)'!r}")
        return GoalResponse.ACCEPT  # checked in _execute, so that a bad goal gets its reason back

    def _execute(self, handle: ServerGoalHandle) -> LearnReward.Result:
        if not self._busy.acquire(blocking=False):
            return self._abort(handle, "session_node is running another session; wait for it or cancel it")
        try:
            return self._run(handle)
        finally:
            self._busy.release()

    def _run(self, handle: ServerGoalHandle) -> LearnReward.Result:
        g = handle.request
        goal = LearnGoal(
            video=g.video,
            robot=g.robot,
            task=g.task,
            iterations=int(g.iterations),
            feedback=g.feedback_backend,
            synthesis=g.synthesis_backend,
            resume_run_dir=g.resume_run_dir,
            run_name=g.run_name,
        )
        try:
            cfg, store = open_session(goal, SessionDefaults.from_params(self.params))
        except LmrlError as exc:
            return self._abort(handle, f"bad goal: {exc}")
        self.get_logger().info(
            f"learn run {store.path}: {cfg.iterations} iterations, {cfg.feedback} -> {cfg.synthesis}"
        )
        remote = _Remote(self, handle, cfg.iterations)
        try:
            result = run_session(
                cfg,
                store,
                remote,
                policies_root=Path(self.params["policies_dir"]).expanduser().resolve(),
                report=remote.publish,
            )
        except SessionCancelledError as exc:
            handle.canceled()
            message = f"{exc}; everything completed is in {store.path}: resume it with resume_run_dir"
            self.get_logger().info(f"goal cancelled: {message}")
            return LearnReward.Result(cancelled=True, message=message, run_dir=str(store.path))
        except LmrlError as exc:
            return self._abort(handle, f"{exc} (everything completed is in {store.path}: resume it)", store)
        except Exception as exc:  # a bug or a full disk: report it in the result, keep serving
            self.get_logger().error(f"session failed: {traceback.format_exc()}")
            store.update_status(status="failed", error=f"{type(exc).__name__}: {exc}")
            return self._abort(handle, f"session_node failed: {type(exc).__name__}: {exc}", store)
        handle.succeed()
        self.get_logger().info(f"goal succeeded: policy {result.onnx_path}, report {result.report_path}")
        return LearnReward.Result(
            success=True,
            onnx_path=str(result.onnx_path),
            report_path=str(result.report_path),
            run_dir=str(store.path),
        )

    def _abort(self, handle: ServerGoalHandle, message: str, store: LearnStore | None = None) -> LearnReward.Result:
        self.get_logger().error(f"goal aborted: {message}")
        try:
            handle.abort()
        except Exception as exc:  # the goal may already be gone while shutting down
            self.get_logger().warning(f"could not abort the goal: {exc}")
        return LearnReward.Result(message=message, run_dir=str(store.path) if store is not None else "")

    # ------------------------------------------------------------------ calling the other nodes
    def call(
        self,
        client: ActionClient,
        goal: Any,
        what: str,
        timeout_s: float,
        handle: ServerGoalHandle,
        on_feedback: Callable[[Any], None] | None = None,
    ) -> Any:
        """Send ``goal`` to ``client``'s server and return its result; every wait has a timeout.

        Raises:
            RemoteStepError: the server did not appear within ``server_timeout_s``, rejected the goal,
                took longer than ``timeout_s``, or has been gone for ``lost_server_s``.
            SessionCancelledError: the ``learn_reward`` goal was cancelled (the step is cancelled too).
        """
        p = self.params
        if not client.wait_for_server(timeout_sec=p["server_timeout_s"]):
            raise RemoteStepError(
                f"{what} is not available (no action server within {p['server_timeout_s']} s); start it "
                "(learn.launch.py starts every node) and resume the run"
            )
        sent = client.send_goal_async(goal, feedback_callback=on_feedback)
        goal_handle = self._wait(sent, client, what, _GOAL_RESPONSE_TIMEOUT_S, handle, None)
        if not goal_handle.accepted:
            raise RemoteStepError(f"{what} rejected the goal")
        return self._wait(goal_handle.get_result_async(), client, what, timeout_s, handle, goal_handle).result

    def _wait(
        self, future: Future, client: ActionClient, what: str, timeout_s: float, handle: ServerGoalHandle, sub: Any
    ) -> Any:
        """Wait for ``future``, watching the cancel request, the deadline and the server's presence."""
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        deadline = time.monotonic() + timeout_s
        gone_since: float | None = None
        while not done.wait(0.2):
            now = time.monotonic()
            if handle.is_cancel_requested and sub is not None:  # (a goal response comes first: then cancel it)
                sub.cancel_goal_async()
                done.wait(self.params["cancel_timeout_s"])
                raise SessionCancelledError(f"cancelled during {what}")
            if not rclpy.ok():
                raise RemoteStepError(f"session_node is shutting down during {what}")
            if now > deadline:
                if sub is not None:
                    sub.cancel_goal_async()
                raise RemoteStepError(f"{what} did not finish within {timeout_s:g} s (raise the node's timeout)")
            if client.server_is_ready():
                gone_since = None
            elif gone_since is None:
                gone_since = now
            elif now - gone_since > self.params["lost_server_s"]:
                lost = self.params["lost_server_s"]
                raise RemoteStepError(
                    f"{what} went away mid-step (its action server has been gone for {lost:g} s); "
                    "restart the node and resume the run"
                )
        return future.result()

    # ------------------------------------------------------------------ autostart (learn.launch.py)
    def _autostart(self) -> None:
        self._autostart_timer.cancel()
        client = ActionClient(self, LearnReward, "learn_reward", callback_group=self._group)
        self.get_logger().info("autostart: starting a session from the node's parameters")
        sent = client.send_goal_async(LearnReward.Goal(), feedback_callback=self._log_progress)
        sent.add_done_callback(self._on_autostart_accepted)

    def _log_progress(self, msg: Any) -> None:
        """Log the autostarted session's progress: each new phase, and each score."""
        f = msg.feedback
        key = (f.iteration, f.candidate, f.phase)
        scored = any(m.name == "score" for m in f.metrics)
        if key == self._last_progress and not scored:
            return
        self._last_progress = key
        metrics = ", ".join(f"{m.name}={m.value:.3g}" for m in f.metrics if not m.name.startswith("ppo_"))
        self.get_logger().info(
            f"iteration {f.iteration}/{f.iterations_total} candidate {f.candidate}: {f.phase} {metrics}"
        )

    def _on_autostart_accepted(self, future: Future) -> None:
        goal_handle = future.result()
        if goal_handle is not None and goal_handle.accepted:
            goal_handle.get_result_async().add_done_callback(self._on_autostart_done)

    def _on_autostart_done(self, future: Future) -> None:
        r = future.result().result
        if r.success:
            self.get_logger().info(f"session done: policy {r.onnx_path}, report {r.report_path}")
        else:
            self.get_logger().error(f"session ended without a policy: {r.message}")

    def destroy_node(self) -> None:
        """Destroy the action server and clients, then the node."""
        self._server.destroy()
        for client in (self.trainer, self.feedback, self.synthesis):
            client.destroy()
        super().destroy_node()


class _Remote:
    """:class:`~lm_reward_learning.ros.session_logic.RemoteSteps` as action goals to the other nodes."""

    def __init__(self, node: SessionNode, handle: ServerGoalHandle, total: int) -> None:
        self.node, self.handle, self.total = node, handle, total

    def publish(self, p: Progress) -> None:
        """Publish one progress report as ``LearnReward`` feedback."""
        self.handle.publish_feedback(
            LearnReward.Feedback(
                iteration=p.iteration,
                iterations_total=p.iterations_total,
                candidate=p.candidate,
                phase=p.phase,
                metrics=named_values(p.metrics),
            )
        )

    def train(self, plan: TrainPlan, report: Callable[[Progress], None]) -> TrainOutcome:
        goal = TrainPolicy.Goal(
            robot=plan.robot,
            program=RewardProgram(name=plan.program_name, origin=plan.program_origin, source=plan.program_source),
            iterations=plan.iterations,
            num_envs=plan.num_envs,
            rollout_duration_s=plan.rollout_s,
            warm_start_checkpoint=str(plan.warm_start or ""),
            run_dir=str(plan.run_dir),
            seed=plan.seed,
            rollout_command=[float(c) for c in plan.command],
            rollout_view=plan.view,
        )

        def relay(msg: Any) -> None:
            f = msg.feedback
            metrics = {
                "ppo_iteration": (float(f.iteration), "1"),
                "ppo_iterations_total": (float(f.iterations_total), "1"),
                "mean_episode_return": (f.mean_episode_return, "1"),
                "mean_episode_length_s": (f.mean_episode_length_s, "s"),
            }
            report(Progress(plan.iteration, self.total, plan.candidate, f.phase, metrics))

        what = f"trainer_node (train_policy, iteration {plan.iteration} candidate {plan.candidate})"
        r = self.node.call(self.node.trainer, goal, what, self.node.params["train_timeout_s"], self.handle, relay)
        if not r.success:
            raise RemoteStepError(
                f"training candidate {plan.candidate} of iteration {plan.iteration} failed: {r.message}"
            )
        video = Path(r.rollout_video)
        return TrainOutcome(Path(r.run_dir), video, video.with_suffix(".npz"), r.rollout_bag)

    def feedback(self, store: LearnStore, k: int, current: Candidate) -> Feedback:
        goal = GetVisualFeedback.Goal(
            run_dir=str(store.path),
            iteration=k,
            current_iteration=current.iteration,
            current_candidate=current.index,
            rollout_bag=str(latest_bag(current.run) or ""),
        )
        what = f"feedback_node (get_visual_feedback, iteration {k})"
        r = self.node.call(self.node.feedback, goal, what, self.node.params["feedback_timeout_s"], self.handle)
        if not r.success:
            raise RemoteStepError(f"iteration {k}: {r.message}")
        return feedback_from_msg(r.feedback)

    def synthesize(self, store: LearnStore, k: int, m: int, feedback: Feedback | None, current: Candidate) -> str:
        stamp = self.node.get_clock().now().to_msg()
        goal = SynthesizeReward.Goal(
            run_dir=str(store.path),
            iteration=k,
            candidate=m,
            current_iteration=current.iteration,
            current_candidate=current.index,
            has_feedback=feedback is not None,
            feedback=visual_feedback_msg(stamp, k, feedback) if feedback is not None else VisualFeedback(),
        )
        what = f"reward_synth_node (synthesize_reward, iteration {k} candidate {m})"
        r = self.node.call(self.node.synthesis, goal, what, self.node.params["synthesis_timeout_s"], self.handle)
        if not r.success:
            raise RemoteStepError(f"iteration {k} candidate {m}: {r.message}")
        return r.program.source


def main(args: list[str] | None = None) -> None:
    """Console script ``session_node``: spin the node on a multi-threaded executor until shutdown."""
    spin_node(SessionNode, "session_node", args, executor="multi_threaded", num_threads=4)


if __name__ == "__main__":
    main()
