"""Small inputs of the bi-level backend tests: a reward program, frames, requests, feedback."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lm_reward_learning.bilevel.protocols import ComponentChange, Feedback, FeedbackRequest, SynthesisRequest

#: The API key used against the fake server; no returned record or log line may contain it.
SECRET_KEY = "sk-test-9f3c1e7a-SECRET"
#: The environment variable it is read from.
KEY_ENV = "LMRL_TEST_API_KEY"

#: LearnConfig keys of a learn run small enough for tests (1 PPO iteration of 16 envs, 2 s rollouts).
TINY_LEARN = {
    "robot": "go2",
    "iterations": 1,
    "candidates": 1,
    "initial_train_iterations": 1,
    "train_iterations": 1,
    "num_envs": 16,
    "rollout_s": 2.0,
    "num_frames": 2,
}

PROGRAM = """PARAMS = {"lin_vel_z_l2": {"weight": -2.0}}


def lin_vel_z_l2(state):
    return torch.square(state.base_lin_vel_b[:, 2])


def compute_reward(state):
    components = {"lin_vel_z_l2": PARAMS["lin_vel_z_l2"]["weight"] * lin_vel_z_l2(state)}
    return sum(components.values()), components
"""


def solid_frames(values: list[int], height: int, width: int) -> np.ndarray:
    """Frames of one grey level each (``values[k]`` in frame k), uint8. Shape (K, H, W, 3)."""
    return np.stack([np.full((height, width, 3), v, dtype=np.uint8) for v in values])


def feedback_request(
    tmp_path: Path, expert: np.ndarray | None = None, rollout: np.ndarray | None = None
) -> FeedbackRequest:
    """A small :class:`FeedbackRequest` (12 expert frames 240x320, 6 rollout frames 200x100)."""
    return FeedbackRequest(
        iteration=1,
        robot="go2",
        task="gallop forward like the horse",
        expert_video=tmp_path / "expert.mp4",
        expert_frames=expert if expert is not None else solid_frames([20 * k for k in range(12)], 240, 320),
        expert_fps=25.0,
        rollout_video=tmp_path / "rollout.mp4",
        rollout_frames=rollout if rollout is not None else solid_frames([40 * k for k in range(6)], 200, 100),
        side_by_side_video=tmp_path / "side_by_side.mp4",
        reward_source=PROGRAM,
    )


def synthesis_request(feedback: Feedback | None = None, previous_error: str | None = None) -> SynthesisRequest:
    """A small :class:`SynthesisRequest`."""
    return SynthesisRequest(
        iteration=2,
        candidate=0,
        robot="go2",
        task="gallop forward like the horse",
        current_source=PROGRAM,
        env_description="base_lin_vel_b: Base linear velocity, m/s, base frame. Shape (N, 3).",
        feedback=feedback,
        reward_reflection="lin_vel_z_l2: mean -0.12 -> -0.03 over training",
        previous_error=previous_error,
    )


def sample_feedback() -> Feedback:
    """Feedback with all four parts filled."""
    return Feedback(
        problems=("the robot trots; the horse gallops",),
        rewrite=(ComponentChange("lin_vel_z_l2", "penalise less", {"weight": -0.5}),),
        remove=("ang_vel_xy_l2",),
        add=(ComponentChange("gait_frequency_exp", "match 2.1 Hz", {"target_hz": 2.1}),),
        text="gallop, do not trot",
        backend="human",
    )
