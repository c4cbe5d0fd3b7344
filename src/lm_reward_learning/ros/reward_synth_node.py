"""``reward_synth_node``: the lower level of the bi-level loop, as the ``synthesize_reward`` action server.

A goal (``lm_reward_learning_interfaces/action/SynthesizeReward``, sent by ``session_node`` for each
reward candidate) carries the upper level's ``VisualFeedback`` and names the learn run, the candidate
and the current policy. On it the node calls the synthesis backend the run's ``learn.yaml`` names
(``rules``, ``openai``) with the feedback, the current program, the environment description and the
reward reflection, validates the program (retrying with the validator's message; the previous program
is kept if every attempt fails), stores every attempt in ``iter_KK/cand_M/`` as ``lmrl learn`` does
(a stored step is returned without asking again), and publishes the kept program, with its diff and
validation verdict, on ``reward_program`` (``lm_reward_learning_interfaces/msg/RewardProgram``,
reliable), preceded by the rejected attempts (``VALIDATION_FAILED``) unless ``publish_attempts`` is
false. Logic: :mod:`lm_reward_learning.ros.synth_logic`.

Errors: a goal the node cannot serve (not a learn run, an incomplete current candidate, a backend that
is unreachable, refuses or times out) is aborted with the reason in ``result.message``; the attempts
answered so far stay stored and the node keeps serving. One goal at a time ("busy" otherwise). Cancel
requests are refused: a backend call is not interruptible, and the session waits with a timeout.

Parameters: :data:`lm_reward_learning.ros.node_params.REWARD_SYNTH_NODE` and
``config/ros/reward_synth_node.yaml``.
"""

from __future__ import annotations

import threading
import traceback
from pathlib import Path
from typing import Any

from lm_reward_learning_interfaces.action import SynthesizeReward
from lm_reward_learning_interfaces.msg import RewardProgram
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.ros.messages import feedback_from_msg, reward_program_msg
from lm_reward_learning.ros.node_main import spin_node
from lm_reward_learning.ros.node_params import REWARD_SYNTH_NODE
from lm_reward_learning.ros.params import declare_parameters, reliable_qos
from lm_reward_learning.ros.synth_logic import synthesize


class RewardSynthNode(Node):
    """Action server ``synthesize_reward``; publishes ``reward_program``.

    Raises:
        ParameterError: at construction, if a parameter is invalid (the message lists each).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("reward_synth_node", **kwargs)
        self.params = declare_parameters(self, REWARD_SYNTH_NODE, "config/ros/reward_synth_node.yaml")
        self._pub = self.create_publisher(RewardProgram, "reward_program", reliable_qos())
        self._busy = threading.Lock()
        self._server = ActionServer(
            self,
            SynthesizeReward,
            "synthesize_reward",
            execute_callback=self._execute,
            goal_callback=lambda _g: GoalResponse.ACCEPT,
            cancel_callback=lambda _h: CancelResponse.REJECT,
            callback_group=ReentrantCallbackGroup(),
        )
        self.get_logger().info("ready: action server 'synthesize_reward'")

    def _execute(self, handle: ServerGoalHandle) -> SynthesizeReward.Result:
        if not self._busy.acquire(blocking=False):
            return self._abort(handle, "reward_synth_node is busy with another goal")
        try:
            return self._serve(handle)
        finally:
            self._busy.release()

    def _serve(self, handle: ServerGoalHandle) -> SynthesizeReward.Result:
        g = handle.request
        k, m = int(g.iteration), int(g.candidate)
        self.get_logger().info(f"goal: iteration {k} candidate {m} of {g.run_dir}")
        handle.publish_feedback(SynthesizeReward.Feedback(phase="synthesis"))
        try:
            store = LearnStore.open(Path(g.run_dir))
            feedback = feedback_from_msg(g.feedback) if g.has_feedback else None
            outcome = synthesize(store, k, m, feedback, int(g.current_iteration), int(g.current_candidate))
        except (LmrlError, ValueError) as exc:
            return self._abort(handle, f"reward synthesis failed: {exc}")
        except Exception as exc:  # a bug or a backend's unexpected failure: report it, keep serving
            self.get_logger().error(f"reward synthesis failed: {traceback.format_exc()}")
            return self._abort(handle, f"reward_synth_node failed: {type(exc).__name__}: {exc}")
        stamp = self.get_clock().now().to_msg()
        if self.params["publish_attempts"]:
            for rec in outcome.rejected:
                self._pub.publish(reward_program_msg(stamp, rec))
        program = reward_program_msg(stamp, outcome.kept)
        self._pub.publish(program)
        handle.succeed()
        kept = "the previous program (every attempt failed)" if outcome.kept_previous else "a new program"
        self.get_logger().info(f"iteration {k} candidate {m}: kept {kept} after {outcome.attempts} attempt(s)")
        return SynthesizeReward.Result(
            success=True,
            program=program,
            attempts=outcome.attempts,
            kept_previous=outcome.kept_previous,
            synthesis_path=str(outcome.synthesis_path),
        )

    def _abort(self, handle: ServerGoalHandle, message: str) -> SynthesizeReward.Result:
        self.get_logger().error(f"goal aborted: {message}")
        handle.abort()
        return SynthesizeReward.Result(message=message)

    def destroy_node(self) -> None:
        """Destroy the action server, then the node."""
        self._server.destroy()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Console script ``reward_synth_node``: spin the node on a multi-threaded executor until shutdown."""
    spin_node(RewardSynthNode, "reward_synth_node", args, executor="multi_threaded", num_threads=3)


if __name__ == "__main__":
    main()
