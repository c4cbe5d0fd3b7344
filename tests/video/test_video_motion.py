"""The gait analyser on synthetic periodic motion of known frequency, bounce and speed.

Clips come from ``synthetic_videos.bouncing_frames`` (a dark ellipse on a light background), written to mp4
and decoded again, so that the codec's blur is part of the test.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_videos import bouncing_frames

from lm_reward_learning.video import (
    ClipTooShortError,
    NoMotionError,
    VideoClip,
    analyse_expert_video,
    load_video,
)
from lm_reward_learning.video.periodicity import cycle_amplitude, dominant_period, normalised_autocorrelation

FPS = 30.0


@pytest.fixture(scope="module")
def bounce_path(tmp_path_factory: pytest.TempPathFactory):
    # f = 1.7 Hz at 30 fps: a stride of 30 / 1.7 = 17.65 frames, not a whole number of frames.
    # 6 s = 180 frames = 10.2 strides. Bounce amplitude 6 px on an ellipse 2·14 = 28 px tall.
    from lm_reward_learning.video import write_video

    frames = bouncing_frames(n=180, fps=FPS, f_hz=1.7, amp_px=6.0)
    return write_video(tmp_path_factory.mktemp("bounce") / "bounce.mp4", frames, FPS)


def test_stride_frequency_and_bounce_of_a_bouncing_subject(bounce_path) -> None:
    m = analyse_expert_video(load_video(bounce_path))
    assert m.stride_frequency_hz == pytest.approx(1.7, rel=0.05)
    assert m.period_frames == pytest.approx(30 / 1.7, rel=0.05)
    assert m.confidence > 0.9
    assert m.num_strides == pytest.approx(10.2, rel=0.05)
    assert m.vertical_bounce_px == pytest.approx(6.0, rel=0.15)
    # Silhouette height 2·b = 28 px (+ ~1 px of soft edge): 6 / 28 ≈ 0.21.
    assert m.subject_height_px == pytest.approx(28.0, abs=2.0)
    assert m.vertical_bounce_rel_height == pytest.approx(6.0 / 28.0, rel=0.2)
    # The subject bounces in place over a plain background: no speed can be measured.
    assert m.forward_speed_px_s is None and m.forward_speed_body_lengths_s is None
    assert m.held_frame_fraction < 0.05  # no repeated frames (maybe one at a turning point)


@pytest.mark.parametrize("speed", [2.0, 0.5])
def test_speed_factor_scales_the_measured_frequency(bounce_path, speed: float) -> None:
    # speed = 2: the file is a 2x slow-motion clip, real time runs twice as fast: 3.4 Hz.
    clip = load_video(bounce_path, speed=speed)
    assert clip.fps == pytest.approx(FPS * speed)
    m = analyse_expert_video(clip)
    assert m.stride_frequency_hz == pytest.approx(1.7 * speed, rel=0.05)
    assert m.duration_s == pytest.approx(6.0 / speed, rel=0.01)
    assert m.speed_factor == speed


def test_speed_factor_with_resampling(bounce_path) -> None:
    # 2x slow motion resampled to 30 fps real time: every second file frame, 90 frames of 3 s.
    clip = load_video(bounce_path, speed=2.0, target_fps=30.0)
    assert clip.num_frames == 90
    assert analyse_expert_video(clip).stride_frequency_hz == pytest.approx(3.4, rel=0.05)


def test_subject_crossing_the_frame_gives_forward_speed(write_mp4) -> None:
    # 40 px/s for 4 s: the ellipse (2a = 40 px wide) crosses 160 px, 4 body lengths, 1 body length/s.
    frames = bouncing_frames(n=120, fps=FPS, f_hz=2.0, amp_px=4.0, size=(240, 100), x0=40.0, vx_px_s=40.0)
    m = analyse_expert_video(load_video(write_mp4(frames, FPS)), body_length_px=40.0, body_length_m=0.5)
    assert m.stride_frequency_hz == pytest.approx(2.0, rel=0.05)
    assert m.forward_speed_px_s == pytest.approx(40.0, rel=0.05)
    assert m.forward_speed_body_lengths_s == pytest.approx(1.0, rel=0.05)
    assert m.forward_speed_mps == pytest.approx(0.5, rel=0.05)  # 1 body length/s x 0.5 m
    assert m.speed_source == "subject crosses the frame"


def test_camera_pan_gives_forward_speed(write_mp4) -> None:
    # The subject stays in the frame centre; the ground scrolls 2 px per frame = 60 px/s.
    # Without body_length_px the silhouette width (2a = 40 px, +1 px edge) is the body length: ~1.5 /s.
    frames = bouncing_frames(n=90, fps=FPS, f_hz=2.0, amp_px=4.0, ground_shift_px=2)
    m = analyse_expert_video(load_video(write_mp4(frames, FPS)))
    assert m.speed_source == "camera pan"
    assert m.forward_speed_px_s == pytest.approx(60.0, rel=0.05)
    assert m.forward_speed_body_lengths_s == pytest.approx(m.forward_speed_px_s / m.subject_length_px)
    assert m.subject_length_px == pytest.approx(40.0, abs=2.0)
    assert m.forward_speed_mps is None  # no body_length_m: no metres


def test_to_gait_features_uses_gait_names_and_never_invents(bounce_path) -> None:
    from lm_reward_learning.gait import GaitFeatures

    feats = analyse_expert_video(load_video(bounce_path)).to_gait_features()
    shared = {"stride_frequency_hz", "num_strides", "duration_s", "forward_speed_mps"}
    assert shared <= set(GaitFeatures.__dataclass_fields__)
    assert shared | {"stride_period_s"} <= set(feats)
    assert feats["stride_frequency_hz"] == pytest.approx(1.7, rel=0.05)
    assert feats["num_strides"] == 10
    assert feats["forward_speed_mps"] is None and feats["forward_speed_body_lengths_s"] is None
    assert "not a VLM" in feats["source"]


def test_clip_shorter_than_the_strides_needed() -> None:
    # 0.5 s of a 1 Hz bounce: half a stride. Needed: 2 strides at the slowest 0.5 Hz = 4 s.
    clip = VideoClip(bouncing_frames(n=15, fps=FPS, f_hz=1.0, amp_px=8.0), fps=FPS)
    with pytest.raises(ClipTooShortError, match=r"0\.50 s of real time.*at least 4\.0 s") as info:
        analyse_expert_video(clip)
    assert info.value.got_s == pytest.approx(0.5) and info.value.needed_s == pytest.approx(4.0)
    with pytest.raises(ClipTooShortError, match="3 frames"):
        analyse_expert_video(VideoClip(clip.frames[:3], fps=FPS))


def test_aperiodic_long_clip_reports_no_frequency() -> None:
    # A subject that drifts down once over 5 s never looks the same again: no stride, not an error.
    frames = np.stack([bouncing_frames(n=1, fps=FPS, f_hz=0.0, amp_px=0.0)[0]] * 150)
    for i in range(150):
        frames[i] = np.roll(frames[i], i // 10, axis=0)
    m = analyse_expert_video(VideoClip(frames, fps=FPS))
    assert m.stride_frequency_hz is None and m.vertical_bounce_px is None
    assert any("no periodic motion" in n for n in m.notes)


def test_still_video_is_no_motion() -> None:
    frames = np.repeat(bouncing_frames(n=1, fps=FPS, f_hz=1.0, amp_px=0.0), 60, axis=0)
    with pytest.raises(NoMotionError, match="nothing moves"):
        analyse_expert_video(VideoClip(frames, fps=FPS))


def test_dominant_period_and_amplitude_of_a_sampled_sinusoid() -> None:
    # a_t = (sin, cos)(2πt / 12.5): <a_t, a_{t+L}> = cos(2πL / 12.5), so r(L) = cos(2πL / 12.5)
    # exactly; r(12) = r(13) = cos(0.08π) ≈ 0.969 and the parabola puts the peak at 12.5.
    t = np.arange(100)
    a = np.stack([np.sin(2 * np.pi * t / 12.5), np.cos(2 * np.pi * t / 12.5)], axis=1)
    r = normalised_autocorrelation(a)
    assert r[0] == pytest.approx(1.0) and r[25] == pytest.approx(1.0)
    period, conf = dominant_period(r, 50)
    assert period == pytest.approx(12.5, abs=0.05)
    assert conf == pytest.approx(np.cos(0.08 * np.pi), abs=1e-9)
    # Amplitude 3 on a linear trend: the trend is removed, the mean cycle spans ±3.
    assert cycle_amplitude(3.0 * np.sin(2 * np.pi * t / 12.5) + 0.1 * t, 12.5) == pytest.approx(3.0, rel=0.05)
    # White noise has no period.
    noise = np.random.default_rng(0).normal(size=(100, 16))
    assert dominant_period(normalised_autocorrelation(noise), 50)[0] is None


def test_measurements_are_in_clip_pixels_when_the_analysis_downscales() -> None:
    # 384x240 frames are analysed at 192x120 (x0.5); sizes come back in the clip's pixels:
    # bounce 10 px, silhouette 2·28 = 56 px tall and 2·40 = 80 px wide.
    frames = bouncing_frames(n=90, fps=FPS, f_hz=2.0, amp_px=10.0, size=(384, 240), a=40.0, b=28.0)
    m = analyse_expert_video(VideoClip(frames, fps=FPS))
    assert m.stride_frequency_hz == pytest.approx(2.0, rel=0.05)
    assert m.vertical_bounce_px == pytest.approx(10.0, rel=0.15)
    assert m.subject_height_px == pytest.approx(56.0, abs=3.0)
    assert m.subject_length_px == pytest.approx(80.0, abs=3.0)
