"""Choose frames to show a VLM or a person, and compose them.

* :func:`sample_uniform`: ``k`` frames evenly spread over the clip.
* :func:`sample_motion_aware`: ``k`` frames where the motion peaks. Motion score per frame as in
  MA-ROESL (X. Wang, X. Zhang, Y. Chen, X. Shen, W. Zhang, "MA-ROESL: Motion-aware Rapid Reward
  Optimization for Efficient Robot Skill Learning from Single Videos", arXiv 2505.08367, 2025): the
  mean squared dense optical-flow displacement (Farnebäck) between frame ``k-1`` and frame ``k``,
  highest scores first. Unlike a plain top-``k`` ranking, picked frames are kept at least ``min_gap``
  frames apart so that one burst of motion does not take every slot, and uniform frames fill the rest.
* :func:`frame_grid`: a grid of frames labelled with frame number and time, the spatio-temporal grid
  encoding of SDS (M. Stamatopoulou, J. Li, D. Kanoulas, "SDS – See it, Do it, Sorted: Quadruped
  Skill Synthesis from Single Video Demonstration", CoRL 2025, arXiv 2410.11571).
* :func:`side_by_side`: expert | robot, time-aligned, same height, labelled (what a person or a VLM
  watches).
"""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np

from lm_reward_learning.video.clip import VideoClip, _check_positive, resample_indices
from lm_reward_learning.video.errors import VideoArgumentError

log = logging.getLogger(__name__)

#: Longer side of the grey frames the motion score is computed on, px.
MOTION_MAX_SIDE = 160


