"""The motion analyser (offline upper level): four-part feedback from measured gait differences."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest

from lm_reward_learning.bilevel.motion_feedback import LABEL, MotionFeedback, MotionFeedbackError
from lm_reward_learning.bilevel.protocols import FeedbackRequest
from lm_reward_learning.bilevel.rules import apply_feedback
from lm_reward_learning.gait import synthetic_gait
from lm_reward_learning.reward.program import default_program
from lm_reward_learning.robots import get_robot

TROT = (0.0, 0.5, 0.5, 0.0)


def rollout_npz(path: Path, freq_hz: float, *, fell: bool = False, speed: float = 0.8) -> Path:
    """A rollout.npz (the format `lmrl play` writes) of a perfect trot at ``freq_hz``, 50 Hz samples."""
    spec = get_robot("go2")
    g = synthetic_gait(TROT, 0.5, freq_hz, dt=0.02, duration_s=6.0, speed_mps=speed, leg_length=spec.leg_length)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        dt=0.02,
        leg_length=spec.leg_length,
        fell=fell,
        base_pos_w=g.base_pos_w,
        base_quat_w=g.base_quat_w,
        base_lin_vel_w=g.base_lin_vel_w,
        foot_pos_w=g.foot_pos_w,
        foot_contact=g.foot_contact,
        joint_torques=np.zeros((len(g.base_pos_w), 12)),
        joint_vel=np.zeros((len(g.base_pos_w), 12)),
    )
    path.write_bytes(buf.getvalue())
    return path


def request(tmp_path: Path, arrays: Path, expert_hz: float | None, source: str | None = None) -> FeedbackRequest:
    return FeedbackRequest(
        iteration=1,
        robot="go2",
        task="trot",
        expert_video=tmp_path / "e.mp4",
        expert_frames=np.zeros((1, 4, 4, 3), np.uint8),
        expert_fps=25.0,
        rollout_video=tmp_path / "r.mp4",
        rollout_frames=np.zeros((1, 4, 4, 3), np.uint8),
        side_by_side_video=tmp_path / "s.mp4",
        reward_source=source or default_program("go2").source,
        rollout_arrays=arrays,
        expert_features={"stride_frequency_hz": expert_hz, "vertical_bounce_rel_height": 0.03},
    )


def test_too_fast_strides_ask_for_longer_swings(tmp_path) -> None:
    arrays = rollout_npz(tmp_path / "r.npz", 3.125)
    fb = MotionFeedback().feedback(request(tmp_path, arrays, 2.0))
    assert fb.backend == LABEL and LABEL in fb.text
    assert any("3.12 Hz" in p and "faster" in p and "2.00 Hz" in p for p in fb.problems)
    swing = {c.name: c for c in fb.add}["swing_duration_exp"]
    # duty 0.5 at the 2 Hz target: swing (1 - 0.5) / 2 = 0.25 s, stance 0.5 / 2 = 0.25 s
    assert swing.params["target_s"] == pytest.approx(0.25, abs=0.01)
    assert {c.name: c for c in fb.add}["stance_duration_l1"].params["target_s"] == pytest.approx(0.25, abs=0.01)
    assert fb.measurements["robot"]["stride_frequency_hz"] == pytest.approx(3.125, rel=0.03)


def test_repeated_feedback_raises_the_weight(tmp_path) -> None:
    arrays = rollout_npz(tmp_path / "r.npz", 3.125)
    fb1 = MotionFeedback().feedback(request(tmp_path, arrays, 2.0))
    edited, _ = apply_feedback(default_program("go2").source, fb1)
    fb2 = MotionFeedback().feedback(request(tmp_path, arrays, 2.0, edited))
    swing = {c.name: c for c in fb2.rewrite}["swing_duration_exp"]
    assert swing.params["weight"] == pytest.approx(0.5 * 1.5)


def test_matching_gait_gives_no_problems(tmp_path) -> None:
    arrays = rollout_npz(tmp_path / "r.npz", 2.0)
    fb = MotionFeedback().feedback(request(tmp_path, arrays, 2.0))
    assert fb.problems == () and not fb.add and not fb.rewrite
    assert "matches" in fb.text


def test_dynamic_similarity_scales_the_target(tmp_path) -> None:
    spec = get_robot("go2")
    mf = MotionFeedback(expert_leg_length_m=4 * spec.leg_length)
    assert mf.target_frequency(1.0, spec.leg_length) == pytest.approx(2.0)  # sqrt(4) = 2


def test_fall_and_standing_still_are_reported(tmp_path) -> None:
    arrays = rollout_npz(tmp_path / "r.npz", 2.0, fell=True, speed=0.1)
    fb = MotionFeedback().feedback(request(tmp_path, arrays, 2.0))
    assert any("falls" in p for p in fb.problems) and any("barely moves" in p for p in fb.problems)
    names = {c.name: c.params for c in fb.rewrite}
    assert names["flat_orientation_l2"] == {"weight_scale": 1.5}
    assert names["track_lin_vel_xy_exp"] == {"weight_scale": 1.3}


def test_missing_inputs_are_clear_errors(tmp_path) -> None:
    arrays = rollout_npz(tmp_path / "r.npz", 2.0)
    with pytest.raises(MotionFeedbackError, match="no stride frequency"):
        MotionFeedback().feedback(request(tmp_path, arrays, None))
    req = request(tmp_path, arrays, 2.0)
    with pytest.raises(MotionFeedbackError, match=r"rollout\.npz"):
        MotionFeedback().feedback(FeedbackRequest(**{**req.__dict__, "rollout_arrays": None}))


def test_a_galloping_expert_asks_a_trotting_robot_for_a_gallop_then_harder(tmp_path) -> None:
    from lm_reward_learning.bilevel.rules import current_params

    arrays = rollout_npz(tmp_path / "r.npz", 2.0)  # a perfect trot at the expert's frequency
    req = request(tmp_path, arrays, 2.0)
    hint = {"gait_hint": "asymmetric", "confidence": 0.95, "flight_fraction": 0.22}
    req = dataclasses.replace(req, expert_features={**req.expert_features, "footfalls": hint})
    fb = MotionFeedback().feedback(req)
    assert fb.gait_pattern is not None and fb.gait_pattern.gait == "gallop"
    assert fb.gait_pattern.frequency_hz == pytest.approx(2.0)
    assert any("asymmetrical" in p and "trot" in p for p in fb.problems)
    source, _ = apply_feedback(req.reward_source, fb)
    assert current_params(source)["foot_contact_sync"]["phase_rl"] == 0.65  # the gallop's phases
    again = MotionFeedback().feedback(dataclasses.replace(req, reward_source=source))
    assert {c.name: c for c in again.rewrite}["foot_contact_sync"].params["weight"] == pytest.approx(1.5)
    # an unsure hint is not acted on
    unsure = dataclasses.replace(req, expert_features={**req.expert_features, "footfalls": {**hint, "confidence": 0.2}})
    assert MotionFeedback().feedback(unsure).gait_pattern is None
