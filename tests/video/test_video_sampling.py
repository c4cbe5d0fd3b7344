"""Frame sampling (uniform, motion-aware), frame grids and the side-by-side composition."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_videos import BG, draw_ellipse

from lm_reward_learning.video import (
    VideoArgumentError,
    VideoClip,
    frame_grid,
    motion_scores,
    sample_motion_aware,
    sample_uniform,
    side_by_side,
)

BURSTS = ((10, 13), (30, 33), (50, 53))  # frames [start, stop) in which the subject moves


def burst_clip() -> VideoClip:
    """60 frames: the ellipse stands still except in BURSTS, where it moves 4 px per frame."""
    frames = np.empty((60, 64, 96, 3), np.uint8)
    x = 20.0
    for i in range(60):
        if any(lo <= i < hi for lo, hi in BURSTS):
            x += 4.0
        frames[i] = BG
        draw_ellipse(frames[i], x, 32.0, 10.0, 8.0)
    return VideoClip(frames, fps=30.0)


def test_uniform_sampling() -> None:
    clip = burst_clip()
    # linspace(0, 59, 4) = 0, 19.67, 39.33, 59 -> 0, 20, 39, 59.
    assert sample_uniform(clip, 4).tolist() == [0, 20, 39, 59]
    assert sample_uniform(clip.frames[:3], 8).tolist() == [0, 1, 2]  # fewer frames than asked: all
    with pytest.raises(VideoArgumentError, match="positive integer"):
        sample_uniform(clip, 0)


@pytest.mark.parametrize("method", ["flow", "diff"])
def test_motion_scores_peak_in_the_bursts(method: str) -> None:
    scores = motion_scores(burst_clip(), method=method)
    moving = np.zeros(60, bool)
    for lo, hi in BURSTS:
        moving[lo:hi] = True  # the score of frame k compares frames k-1 and k
    assert scores[0] == 0.0
    assert scores[moving].min() > 10 * max(scores[~moving].max(), 1e-6)


@pytest.mark.parametrize("method", ["flow", "diff"])
def test_motion_aware_sampling_picks_one_frame_per_burst(method: str) -> None:
    picked = sample_motion_aware(burst_clip(), 3, method=method)
    # Default min_gap = 60 // (2·3) = 10 frames: one frame per burst, not three from the same one.
    assert len(picked) == 3
    for (lo, hi), i in zip(BURSTS, picked, strict=True):
        assert lo <= i < hi
    # Asking for more frames than there are motion peaks fills the rest spread over the clip.
    more = sample_motion_aware(burst_clip(), 6, method=method)
    assert len(set(more.tolist())) == 6 and set(picked.tolist()) <= set(more.tolist())


def test_frame_grid_shape_and_labels() -> None:
    frames = np.zeros((5, 40, 60, 3), np.uint8)
    grid = frame_grid(frames, cols=3, indices=np.array([0, 10, 20, 30, 40]), fps=10.0)
    assert grid.shape == (2 * 40, 3 * 60, 3)  # 5 tiles in 3 columns: 2 rows, last tile black
    assert grid[:40, :60].any()  # the label "#0  0.00 s" is drawn on the first tile
    assert not grid[40:, 120:].any()  # padding tile
    titled = frame_grid(frames, cols=5, label="expert")
    assert titled.shape[1] == 5 * 60 and titled.shape[0] > 40
    with pytest.raises(VideoArgumentError, match="indices"):
        frame_grid(frames, 2, indices=np.arange(3))


def test_side_by_side_is_time_aligned_and_loops_the_shorter_clip() -> None:
    # Expert: 10 frames at 10 fps (1 s); robot: 100 frames at 50 fps (2 s). Frame i carries its
    # index in the red channel. Output at 25 fps for the longer duration, 2 s: 50 frames.
    expert = np.zeros((10, 60, 80, 3), np.uint8)
    expert[..., 0] = (np.arange(10) * 20)[:, None, None]
    robot = np.zeros((100, 30, 30, 3), np.uint8)
    robot[..., 0] = np.arange(100)[:, None, None]
    out = side_by_side(expert, 10.0, robot, 50.0, height=60, fps=25.0)
    # Heights equal 60; widths keep aspect: expert 80 -> 80, robot 30 -> 60.
    assert out.shape == (50, 60, 80 + 60, 3)
    k = np.arange(50)
    red_expert = out[:, -1, 79, 0]  # bottom-right pixel of each half, clear of the labels
    red_robot = out[:, -1, -1, 0]
    # At output time k/25 s: expert frame floor(k·10/25) mod 10 (it loops after 1 s), robot floor(k·50/25).
    np.testing.assert_array_equal(red_expert, (np.floor(k * 10 / 25 + 1e-6).astype(int) % 10) * 20)
    np.testing.assert_array_equal(red_robot, k * 2)
    assert out[:, :25, :80].any()  # the "expert" label is drawn


def test_side_by_side_rejects_bad_frames() -> None:
    with pytest.raises(VideoArgumentError, match="robot_frames"):
        side_by_side(np.zeros((2, 8, 8, 3), np.uint8), 10, np.zeros((2, 8, 8), np.uint8), 10)