def sample_uniform(clip: VideoClip | np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` frames evenly spread from the first frame to the last.

    Args:
        clip: A clip, or frames of shape ``(T, H, W, 3)``.
        k: Frames wanted; a clip with fewer frames gives all of its ``T`` frames.

    Returns:
        Sorted unique frame indices, int64. Shape ``(min(k, T),)``.

    Raises:
        VideoArgumentError: ``k < 1``.
    """
    t = _num_frames(clip)
    _check_k(k)
    if k >= t:
        return np.arange(t, dtype=np.int64)
    return np.round(np.linspace(0, t - 1, k)).astype(np.int64)


def motion_scores(clip: VideoClip | np.ndarray, *, method: str = "flow") -> np.ndarray:
    """Motion score of each frame: how much changed since the previous frame.

    Args:
        clip: A clip, or frames of shape ``(T, H, W, 3)``.
        method: ``"flow"``: mean squared Farnebäck optical-flow displacement, px² at
            :data:`MOTION_MAX_SIDE` resolution (MA-ROESL's score); ``"diff"``: mean squared grey-level
            difference (faster, no direction information).

    Returns:
        Scores, float64, ``0`` for the first frame. Shape ``(T,)``.

    Raises:
        VideoArgumentError: Unknown ``method``.
    """
    if method not in ("flow", "diff"):
        raise VideoArgumentError(f"method must be 'flow' or 'diff'; got {method!r}")
    grey = grey_frames(_frames(clip), MOTION_MAX_SIDE)
    scores = np.zeros(len(grey))
    for i in range(1, len(grey)):
        if method == "diff":
            scores[i] = float(np.mean((grey[i].astype(np.float32) - grey[i - 1]) ** 2))
        else:
            flow = cv2.calcOpticalFlowFarneback(grey[i - 1], grey[i], None, 0.5, 3, 15, 3, 5, 1.2, 0)
            scores[i] = float(np.mean(np.sum(flow**2, axis=-1)))
    return scores


def sample_motion_aware(
    clip: VideoClip | np.ndarray, k: int, *, method: str = "flow", min_gap: int | None = None
) -> np.ndarray:
    """Indices of ``k`` frames at the peaks of motion (MA-ROESL), kept apart.

    Frames are taken in order of decreasing :func:`motion_scores`; a frame closer than ``min_gap``
    frames to one already taken is skipped. When fewer than ``k`` frames qualify (little motion, or
    motion in few places), the remaining slots are filled with uniform frames not yet taken.

    Args:
        clip: A clip, or frames of shape ``(T, H, W, 3)``.
        k: Frames wanted; a clip with fewer frames gives all of its ``T`` frames.
        method: Motion score, see :func:`motion_scores`.
        min_gap: Least distance between picked frames, frames; default ``T // (2k)`` (at least 1).

    Returns:
        Sorted unique frame indices, int64. Shape ``(min(k, T),)``.

    Raises:
        VideoArgumentError: ``k < 1``, a negative ``min_gap`` or an unknown ``method``.
    """
    t = _num_frames(clip)
    _check_k(k)
    if k >= t:
        return np.arange(t, dtype=np.int64)
    gap = max(1, t // (2 * k)) if min_gap is None else min_gap
    if gap < 0:
        raise VideoArgumentError(f"min_gap must be ≥ 0 frames; got {min_gap}")
    scores = motion_scores(clip, method=method)
    picked: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if len(picked) == k or scores[i] <= 0:
            break
        if all(abs(int(i) - j) >= gap for j in picked):
            picked.append(int(i))
    if len(picked) < k:
        log.debug("motion-aware sampling: %d motion peaks for %d frames; filling uniformly", len(picked), k)
        taken = set(picked)
        for i in np.argsort(_spread_order(t), kind="stable"):  # coarse to fine: 0, T-1, T/2, T/4, ...
            if len(picked) == k:
                break
            if int(i) not in taken:
                picked.append(int(i))
    return np.sort(np.asarray(picked, dtype=np.int64))


def frame_grid(
    frames: np.ndarray,
    cols: int,
    *,
    label: str | None = None,
    indices: np.ndarray | None = None,
    fps: float | None = None,
) -> np.ndarray:
    """Tile frames into one image, row by row, each tile stamped with its frame number and time.

    Args:
        frames: uint8 RGB frames. Shape ``(K, H, W, 3)``.
        cols: Tiles per row; rows = ``ceil(K / cols)``, the last row padded with black tiles.
        label: Title drawn in a strip above the grid.
        indices: Frame numbers to print on the tiles (e.g. from :func:`sample_uniform`); default ``0..K-1``.
        fps: Frame rate of the clip the indices refer to, Hz; adds ``t = index / fps`` seconds.

    Returns:
        uint8 RGB image. Shape ``(rows·H + title, cols·W, 3)``; ``title`` is 0 without ``label``.

    Raises:
        VideoArgumentError: Empty or malformed ``frames``, ``cols < 1``, ``indices`` of another length.
    """
    frames = _check_frames(frames, "frames")
    if not isinstance(cols, (int, np.integer)) or cols < 1:
        raise VideoArgumentError(f"cols must be a positive integer; got {cols!r}")
    n, h, w = frames.shape[:3]
    idx = np.arange(n) if indices is None else np.asarray(indices)
    if idx.shape != (n,):
        raise VideoArgumentError(f"indices must have one entry per frame ({n}); got shape {idx.shape}")
    if fps is not None:
        _check_positive("fps", fps)
    cols = min(int(cols), n)
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * h, cols * w, 3), np.uint8)
    scale = max(0.35, h / 400)
    for i in range(n):
        tile = frames[i].copy()
        text = f"#{int(idx[i])}" + (f"  {idx[i] / fps:.2f} s" if fps is not None else "")
        draw_label(tile, text, scale=scale)
        r, c = divmod(i, cols)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = tile
    if label:
        strip = np.zeros((max(20, round(28 * scale * 2)), grid.shape[1], 3), np.uint8)
        draw_label(strip, label, scale=scale * 1.2)
        grid = np.concatenate([strip, grid], axis=0)
    return grid


def side_by_side(
    expert_frames: np.ndarray,
    expert_fps: float,
    robot_frames: np.ndarray,
    robot_fps: float,
    *,
    labels: tuple[str, str] = ("expert", "robot"),
    height: int = 240,
    fps: float = 25.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Expert | robot composition, time-aligned: both resampled to ``fps`` and scaled to ``height``.

    Output frame ``k`` shows each clip at real time ``k / fps`` (sample-and-hold); the shorter clip
    loops. Each half is labelled with its name and its own time.

    Args:
        expert_frames: uint8 RGB expert frames. Shape ``(Te, He, We, 3)``.
        expert_fps: Expert frame rate in real time (after the speed correction), Hz.
        robot_frames: uint8 RGB robot frames. Shape ``(Tr, Hr, Wr, 3)``.
        robot_fps: Robot frame rate, Hz.
        labels: Names drawn on the left and right halves.
        height: Output height, px; widths keep each clip's aspect ratio.
        fps: Output frame rate, Hz.
        duration_s: Output length, s; default: the longer clip's duration.

    Returns:
        uint8 RGB frames at ``fps``. Shape ``(N, height, We' + Wr', 3)``, ``N = ceil(duration_s · fps)``.

    Raises:
        VideoArgumentError: Malformed frames or non-positive rates, height or duration.
    """
    expert_frames = _check_frames(expert_frames, "expert_frames")
    robot_frames = _check_frames(robot_frames, "robot_frames")
    for name, value in (("expert_fps", expert_fps), ("robot_fps", robot_fps), ("fps", fps), ("height", height)):
        _check_positive(name, value)
    if duration_s is None:
        duration_s = max(len(expert_frames) / expert_fps, len(robot_frames) / robot_fps)
    _check_positive("duration_s", duration_s)
    n = max(1, math.ceil(duration_s * fps - 1e-6))
    halves = []
    for frames, src_fps, name in ((expert_frames, expert_fps, labels[0]), (robot_frames, robot_fps, labels[1])):
        idx = resample_indices(len(frames), src_fps, fps, num_out=n)
        width = max(2, round(frames.shape[2] * height / frames.shape[1]))
        scaled = {int(i): cv2.resize(frames[i], (width, height), interpolation=cv2.INTER_AREA) for i in np.unique(idx)}
        half = np.empty((n, height, width, 3), np.uint8)
        for k, i in enumerate(idx):
            half[k] = scaled[int(i)]
            draw_label(half[k], f"{name}  {i / src_fps:.2f} s", scale=max(0.4, height / 480))
        halves.append(half)
    return np.concatenate(halves, axis=2)


def draw_label(image: np.ndarray, text: str, *, scale: float = 0.5, origin: tuple[int, int] | None = None) -> None:
    """Draw white text with a black outline in the top-left corner of ``image`` (in place).

    Args:
        image: uint8 RGB image, writable. Shape ``(H, W, 3)``.
        text: ASCII text (OpenCV's Hershey fonts have no other glyphs).
        scale: Font scale (1.0 ≈ 22 px cap height).
        origin: Baseline start ``(x, y)``, px; default just inside the top-left corner.
    """
    thick = max(1, round(scale * 2))
    (_, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    org = origin or (4, 4 + th)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)


def grey_frames(frames: np.ndarray, max_side: int) -> np.ndarray:
    """uint8 grey frames downscaled so that the longer side is at most ``max_side``. Shape ``(T, h, w)``."""
    h, w = frames.shape[1:3]
    s = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    out = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    if s < 1.0:
        out = [cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in out]
    return np.stack(out)


def _frames(clip: VideoClip | np.ndarray) -> np.ndarray:
    return clip.frames if isinstance(clip, VideoClip) else _check_frames(clip, "frames")


def _num_frames(clip: VideoClip | np.ndarray) -> int:
    return len(_frames(clip))


def _check_k(k: int) -> None:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise VideoArgumentError(f"k (frames to sample) must be a positive integer; got {k!r}")


def _check_frames(frames: np.ndarray, name: str) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise VideoArgumentError(
            f"{name} must be uint8 RGB frames of shape (T, H, W, 3), T ≥ 1; got {frames.dtype} {frames.shape}"
        )
    return frames


def _spread_order(t: int) -> np.ndarray:
    """Rank of each frame in a coarse-to-fine order (0, T-1, T/2, T/4, 3T/4, ...), for filling slots."""
    order = np.full(t, t, dtype=np.int64)
    rank = 0
    step = t
    while step >= 1:
        for i in range(0, t, step):
            if order[i] == t:
                order[i] = rank
                rank += 1
        if order[t - 1] == t:
            order[t - 1] = rank
            rank += 1
        step //= 2
    return order
