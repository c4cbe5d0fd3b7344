"""Gait measurements from an expert video with OpenCV: a heuristic analyser, not a VLM.

This is the video half of the ``motion`` feedback backend. It measures, in real time (after the
clip's speed correction, see :mod:`lm_reward_learning.video.clip`):

* **Stride frequency.** The subject is segmented in every frame (below); a window that follows it
  horizontally is cut out, downscaled to 64 px wide and made zero-mean over time per pixel. The
  stride period ``P`` is the lag at which the normalised autocorrelation of this appearance signal
  peaks, ``r(L) = Σ_t <a_t, a_{t+L}> / sqrt(Σ_t |a_t|² Σ_t |a_{t+L}|²)``: the time after which the
  subject looks the same again. The first peak within 90 % of the highest is taken (so that ``2P``
  is not mistaken for ``P``), refined to sub-frame precision by a parabola through the peak and by a
  least-squares fit through the peaks at ``P, 2P, 3P, ...``. ``r(P)`` is reported as the confidence.
  The appearance signal is used rather than frame-to-frame motion energy because videos made of
  held stills (the Muybridge horse holds each photograph for 2-3 frames) have motion energy that
  repeats with the hold pattern, not with the stride.
* **Vertical bounce.** Amplitude (half peak-to-peak) of the vertical position of the subject's trunk
  (the silhouette after a morphological opening that removes thin legs, tail and neck), averaged
  over the stride cycle (folded at ``P``), in pixels and relative to the silhouette's height.
* **Footfalls seen from the side** (:mod:`lm_reward_learning.video.footfalls`): flight fraction,
  fore/hind leg-group duty factors and the fore lag, and a gait hint (asymmetrical / symmetrical),
  on frames of up to :data:`FOOTFALL_MAX_SIDE` px.
* **Forward speed** in body lengths per second: the subject's horizontal speed in the image minus
  the background's (phase correlation of the image bands above and below the subject, which move
  when the camera pans), divided by the body length in pixels (``body_length_px``, or the
  silhouette's width). In m/s only when ``body_length_m`` is given. ``None`` when neither the
  subject nor the background moves by half a body length over the clip (a treadmill, or a camera
  that follows the subject over a plain background), or when the background is too plain to track
  and the subject stays in place.

Segmentation: Otsu's threshold on the blurred grey frame; the foreground is the side of the
threshold the frame border is not on; the subject is the largest connected component.

Limits. Made for silhouette-like footage: one subject that contrasts with a roughly uniform
background, seen from the side (plates like Muybridge's, clips on plain ground, rendered rollouts).
Cluttered backgrounds, several animals, a zooming camera or occlusions break the segmentation. A
trot's two half-strides look almost alike from the side, so a trot may measure twice its stride
frequency. Nothing here knows the time scale: a slow-motion clip needs the right ``speed``.
Unmeasurable values are ``None``, never guessed.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from lm_reward_learning.video.clip import VideoClip, _check_positive
from lm_reward_learning.video.errors import ClipTooShortError, NoMotionError, VideoArgumentError
from lm_reward_learning.video.periodicity import (
    MIN_CONFIDENCE,
    MIN_PERIOD_FRAMES,
    cycle_amplitude,
    dominant_period,
    normalised_autocorrelation,
)
from lm_reward_learning.video.sampling import grey_frames

log = logging.getLogger(__name__)

#: Longer side of the grey frames the analysis runs on, px.
ANALYSIS_MAX_SIDE = 192
#: Longer side of the grey frames the side-view footfall analysis runs on, px (legs are a few px wide).
FOOTFALL_MAX_SIDE = 320
#: Slowest stride frequency assumed when telling a user how long a clip must be, Hz (real time).
MIN_STRIDE_HZ = 0.5
#: Net displacement over the clip, in body lengths, below which a speed is not measurable.
MIN_TRAVEL_BODY_LENGTHS = 0.5
#: Largest grey-level change (blurred frames) below which a frame repeats the previous one (codec noise).
HELD_FRAME_GREY = 4.0


@dataclass(frozen=True)
class VideoMotion:
    """What :func:`analyse_expert_video` measured. Times are real time; ``None`` = not measurable.

    Attributes:
        stride_frequency_hz: Strides per second, Hz.
        stride_period_s: ``1 / stride_frequency_hz``, s.
        period_frames: Stride period in frames of the clip (sub-frame precision).
        confidence: Normalised autocorrelation of the appearance at the stride period, ``[0, 1]``
            (1: the stride repeats exactly, as in a looped animation; < 0.3: no periodic motion).
        num_strides: Clip duration / stride period.
        vertical_bounce_px: Half peak-to-peak vertical travel of the trunk over the mean stride, px
            of the clip's frames.
        vertical_bounce_rel_height: ``vertical_bounce_px`` / ``subject_height_px``.
        subject_height_px: Median height of the subject's silhouette, px.
        subject_length_px: Median width of the subject's silhouette, px.
        forward_speed_px_s: Speed over the ground in the image, px/s.
        forward_speed_body_lengths_s: ``forward_speed_px_s`` / body length in px, 1/s.
        forward_speed_mps: Forward speed in m/s (needs ``body_length_m``).
        speed_source: How the speed was measured (``"subject crosses the frame"``, ``"camera pan"``).
        duration_s: Clip duration, real time, s.
        fps: Clip frame rate, real time, Hz.
        speed_factor: The clip's playback-rate correction (real time = video time / factor).
        held_frame_fraction: Fraction of frames identical to the previous one (stills held in an
            animation, or duplicated frames).
        notes: Caveats, one sentence each.
        footfalls: Side-view flight and fore/hind leg-group contacts with a gait hint
            (:func:`lm_reward_learning.video.footfalls.side_view_footfalls`, heuristic), as a dict; None
            when not measured.
    """

    stride_frequency_hz: float | None
    stride_period_s: float | None
    period_frames: float | None
    confidence: float
    num_strides: float | None
    vertical_bounce_px: float | None
    vertical_bounce_rel_height: float | None
    subject_height_px: float | None
    subject_length_px: float | None
    forward_speed_px_s: float | None
    forward_speed_body_lengths_s: float | None
    forward_speed_mps: float | None
    speed_source: str | None
    duration_s: float
    fps: float
    speed_factor: float
    held_frame_fraction: float
    notes: tuple[str, ...] = ()
    footfalls: dict[str, object] | None = None

    def to_gait_features(self) -> dict[str, float | int | str | None]:
        """Measurements under the names of :class:`lm_reward_learning.gait.GaitFeatures` where they match.

        Returns:
            ``stride_frequency_hz``, ``stride_period_s``, ``num_strides`` (complete strides),
            ``duration_s``, ``forward_speed_mps`` (as in ``GaitFeatures``); and, video-only:
            ``stride_frequency_confidence``, ``vertical_bounce_rel_height`` (bounce amplitude /
            body height), ``forward_speed_body_lengths_s``, ``footfalls`` (side-view flight and leg
            groups with a gait hint), ``source``. Unmeasured values are None.
        """
        ff = self.footfalls or {}
        return {
            "stride_frequency_hz": self.stride_frequency_hz,
            "stride_period_s": self.stride_period_s,
            "num_strides": None if self.num_strides is None else int(self.num_strides),
            "duration_s": self.duration_s,
            "forward_speed_mps": self.forward_speed_mps,
            "stride_frequency_confidence": self.confidence,
            "vertical_bounce_rel_height": self.vertical_bounce_rel_height,
            "forward_speed_body_lengths_s": self.forward_speed_body_lengths_s,
            "flight_fraction": ff.get("flight_fraction"),
            "footfalls": self.footfalls,
            "source": "video (heuristic analyser, not a VLM)",
        }

    def to_dict(self) -> dict[str, object]:
        """All fields, JSON-ready."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class _Silhouettes:
    """Per-frame subject measurements in analysis pixels; NaN where no subject was found. Shape ``(T,)`` each."""

    cx: np.ndarray
    trunk_cy: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    width: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.cx)


