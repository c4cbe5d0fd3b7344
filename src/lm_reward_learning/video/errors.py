"""Errors of the video package: one type per thing that can be wrong with an expert video.

All derive from :class:`VideoError` (an :class:`~lm_reward_learning.errors.LmrlError`), so the CLI
prints the message and exits with code 2. Messages name the file, say what was wrong and what to do.
"""

from __future__ import annotations

from lm_reward_learning.errors import LmrlError


class VideoError(LmrlError):
    """Base class of the errors of :mod:`lm_reward_learning.video`."""


class VideoArgumentError(VideoError, ValueError):
    """A parameter is out of range (speed factor ≤ 0, fps missing for a folder of frames, k < 1, ...)."""


class VideoNotFoundError(VideoError):
    """The path does not exist."""


class UnsupportedVideoError(VideoError):
    """The input is not a video this package reads (a single image, a URL, an unknown file type)."""


class VideoReadError(VideoError):
    """The file cannot be decoded: not a container ffmpeg understands, truncated or corrupt."""


class NoVideoStreamError(VideoError):
    """The container holds no video stream (e.g. an audio-only file)."""


class EmptyVideoError(VideoError):
    """The file or folder holds no frames (0 bytes, 0 decodable frames, no images)."""


class TrimWindowError(VideoError, ValueError):
    """The ``start_s``/``end_s`` trim window is empty or lies outside the clip."""


class VideoTooLargeError(VideoError):
    """The decoded frames would not fit the memory budget; trim, downscale or lower the frame rate."""


class NoMotionError(VideoError):
    """Nothing moves in the clip (a still image, or frames that are all the same)."""


class ClipTooShortError(VideoError):
    """The clip is too short to hold the strides a gait analysis needs.

    Attributes:
        got_s: Duration of the clip in real time (after the speed correction), s.
        needed_s: Duration to give instead, real time, s.
    """

    def __init__(self, message: str, got_s: float, needed_s: float) -> None:
        super().__init__(message)
        self.got_s = float(got_s)
        self.needed_s = float(needed_s)
