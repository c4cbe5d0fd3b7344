"""``feedback_node``: the upper level of the bi-level loop, as the ``get_visual_feedback`` action server.

A goal (``lm_reward_learning_interfaces/action/GetVisualFeedback``, sent by ``session_node`` once per
loop iteration) names a learn run, the iteration and the current policy's candidate. The node reads
the robot's rollout images from its rollout bag (``/rollout/image`` as ``trainer_node`` recorded them;
or, with ``rollout_source: live``, the last rollout received on ``rollout/image`` with the sensor-data
QoS profile), the expert clip (:func:`~lm_reward_learning.bilevel.steps.prepare_expert`), calls the
feedback backend the run's ``learn.yaml`` names (``motion``, ``openai``, ``human``), stores the answer
as ``iter_KK/feedback.json`` (as ``lmrl learn`` does; a stored answer is returned without asking
again) and publishes it on ``visual_feedback`` (``lm_reward_learning_interfaces/msg/VisualFeedback``,
reliable). Logic: :mod:`lm_reward_learning.ros.feedback_logic`.

Errors: a goal the node cannot serve (not a learn run, an incomplete candidate, an unreadable bag or
video, a backend that fails or is unreachable) is aborted with the reason in ``result.message``; the
node keeps serving. One goal at a time ("busy" otherwise). Cancel requests are refused: a backend call
is not interruptible, and the session waits for its result with a timeout.

Parameters: :data:`lm_reward_learning.ros.node_params.FEEDBACK_NODE` and ``config/ros/feedback_node.yaml``.
"""

from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path
from typing import Any

from lm_reward_learning_interfaces.action import GetVisualFeedback
from lm_reward_learning_interfaces.msg import VisualFeedback
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Image

from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.ros.feedback_logic import LiveRollout, give_feedback
from lm_reward_learning.ros.image_conversion import ImageConversionError, from_image_msg
from lm_reward_learning.ros.messages import visual_feedback_msg
from lm_reward_learning.ros.node_main import spin_node
from lm_reward_learning.ros.node_params import FEEDBACK_NODE
from lm_reward_learning.ros.params import SENSOR_DATA_QOS, declare_parameters, reliable_qos


class FeedbackNode(Node):
    """Action server ``get_visual_feedback``; publishes ``visual_feedback``.

    Raises:
        ParameterError: at construction, if a parameter is invalid (the message lists each).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("feedback_node", **kwargs)
        self.params = declare_parameters(self, FEEDBACK_NODE, "config/ros/feedback_node.yaml")
        self._pub = self.create_publisher(VisualFeedback, "visual_feedback", reliable_qos())
        self._live: LiveRollout | None = None
        self._live_lock = threading.Lock()
        if self.params["rollout_source"] == "live":
            self._live = LiveRollout(self.params["live_gap_s"], int(self.params["live_max_frames"]))
            self.create_subscription(Image, "rollout/image", self._on_image, SENSOR_DATA_QOS)
        self._busy = threading.Lock()
        self._server = ActionServer(
            self,
            GetVisualFeedback,
            "get_visual_feedback",
            execute_callback=self._execute,
            goal_callback=lambda _g: GoalResponse.ACCEPT,
            cancel_callback=lambda _h: CancelResponse.REJECT,
            callback_group=ReentrantCallbackGroup(),
        )
        self.get_logger().info(
            f"ready: action server 'get_visual_feedback' (robot frames: {self.params['rollout_source']})"
        )

    def _on_image(self, msg: Image) -> None:
        try:
            frame = from_image_msg(msg)
        except ImageConversionError as exc:
            self.get_logger().warning(f"ignoring a rollout image: {exc}", throttle_duration_sec=10.0)
            return
        with self._live_lock:
            self._live.add(frame, time.monotonic())

    def _execute(self, handle: ServerGoalHandle) -> GetVisualFeedback.Result:
        if not self._busy.acquire(blocking=False):
            return self._abort(handle, "feedback_node is busy with another goal")
        try:
            return self._serve(handle)
        finally:
            self._busy.release()

    def _serve(self, handle: ServerGoalHandle) -> GetVisualFeedback.Result:
        g = handle.request
        self.get_logger().info(f"goal: iteration {g.iteration} of {g.run_dir}")
        handle.publish_feedback(GetVisualFeedback.Feedback(phase="backend"))
        try:
            store = LearnStore.open(Path(g.run_dir))
            with self._live_lock:
                frames = self._live.frames() if self._live is not None else None
            fb, source = give_feedback(
                store,
                int(g.iteration),
                int(g.current_iteration),
                int(g.current_candidate),
                g.rollout_bag,
                frames,
                live=self._live is not None,
            )
        except LmrlError as exc:
            return self._abort(handle, f"feedback failed: {exc}")
        except Exception as exc:  # a bug or a backend's unexpected failure: report it, keep serving
            self.get_logger().error(f"feedback failed: {traceback.format_exc()}")
            return self._abort(handle, f"feedback_node failed: {type(exc).__name__}: {exc}")
        msg = visual_feedback_msg(self.get_clock().now().to_msg(), int(g.iteration), fb)
        self._pub.publish(msg)
        handle.succeed()
        self.get_logger().info(f"iteration {g.iteration}: {len(fb.problems)} problems from {fb.backend} ({source})")
        return GetVisualFeedback.Result(
            success=True,
            feedback=msg,
            feedback_path=str(store.path / f"iter_{int(g.iteration):02d}" / "feedback.json"),
            rollout_frames_source=source,
        )

    def _abort(self, handle: ServerGoalHandle, message: str) -> GetVisualFeedback.Result:
        self.get_logger().error(f"goal aborted: {message}")
        handle.abort()
        return GetVisualFeedback.Result(message=message)

    def destroy_node(self) -> None:
        """Destroy the action server, then the node."""
        self._server.destroy()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Console script ``feedback_node``: spin the node on a multi-threaded executor until shutdown."""
    spin_node(FeedbackNode, "feedback_node", args, executor="multi_threaded", num_threads=3)


if __name__ == "__main__":
    main()
