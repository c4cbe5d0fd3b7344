"""Read expert videos (any local file ffmpeg reads, or a folder of frames) and write videos.

Decoding and encoding go through PyAV (ffmpeg's libraries); this package has no codec of its own.
Files: mp4, m4v, mov, mkv, webm, avi, gif and whatever else ffmpeg can demux. Folders: png/jpg/bmp/webp
frames, in natural name order (``f2.png`` before ``f10.png``), with an explicit frame rate.

:func:`load_video` trims on the file's timeline, applies the playback-rate correction ``speed``
(real time = video time / speed; see :mod:`lm_reward_learning.video.clip`), resamples to a constant
frame rate (variable-frame-rate files and GIFs included) and optionally downscales while decoding.
The first video stream is read; audio is ignored. Rotation metadata (phone videos) is not applied,
and non-square pixels are not corrected: re-encode such files first.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from lm_reward_learning.video.clip import VideoClip, _check_positive
from lm_reward_learning.video.errors import (
    EmptyVideoError,
    NoVideoStreamError,
    TrimWindowError,
    UnsupportedVideoError,
    VideoArgumentError,
    VideoNotFoundError,
    VideoReadError,
    VideoTooLargeError,
)

log = logging.getLogger(__name__)

#: File types known to be videos (others are still tried with ffmpeg).
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ogv", ".flv"})
#: ffmpeg demuxers that render text files as video (``tty``: .txt, .nfo, .asc, ...); not videos.
TEXT_FORMATS = frozenset({"tty"})
#: Image types read from a folder of frames.
FRAME_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})
#: Trim starts later than this (s) seek to the keyframe before them instead of decoding from 0.
SEEK_MIN_S = 2.0
#: Default memory budget of the decoded frames, bytes (2 GiB ≈ 1000 frames of 1280×720 RGB).
DEFAULT_MAX_BYTES = 2 * 1024**3
#: Container formats :func:`write_video` writes, by extension: (codec, pixel format).
_WRITE_CODECS = {
    ".mp4": ("libx264", "yuv420p"),
    ".mov": ("libx264", "yuv420p"),
    ".mkv": ("libx264", "yuv420p"),
    ".webm": ("libvpx-vp9", "yuv420p"),
}


def load_video(
    path: str | os.PathLike[str],
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    speed: float = 1.0,
    target_fps: float | None = None,
    max_side: int | None = None,
    fps: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> VideoClip:
    """Decode a video file or a folder of frames into a :class:`VideoClip`.

    Args:
        path: A local video file, or a folder of frames (png/jpg/bmp/webp, natural name order).
        start_s: Trim start on the file's timeline (video time, as a player shows it), s.
        end_s: Trim end on the file's timeline, s (exclusive).
        speed: Playback-rate correction, real time = video time / ``speed`` (4 for a 4× slow-motion
            clip). The Muybridge horse is an animation of stills; its true factor is unknown.
        target_fps: Output frame rate in real time, Hz; default: the file's rate × ``speed``.
            Frames are picked by sample-and-hold (duplicated when upsampling).
        max_side: Downscale (never upscale) so that the longer side has at most this many pixels.
        fps: Frame rate of a folder of frames (required there), video time, Hz. For a file it
            overrides the container's timing: frame ``i`` is at ``i / fps``.
        max_bytes: Memory budget of the decoded frames, bytes.

    Returns:
        The clip: frames uint8 RGB ``(T, H, W, 3)`` at a constant ``fps`` (real time).

    Raises:
        VideoNotFoundError: The path does not exist.
        UnsupportedVideoError: A URL, a single image, or a file type ffmpeg does not read.
        VideoReadError: The file is corrupt or truncated.
        NoVideoStreamError: The file has no video stream (audio only).
        EmptyVideoError: No frames (0-byte file, 0 decodable frames, folder without images).
        TrimWindowError: The trim window is empty or outside the clip.
        VideoTooLargeError: The frames exceed ``max_bytes``.
        VideoArgumentError: A parameter is out of range, or ``fps`` is missing for a folder.
    """
    _check_positive("speed", speed)
    for name, value in (("target_fps", target_fps), ("fps", fps)):
        if value is not None:
            _check_positive(name, value)
    if max_side is not None and (not isinstance(max_side, int) or max_side < 8):
        raise VideoArgumentError(f"max_side must be an integer ≥ 8 pixels; got {max_side!r}")
    if start_s is not None and not (math.isfinite(start_s) and start_s >= 0):
        raise TrimWindowError(f"start_s must be a time ≥ 0 s on the video's timeline; got {start_s!r}")
    if end_s is not None and not (math.isfinite(end_s) and end_s > (start_s or 0.0)):
        raise TrimWindowError(
            f"the trim window is empty: end_s={end_s!r} s must be later than start_s={start_s or 0.0} s"
        )
    text = os.fspath(path)
    if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE):
        raise UnsupportedVideoError(f"{text}: only local files are read; download the video first")
    p = Path(text).expanduser()
    if not p.exists():
        raise VideoNotFoundError(f"{p}: no such file or folder; check the path of the expert video")
    if p.is_dir():
        if fps is None:
            raise VideoArgumentError(f"{p} is a folder of frames, which has no frame rate: pass fps (e.g. fps=30)")
        frames, times, size = _read_frame_folder(p, fps, start_s, end_s, max_side, max_bytes)
        native_fps = float(fps)
    else:
        frames, times, native_fps, size = _decode_file(p, start_s, end_s, max_side, fps, max_bytes)
    return _assemble(p, frames, times, native_fps, size, start_s, end_s, speed, target_fps)


def write_video(path: str | os.PathLike[str], frames: np.ndarray, fps: float, *, crf: int = 18) -> Path:
    """Encode frames to a video file atomically (temporary file in the same folder, then rename).

    Odd frame sizes are padded by one black row/column (the 4:2:0 formats need even sizes).

    Args:
        path: Output file; the extension picks the format: ``.mp4``/``.mov``/``.mkv`` (H.264) or
            ``.webm`` (VP9).
        frames: uint8 RGB frames. Shape ``(T, H, W, 3)``.
        fps: Frame rate of the file, Hz.
        crf: Quality for H.264/VP9 (lower is better; 18 is visually lossless).

    Returns:
        The written path.

    Raises:
        UnsupportedVideoError: Unknown extension.
        VideoArgumentError: Frames of the wrong shape or dtype, or an invalid ``fps``.
        OSError: The folder cannot be written.
    """
    import av

    out = Path(path)
    ext = out.suffix.lower()
    if ext not in _WRITE_CODECS:
        wanted = ext or "no extension"
        raise UnsupportedVideoError(f"{out}: cannot write {wanted!r}; use one of {sorted(_WRITE_CODECS)}")
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise VideoArgumentError(
            f"frames must be uint8 RGB of shape (T, H, W, 3), T ≥ 1; got {frames.dtype} {frames.shape}"
        )
    _check_positive("fps", fps)
    codec, pix_fmt = _WRITE_CODECS[ext]
    h, w = frames.shape[1:3]
    if h % 2 or w % 2:
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=ext)
    os.close(fd)
    try:
        with av.open(tmp, mode="w") as container:
            stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = int(frames.shape[2]), int(frames.shape[1])
            stream.pix_fmt = pix_fmt
            stream.options = {"crf": str(crf)} | ({"preset": "veryfast"} if codec == "libx264" else {"b:v": "0"})
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
            container.mux(stream.encode(None))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("wrote %s (%d frames, %.3g fps)", out, len(frames), fps)
    return out


def _decode_file(
    p: Path, start_s: float | None, end_s: float | None, max_side: int | None, fps: float | None, max_bytes: int
) -> tuple[list[np.ndarray], list[float], float, tuple[int, int]]:
    """Decode the frames of ``p`` inside the trim window; returns frames, times (s), file fps and size."""
    import av

    ext = p.suffix.lower()
    if ext in FRAME_EXTENSIONS:
        raise UnsupportedVideoError(
            f"{p} is a single image, not a video; put the frames in a folder and pass the folder with fps"
        )
    if p.stat().st_size == 0:
        raise EmptyVideoError(f"{p} is empty (0 bytes); the download or copy probably failed")
    try:
        container = av.open(str(p), mode="r")
    except av.FFmpegError as e:
        if ext in VIDEO_EXTENSIONS:
            raise VideoReadError(f"{p}: cannot read the file ({e}); it is truncated or corrupt, re-download it") from e
        raise UnsupportedVideoError(
            f"{p}: ffmpeg cannot read {ext or 'this file'!r} as a video ({e}); "
            f"use a video file (e.g. {', '.join(sorted(VIDEO_EXTENSIONS))}) or a folder of frames"
        ) from e
    with container:
        if container.format.name in TEXT_FORMATS:
            raise UnsupportedVideoError(
                f"{p} is a text file, not a video (ffmpeg would draw its characters as frames); give a video "
                f"file (e.g. {', '.join(sorted(VIDEO_EXTENSIONS))}) or a folder of frames"
            )
        if not container.streams:
            raise VideoReadError(
                f"{p} holds no streams at all: it is truncated or corrupt (an MP4 cut short loses its index); "
                "re-download or re-encode it"
            )
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams})
            raise NoVideoStreamError(f"{p} has no video stream (it holds: {', '.join(kinds)}); give a video file")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        native_fps = float(fps) if fps is not None else (float(rate) if rate else None)
        size = (int(stream.codec_context.width), int(stream.codec_context.height))
        out_wh = _scaled_size(size, max_side)
        frames: list[np.ndarray] = []
        times: list[float] = []
        last_t = -math.inf
        seen = 0
        nbytes = 0
        seeked = fps is None and start_s is not None and start_s > SEEK_MIN_S
        try:
            if seeked:  # jump to the keyframe before start_s (AV_TIME_BASE is microseconds)
                container.seek(int((start_s - 1.0) * 1_000_000), backward=True, any_frame=False)
            for i, frame in enumerate(container.decode(stream)):
                seen += 1
                t = i / fps if fps is not None else frame.time
                if t is None:
                    t = i / native_fps if native_fps else float(i)
                last_t = max(last_t, t)
                if start_s is not None and t < start_s - 1e-6:
                    continue
                if end_s is not None and t >= end_s - 1e-6:
                    break
                arr = frame.to_ndarray(width=out_wh[0], height=out_wh[1], format="rgb24", interpolation="AREA")
                nbytes += arr.nbytes
                if nbytes > max_bytes:
                    raise VideoTooLargeError(
                        f"{p}: the decoded frames exceed {max_bytes / 2**20:.0f} MiB at t = {t:.1f} s; "
                        "pass max_side (e.g. 480), a lower target_fps, or a shorter start/end window"
                    )
                frames.append(arr)
                times.append(float(t))
        except av.FFmpegError as e:
            raise VideoReadError(
                f"{p}: decoding failed after {seen} frames ({e}); the file is damaged: re-download or re-encode it, "
                "or trim with end_s before the damage"
            ) from e
        duration = None if container.duration is None else container.duration / 1_000_000
    if not frames:
        if seen == 0 and seeked:
            last_t = duration if duration is not None else float("nan")
        elif seen == 0:
            raise EmptyVideoError(f"{p} holds a video stream with no decodable frames")
        raise TrimWindowError(
            f"{p}: the trim window [{start_s or 0.0:g}, {end_s if end_s is not None else 'end'}] s holds no frames; "
            f"the video runs from 0 to about {last_t:.2f} s"
        )
    if native_fps is None:
        native_fps = _rate_from_times(times)
    return frames, times, native_fps, size


def _read_frame_folder(
    p: Path, fps: float, start_s: float | None, end_s: float | None, max_side: int | None, max_bytes: int
) -> tuple[list[np.ndarray], list[float], tuple[int, int]]:
    """Read the images of a folder in natural name order; frame ``i`` is at ``i / fps``."""
    import cv2

    files = sorted((f for f in p.iterdir() if f.suffix.lower() in FRAME_EXTENSIONS), key=_natural_key)
    if not files:
        raise EmptyVideoError(f"{p} holds no frames ({', '.join(sorted(FRAME_EXTENSIONS))} files)")
    frames: list[np.ndarray] = []
    times: list[float] = []
    size: tuple[int, int] | None = None
    nbytes = 0
    for i, f in enumerate(files):
        t = i / fps
        if (start_s is not None and t < start_s - 1e-6) or (end_s is not None and t >= end_s - 1e-6):
            continue
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if bgr is None:
            raise VideoReadError(f"{f}: cannot read this image (corrupt or not an image); remove or replace it")
        wh = (bgr.shape[1], bgr.shape[0])
        if size is None:
            size = wh
        elif wh != size:
            raise VideoReadError(
                f"{f} is {wh[0]}x{wh[1]} px but the first frame is {size[0]}x{size[1]}; resize the frames"
            )
        out_wh = _scaled_size(size, max_side)
        if out_wh != size:
            bgr = cv2.resize(bgr, out_wh, interpolation=cv2.INTER_AREA)
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        nbytes += rgb.nbytes
        if nbytes > max_bytes:
            raise VideoTooLargeError(
                f"{p}: the frames exceed {max_bytes / 2**20:.0f} MiB; "
                "pass max_side, a lower target_fps or a trim window"
            )
        frames.append(rgb)
        times.append(t)
    if not frames:
        raise TrimWindowError(
            f"{p}: the trim window [{start_s or 0.0:g}, {end_s if end_s is not None else 'end'}] s holds no frames; "
            f"the {len(files)} frames at {fps:g} fps span 0 to {len(files) / fps:.2f} s"
        )
    return frames, times, size or (0, 0)


def _assemble(
    p: Path,
    frames: list[np.ndarray],
    times: list[float],
    native_fps: float,
    size: tuple[int, int],
    start_s: float | None,
    end_s: float | None,
    speed: float,
    target_fps: float | None,
) -> VideoClip:
    """Resample decoded frames (timestamps on the file's timeline) to a constant rate."""
    t = np.asarray(times, dtype=np.float64)
    t0 = float(t[0])
    stop = float(t[-1]) + 1.0 / native_fps
    if end_s is not None:
        stop = min(stop, end_s)
    file_fps = native_fps if target_fps is None else target_fps / speed
    steps = np.diff(t)
    if target_fps is None and np.all(np.abs(steps - 1.0 / native_fps) < 0.25 / native_fps):
        idx = np.arange(len(frames))  # constant frame rate already: keep every frame
    else:  # sample-and-hold on a regular grid t0 + k / file_fps, k < (stop - t0) · file_fps (rounded)
        n_out = max(1, round((stop - t0) * file_fps))
        grid = t0 + np.arange(n_out) / file_fps
        idx = np.clip(np.searchsorted(t, grid + 1e-6 / file_fps, side="right") - 1, 0, len(frames) - 1)
    n_out = len(idx)
    out = np.stack([frames[i] for i in idx])
    clip = VideoClip(
        frames=out,
        fps=file_fps * speed,
        source=p,
        start_s=t0,
        end_s=t0 + n_out / file_fps,
        speed=float(speed),
        original_fps=float(native_fps),
        original_size=size,
    )
    log.info(
        "loaded %s: %d frames %dx%d, %.3g fps real time (file %.3g fps, speed ×%g), %.2f-%.2f s of the file",
        p, clip.num_frames, clip.width, clip.height, clip.fps, native_fps, speed, clip.start_s, clip.end_s,
    )  # fmt: skip
    return clip


def _scaled_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    w, h = size
    if max_side is None or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


def _rate_from_times(times: list[float]) -> float:
    if len(times) < 2:
        return 1.0
    dt = float(np.median(np.diff(times)))
    if not dt > 0:
        raise VideoReadError("the video's timestamps do not increase; pass fps to time the frames by index")
    return 1.0 / dt


def _natural_key(f: Path) -> list[object]:
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", f.name)]
