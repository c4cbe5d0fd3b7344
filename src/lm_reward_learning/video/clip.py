"""A decoded video clip in real time, and resampling to another frame rate.

Time scale. A clip has two clocks: the file's own timeline (what a player shows; trim points
``start_s``/``end_s`` are given on it) and real time (the subject's). They differ by the playback-rate
correction ``speed``: real time = video time / ``speed``. A 4× slow-motion clip (filmed at 120 fps,
played at 30 fps) has ``speed=4``; a clip sped up 2× has ``speed=0.5``. :attr:`VideoClip.fps` is
the frame rate in real time, ``file fps × speed``, and every duration and frequency measured from a
clip (e.g. :func:`lm_reward_learning.video.motion.analyse_expert_video`) is in real time.

The bundled Muybridge horse (:func:`lm_reward_learning.video.bundled_expert_video`) shows why this
is a setting and not an assumption: it is an animation of still photographs from 1878, so its
playback rate is not the horse's real cadence (a real gallop is roughly 2 strides per second).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lm_reward_learning.video.errors import VideoArgumentError


@dataclass(frozen=True, eq=False)
class VideoClip:
    """Decoded RGB frames at a constant frame rate, with where they came from.

    Attributes:
        frames: uint8 RGB frames, read-only. Shape ``(T, H, W, 3)``.
        fps: Frame rate in real time (after the ``speed`` correction), Hz.
        source: The file or folder decoded, or None for frames made in memory.
        start_s: Time of the first frame on the file's timeline, s (video time, before ``speed``).
        end_s: End of the last frame on the file's timeline, s (video time).
        speed: Playback-rate correction: real time = video time / ``speed`` (4 for a 4× slow-motion
            clip, 1 for real time).
        original_fps: Frame rate of the file (container's average rate), Hz, video time.
        original_size: ``(width, height)`` of the file's frames before any downscale, px.
    """

    frames: np.ndarray
    fps: float
    source: Path | None = None
    start_s: float = 0.0
    end_s: float | None = None
    speed: float = 1.0
    original_fps: float | None = None
    original_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        f = self.frames
        if not isinstance(f, np.ndarray) or f.dtype != np.uint8 or f.ndim != 4 or f.shape[-1] != 3:
            got = f"{f.dtype} array of shape {f.shape}" if isinstance(f, np.ndarray) else type(f).__name__
            raise VideoArgumentError(f"VideoClip frames must be a uint8 RGB array of shape (T, H, W, 3); got {got}")
        if f.shape[0] < 1:
            raise VideoArgumentError("VideoClip needs at least one frame; got 0")
        _check_positive("fps", self.fps)
        _check_positive("speed", self.speed)
        if f.flags.writeable:
            f = f.view()
            f.flags.writeable = False
            object.__setattr__(self, "frames", f)
        if self.end_s is None:
            object.__setattr__(self, "end_s", self.start_s + self.num_frames * self.speed / self.fps)

    @property
    def num_frames(self) -> int:
        """Number of frames ``T``."""
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        """Frame height ``H``, px."""
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        """Frame width ``W``, px."""
        return int(self.frames.shape[2])

    @property
    def duration_s(self) -> float:
        """Length in real time, ``T / fps``, s."""
        return self.num_frames / self.fps

    @property
    def times_s(self) -> np.ndarray:
        """Real time of each frame from the first, s. Shape ``(T,)``."""
        return np.arange(self.num_frames) / self.fps

    def resampled(self, fps: float) -> VideoClip:
        """The same clip at another real-time frame rate (sample-and-hold, see :func:`resample_indices`).

        Raises:
            VideoArgumentError: ``fps`` is not a positive number.
        """
        idx = resample_indices(self.num_frames, self.fps, fps)
        return replace(self, frames=np.ascontiguousarray(self.frames[idx]), fps=float(fps))


def resample_indices(num_frames: int, fps_in: float, fps_out: float, *, num_out: int | None = None) -> np.ndarray:
    """Source frame shown at each output frame when a clip is played at another frame rate.

    Output frame ``k`` shows the source frame on screen at time ``k / fps_out``, i.e. source frame
    ``floor(k · fps_in / fps_out)`` (sample-and-hold, as a player does). Equal rates give the identity.
    With ``num_out`` longer than the source, the source loops.

    Args:
        num_frames: Frames of the source, ``T``.
        fps_in: Source frame rate, Hz.
        fps_out: Output frame rate, Hz.
        num_out: Output frames; default: as many as cover the source's duration, ``floor(T · fps_out / fps_in)``
            (at least 1).

    Returns:
        Source indices, int64. Shape ``(num_out,)``.

    Raises:
        VideoArgumentError: Non-positive rates or counts.
    """
    _check_positive("fps_in", fps_in)
    _check_positive("fps_out", fps_out)
    if num_frames < 1:
        raise VideoArgumentError(f"cannot resample a clip of {num_frames} frames")
    if num_out is None:
        num_out = max(1, math.floor(num_frames * fps_out / fps_in + 1e-6))
    if num_out < 1:
        raise VideoArgumentError(f"num_out must be ≥ 1; got {num_out}")
    k = np.arange(num_out, dtype=np.float64)
    idx = np.floor(k * (fps_in / fps_out) + 1e-6).astype(np.int64)
    return idx % num_frames


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and value > 0):
        raise VideoArgumentError(f"{name} must be a positive finite number; got {value!r}")