def analyse_expert_video(
    clip: VideoClip,
    *,
    body_length_px: float | None = None,
    body_length_m: float | None = None,
    min_strides: int = 2,
) -> VideoMotion:
    """Measure stride frequency, vertical bounce and forward speed of the subject of an expert clip.

    Method and limits in the module docstring.

    Args:
        clip: The clip, with its speed correction applied (``clip.fps`` in real time).
        body_length_px: The subject's body length in the clip's pixels, if known; default: the
            silhouette's width.
        body_length_m: The real length of what ``body_length_px`` measures, m; gives m/s.
        min_strides: Strides the clip must hold for a period to count (the autocorrelation looks at
            lags up to ``T / min_strides``).

    Returns:
        The :class:`VideoMotion`.

    Raises:
        ClipTooShortError: No repeating stride found and the clip is shorter than ``min_strides``
            strides at :data:`MIN_STRIDE_HZ` (the message says how many seconds to give).
        NoMotionError: Nothing moves in the clip.
        VideoArgumentError: Invalid lengths or ``min_strides``.
    """
    for name, value in (("body_length_px", body_length_px), ("body_length_m", body_length_m)):
        if value is not None:
            _check_positive(name, value)
    if not isinstance(min_strides, int) or min_strides < 1:
        raise VideoArgumentError(f"min_strides must be a positive integer; got {min_strides!r}")
    t_frames = clip.num_frames
    needed_s = min_strides / MIN_STRIDE_HZ
    if t_frames < min_strides * MIN_PERIOD_FRAMES:
        raise ClipTooShortError(
            f"the clip holds {t_frames} frames ({clip.duration_s:.2f} s real time), too few to see a stride; "
            f"give at least {needed_s:.1f} s (≥ {min_strides} strides at ≥ {MIN_STRIDE_HZ} Hz)",
            clip.duration_s,
            needed_s,
        )
    grey = grey_frames(clip.frames, ANALYSIS_MAX_SIDE)
    px = clip.width / grey.shape[2]  # clip pixels per analysis pixel
    g = np.stack([cv2.GaussianBlur(f, (5, 5), 0) for f in grey]).astype(np.float32)
    diffs = np.abs(np.diff(g, axis=0)).max(axis=(1, 2))
    held = float(np.mean(diffs < HELD_FRAME_GREY))
    if float(g.std(axis=0).max()) < 2.0 or held == 1.0:
        where = clip.source or "memory"
        raise NoMotionError(f"nothing moves in the clip from {where}; give a video of the expert moving")
    notes: list[str] = []
    if held > 0.3:
        notes.append(
            f"{held:.0%} of frames repeat the previous one (an animation of stills or duplicated frames): "
            "the playback rate may not be the subject's real cadence; set the speed factor"
        )

    sil = _segment(g.astype(np.uint8))
    has_subject = sil.valid.mean() >= 0.5
    times = clip.times_s
    crops = _appearance(g, sil if has_subject else None, times)
    r = normalised_autocorrelation(crops)
    period, conf = dominant_period(r, t_frames // min_strides)

    if period is None:
        if clip.duration_s < needed_s:
            raise ClipTooShortError(
                f"{clip.duration_s:.2f} s of real time (speed correction ×{clip.speed:g}) show no repeating stride; "
                f"the analysis needs ≥ {min_strides} strides: give at least {needed_s:.1f} s of video "
                f"(strides as slow as {MIN_STRIDE_HZ} Hz), or check the speed factor",
                clip.duration_s,
                needed_s,
            )
        notes.append(f"no periodic motion found (best autocorrelation {conf:.2f} < {MIN_CONFIDENCE})")
    freq = None if period is None else clip.fps / period

    bounce = rel = height = length = None
    if has_subject:
        height = float(np.nanmedian(sil.bottom - sil.top)) * px
        length = float(np.nanmedian(sil.width)) * px
        if period is not None:
            bounce = cycle_amplitude(_fill_nan(sil.trunk_cy), period) * px
            rel = bounce / height if height > 0 else None
    else:
        notes.append("no subject could be segmented in most frames: bounce and speed not measured")

    speed_px, source = (None, None)
    if has_subject:
        speed_px, source, speed_note = _forward_speed(g, sil, times, body_length_px or length, px)
        if speed_note:
            notes.append(speed_note)
    bl_px = body_length_px or length
    speed_bl = None if speed_px is None or not bl_px else speed_px / bl_px
    speed_mps = None if speed_bl is None or body_length_m is None else speed_bl * body_length_m

    footfalls = None
    if has_subject:
        from lm_reward_learning.video.footfalls import side_view_footfalls

        direction = None if speed_px is None or abs(speed_px) < 1e-9 else float(np.sign(speed_px))
        fine = grey_frames(clip.frames, FOOTFALL_MAX_SIDE)  # legs are a few pixels wide: a finer copy
        footfalls = side_view_footfalls(fine, period, direction=direction).to_dict()
        log.info("expert video footfalls: %s", footfalls.get("note"))
    motion = VideoMotion(
        stride_frequency_hz=freq,
        stride_period_s=None if freq is None else 1.0 / freq,
        period_frames=period,
        confidence=conf,
        num_strides=None if period is None else t_frames / period,
        vertical_bounce_px=bounce,
        vertical_bounce_rel_height=rel,
        subject_height_px=height,
        subject_length_px=length,
        forward_speed_px_s=speed_px,
        forward_speed_body_lengths_s=speed_bl,
        forward_speed_mps=speed_mps,
        speed_source=source,
        duration_s=clip.duration_s,
        fps=clip.fps,
        speed_factor=clip.speed,
        held_frame_fraction=held,
        notes=tuple(notes),
        footfalls=footfalls,
    )
    log.info(
        "expert video: stride %s Hz (confidence %.2f), bounce %s of height, speed %s body lengths/s",
        _fmt(freq), conf, _fmt(rel), _fmt(speed_bl),
    )  # fmt: skip
    return motion


def _segment(g: np.ndarray) -> _Silhouettes:
    """Silhouette of the subject in each blurred grey frame (Otsu; foreground = not the border's side)."""
    t, h, w = g.shape
    out = np.full((5, t), np.nan)
    min_area = 0.002 * h * w
    for i, f in enumerate(g):
        thr, _ = cv2.threshold(f, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        border = np.concatenate([f[:2].ravel(), f[-2:].ravel(), f[:, :2].ravel(), f[:, -2:].ravel()])
        fg = (f <= thr) if np.median(border) > thr else (f > thr)
        mask = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
        if n < 2:
            continue
        j = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        _, y, bw, bh, area = stats[j]
        if area < min_area or area > 0.6 * h * w:  # nothing, or the "subject" is the background
            continue
        blob = (labels == j).astype(np.uint8)
        k = max(3, round(0.2 * bh)) | 1
        trunk = cv2.morphologyEx(blob, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        ys, xs = np.nonzero(trunk if trunk.any() else blob)
        out[:, i] = (xs.mean(), ys.mean(), y, y + bh, bw)
    return _Silhouettes(cx=out[0], trunk_cy=out[1], top=out[2], bottom=out[3], width=out[4])


def _appearance(g: np.ndarray, sil: _Silhouettes | None, times: np.ndarray) -> np.ndarray:
    """Zero-mean appearance vectors of a window following the subject horizontally. Shape ``(T, D)``."""
    t, h, w = g.shape
    if sil is None:
        win_w, win_h, cx, cy = float(w), float(h), np.full(t, (w - 1) / 2), (h - 1) / 2
    else:
        top, bottom = np.nanmin(sil.top), np.nanmax(sil.bottom)
        win_h = min(float(h), (bottom - top) * 1.2 + 4)
        win_w = min(float(w), float(np.nanmax(sil.width)) * 1.2 + 4)
        cy = (top + bottom) / 2
        ok = sil.valid
        slope, icpt = np.polyfit(times[ok], sil.cx[ok], 1) if ok.sum() >= 2 else (0.0, float(np.nanmean(sil.cx)))
        cx = icpt + slope * times  # a straight path: the window does not follow the stride's surges
    out_w = 64
    out_h = int(np.clip(round(out_w * win_h / win_w), 16, 64))
    crops = np.empty((t, out_h * out_w), np.float64)
    for i in range(t):
        patch = cv2.getRectSubPix(g[i], (round(win_w), round(win_h)), (float(cx[i]), float(cy)))
        crops[i] = cv2.resize(patch, (out_w, out_h), interpolation=cv2.INTER_AREA).ravel()
    return crops - crops.mean(axis=0)


def _forward_speed(
    g: np.ndarray, sil: _Silhouettes, times: np.ndarray, body_px: float | None, px: float
) -> tuple[float | None, str | None, str | None]:
    """Speed over the ground, clip px/s: subject's image speed minus the background's; with a note."""
    ok = sil.valid
    duration = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    if ok.sum() < 2 or duration <= 0 or not body_px:
        return None, None, None
    v_subject = float(np.polyfit(times[ok], sil.cx[ok], 1)[0]) * px
    v_background = _background_velocity(g, sil, times)
    travel = MIN_TRAVEL_BODY_LENGTHS * body_px
    if v_background is None:
        if abs(v_subject) * duration >= travel:
            return abs(v_subject), "subject crosses the frame", "background too plain to track: camera assumed static"
        return None, None, "the subject stays in place and the background cannot be tracked: speed not measurable"
    v_background *= px
    if max(abs(v_subject), abs(v_background)) * duration < travel:
        return None, None, "neither subject nor background moves: speed not measurable (treadmill or tracking shot)"
    source = "camera pan" if abs(v_background) > abs(v_subject) else "subject crosses the frame"
    return abs(v_subject - v_background), source, None


def _background_velocity(g: np.ndarray, sil: _Silhouettes, times: np.ndarray) -> float | None:
    """Horizontal image velocity of the background (bands above/below the subject), analysis px/s, or None."""
    top, bottom = int(np.nanmin(sil.top)) - 2, int(np.nanmax(sil.bottom)) + 3
    h = g.shape[1]
    bands = [(0, top), (bottom, h)]
    band = max(bands, key=lambda b: b[1] - b[0])
    if band[1] - band[0] < 8:
        return None
    strip = g[:, band[0] : band[1]]
    window = cv2.createHanningWindow((strip.shape[2], strip.shape[1]), cv2.CV_32F)
    shifts = []
    for i in range(1, len(strip)):
        if strip[i].std() < 2.0 or strip[i - 1].std() < 2.0:  # plain: nothing to track
            continue
        (dx, _), response = cv2.phaseCorrelate(strip[i - 1], strip[i], window)
        if response > 0.1:
            shifts.append(dx)
    if len(shifts) < 0.5 * (len(strip) - 1):
        return None
    per_frame = float(np.mean(shifts))  # missing pairs count as the mean
    return per_frame / float(np.mean(np.diff(times)))


def _fill_nan(y: np.ndarray) -> np.ndarray:
    ok = np.isfinite(y)
    t = np.arange(len(y))
    return np.interp(t, t[ok], y[ok]) if ok.any() else np.zeros_like(y)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"
