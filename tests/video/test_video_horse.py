"""The bundled Muybridge horse: it loads, and the analyser agrees with a stride counted by hand.

Hand count (see ``data/expert/PROVENANCE.md``): the clip shows 15 photographs per loop, each held
for 2 or 3 frames, and the loop repeats every 36 frames; one loop is one gallop stride (frame 18,
half a loop on, shows a different leg phase). At the file's 48600000/2026687 ≈ 23.98 fps:
36 / 23.98 = 1.501 s per stride, f = 0.666 Hz. The checks below re-derive the count from the
frames, then compare the analyser with it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lm_reward_learning.video import (
    BUNDLED_EXPERT_VIDEOS,
    TrimWindowError,
    VideoNotFoundError,
    analyse_expert_video,
    bundled_expert_video,
    load_video,
    sample_motion_aware,
)

HAND_COUNT_FRAMES = 36
FILE_FPS = 48600000 / 2026687  # the container's average rate, ≈ 23.98


@pytest.fixture(scope="module")
def horse():
    return load_video(bundled_expert_video("horse_gallop"), max_side=160)


def _grey_distance(frames: np.ndarray, i: int, j: int) -> float:
    return float(np.abs(frames[i].astype(np.int16) - frames[j]).mean())


def test_bundled_clip_loads(horse) -> None:
    assert bundled_expert_video().name == "horse_gallop_muybridge.mp4"
    assert (bundled_expert_video().parent / "PROVENANCE.md").is_file()
    assert horse.num_frames == 540 and horse.original_size == (960, 540)
    assert (horse.width, horse.height) == (160, 90)
    assert horse.fps == pytest.approx(FILE_FPS)
    with pytest.raises(VideoNotFoundError, match="horse_gallop"):
        bundled_expert_video("zebra")


def test_hand_count_of_the_stride(horse) -> None:
    f = horse.frames
    # The loop repeats every 36 frames: frame 0 = 36 = 72 (codec noise only, < 2 grey levels) ...
    for k in (1, 2, 10):
        assert _grey_distance(f, 0, k * HAND_COUNT_FRAMES) < 2.0
    # ... and at no shorter lag: every other lag in 4..35 differs by far more.
    assert min(_grey_distance(f, 0, lag) for lag in range(4, HAND_COUNT_FRAMES)) > 8.0
    # 15 photographs per loop: 15 changes of picture within 36 frames.
    changes = sum(_grey_distance(f, i, i + 1) > 5.0 for i in range(HAND_COUNT_FRAMES))
    assert changes == 15
    assert BUNDLED_EXPERT_VIDEOS["horse_gallop"].stride_frames == HAND_COUNT_FRAMES


def test_analyser_agrees_with_the_hand_count(horse) -> None:
    m = analyse_expert_video(horse)
    assert m.period_frames == pytest.approx(HAND_COUNT_FRAMES, abs=0.5)
    assert m.stride_frequency_hz == pytest.approx(FILE_FPS / HAND_COUNT_FRAMES, rel=0.02)  # 0.666 Hz
    assert m.confidence > 0.95  # a looped animation repeats exactly
    assert m.num_strides == pytest.approx(15, abs=0.3)
    # Each photograph is held for 2-3 frames: 21 of 36 frames repeat the previous one (≈ 0.58).
    assert m.held_frame_fraction == pytest.approx(21 / 36, abs=0.03)
    assert any("speed factor" in note for note in m.notes)
    # The horse stays in the frame over a plain backdrop: speed is not measurable, and not invented.
    assert m.forward_speed_body_lengths_s is None
    # The trunk bounces by a few percent of the silhouette's height (rider included).
    assert 0.005 < m.vertical_bounce_rel_height < 0.1


def test_speed_factor_gives_real_cadence(horse) -> None:
    # With a speed factor of 3 the same frames are 3x faster in real time: 0.666 x 3 ≈ 2.0 Hz,
    # the textbook gallop cadence (the file itself cannot tell the right factor).
    m = analyse_expert_video(replace(horse, fps=horse.fps * 3, speed=3.0))
    assert m.stride_frequency_hz == pytest.approx(3 * FILE_FPS / HAND_COUNT_FRAMES, rel=0.02)


def test_motion_aware_frames_of_the_horse_are_picture_changes(horse) -> None:
    # In an animation of held stills, motion happens only where the picture changes.
    loop = horse.frames[: 2 * HAND_COUNT_FRAMES]
    picked = sample_motion_aware(loop, 6, method="diff")
    assert all(_grey_distance(loop, i - 1, i) > 5.0 for i in picked)


def test_trim_and_speed_on_the_horse() -> None:
    clip = load_video(bundled_expert_video(), start_s=3.0, end_s=6.0, speed=3.0, target_fps=30.0, max_side=96)
    assert clip.fps == 30.0 and clip.duration_s == pytest.approx(1.0, abs=0.05)  # 3 s of file / 3


def test_trim_seeks_to_the_same_frames(horse) -> None:
    # A start later than 2 s seeks to the keyframe before it; the frames equal those of a full decode.
    # The first frame at or after 3.0 s is frame ceil(3.0 · 23.98) = 72; 4.0 s ends before frame 96.
    part = load_video(bundled_expert_video(), start_s=3.0, end_s=4.0, max_side=160)
    assert part.num_frames == 24
    np.testing.assert_array_equal(part.frames, horse.frames[72:96])
    with pytest.raises(TrimWindowError, match=r"runs from 0 to about 22\.48 s"):
        load_video(bundled_expert_video(), start_s=100.0, max_side=32)
