"""Footfalls seen from the side: flight phase and fore/hind leg groups from silhouettes (heuristic, not a VLM).

What a side view supports beyond cadence (:mod:`lm_reward_learning.video.motion`), for a subject
that contrasts with its background:

* **Ground line**: a horizontal dark (or light) band that spans most of the frame below the subject
  (the track of a Muybridge plate) when there is one; its rows are removed from the silhouette.
  Otherwise the line is the 95th percentile of the silhouette's lowest point over the clip (the feet
  are on the ground in at least some frames).
* **Contact** of a frame: silhouette pixels within :data:`CONTACT_BAND` of the subject's height above
  the ground line. **Flight**: no such pixel (every foot in the air).
* **Leg groups**: ground pixels ahead of the silhouette's centre are the forelegs, behind it the hind
  legs; "ahead" is the direction of travel (the subject's motion against the background) or, when
  that cannot be measured, the side whose extreme point is higher (a quadruped carries its head
  above its tail).
* From the two contact signals and the stride period: each group's **duty factor** (fraction of frames
  with a foot of the group down), the **fore lag** (the lag maximising the circular cross-correlation
  of the fore signal after the hind signal, as a stride fraction) and the **flight fraction**.

The **gait hint** (``asymmetric`` / ``symmetric`` / None) follows Hildebrand (1977): in asymmetrical
running gaits (gallop, canter, bound) the feet of a girdle land close together, so each group is
off the ground for much of the stride and the stride has a flight phase; in symmetrical gaits (walk,
trot, pace) each girdle has a foot down most of the time. A side view cannot separate left from right
legs, so it cannot tell a gallop from a bound, or a trot from a pace: the hint says so. Everything is
labelled heuristic and carries a confidence (the periodicity of the contact signals at the stride
period, times the fraction of frames with a subject).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from lm_reward_learning.video.periodicity import normalised_autocorrelation

#: A silhouette pixel this close to the ground line (fraction of the subject's height) touches it.
CONTACT_BAND = 0.04
#: A row in the lower half that is foreground across this fraction of the width (over the clip) is ground.
GROUND_ROW_FRACTION = 0.3
#: Flight fraction above which a gait has a flight phase.
FLIGHT_MIN = 0.08
#: Group duty factor below / above which a girdle is off the ground much of the stride / nearly always down.
ASYMMETRIC_GROUP_DUTY, SYMMETRIC_GROUP_DUTY = 0.65, 0.75


@dataclass(frozen=True)
class SideViewFootfalls:
    """What :func:`side_view_footfalls` measured (heuristic; ``None`` = not measurable).

    Attributes:
        flight_fraction: Fraction of frames with no part of the subject on the ground, ``[0, 1]``.
        fore_duty: Fraction of frames with a foreleg down.
        hind_duty: Fraction of frames with a hind leg down.
        fore_lag: Lag of the fore contacts after the hind contacts, stride fractions ``[0, 1)``.
        gait_hint: ``asymmetric`` (gallop, canter or bound), ``symmetric`` (walk, trot or pace) or None.
        confidence: ``[0, 1]``: periodicity of the contact signals at the stride period x fraction of
            frames with a subject.
        ground_line: ``band`` (a ground line was found in the image) or ``lowest points``.
        facing: ``right`` or ``left``: the direction counted as "fore".
        note: What the hint means and cannot tell.
    """

    flight_fraction: float | None
    fore_duty: float | None
    hind_duty: float | None
    fore_lag: float | None
    gait_hint: str | None
    confidence: float
    ground_line: str
    facing: str
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return asdict(self)


def side_view_footfalls(
    grey: np.ndarray, period_frames: float | None, *, direction: float | None = None
) -> SideViewFootfalls:
    """Measure flight and leg-group contacts of the subject in blurred grey frames (module docstring).

    Args:
        grey: Grey frames, uint8. Shape ``(T, H, W)``.
        period_frames: Stride period in frames (from the cadence analysis), or None.
        direction: Sign of the subject's motion against the background in the image (+1 right, -1
            left), or None to take the side of the silhouette's highest point.

    Returns:
        The :class:`SideViewFootfalls`.
    """
    t = grey.shape[0]
    masks, ground_row = _masks(grey)
    valid = np.array([m is not None for m in masks])
    if valid.mean() < 0.5:
        return SideViewFootfalls(None, None, None, None, None, 0.0, "none", "unknown", "no subject in most frames")
    heights = np.array([_height(m) for m in masks if m is not None])
    subject_h = float(np.median(heights))
    bottoms = np.array([np.nonzero(m.any(axis=1))[0].max() if m is not None else np.nan for m in masks])
    if ground_row is not None:
        ground, kind = float(ground_row), "band"
    else:
        ground, kind = float(np.nanpercentile(bottoms, 95)), "lowest points"
    band = max(1.0, CONTACT_BAND * subject_h)
    facing = 1.0 if direction is None or direction == 0 else float(np.sign(direction))
    if direction is None:
        facing = _head_side(masks)
    fore = np.zeros(t, bool)
    hind = np.zeros(t, bool)
    for i, m in enumerate(masks):
        if m is None:
            continue
        ys, xs = np.nonzero(m)
        cx = xs.mean()
        touching = ys >= ground - band
        fore[i] = bool(np.any(touching & ((xs - cx) * facing > 0)))
        hind[i] = bool(np.any(touching & ((xs - cx) * facing <= 0)))
    f_sig, h_sig = fore[valid].astype(float), hind[valid].astype(float)
    airborne = ~(fore | hind)
    flight = float(airborne[valid].mean())
    lag, conf = None, 0.0
    if period_frames is not None and period_frames >= 2:
        p = round(period_frames)
        lag = _lag(f_sig, h_sig, p)
        periodic = [_periodicity(s, p) for s in (f_sig, h_sig) if s.std() > 0]
        conf = float(np.mean(periodic)) * float(valid.mean()) if periodic else 0.0
    fd, hd = float(f_sig.mean()), float(h_sig.mean())
    hint, note = None, "contacts do not show a clear pattern"
    if flight >= FLIGHT_MIN and max(fd, hd) < ASYMMETRIC_GROUP_DUTY:
        hint = "asymmetric"
        note = (
            "each girdle's feet are off the ground much of the stride and the stride has a flight phase: an "
            "asymmetrical running gait (gallop, canter or bound; a side view cannot tell which)"
        )
    elif flight < FLIGHT_MIN and min(fd, hd) >= SYMMETRIC_GROUP_DUTY:
        hint = "symmetric"
        note = "each girdle has a foot down most of the stride: a symmetrical gait (walk, trot or pace)"
    return SideViewFootfalls(
        flight_fraction=flight,
        fore_duty=fd,
        hind_duty=hd,
        fore_lag=lag,
        gait_hint=hint,
        confidence=round(conf, 3),
        ground_line=kind,
        facing="right" if facing > 0 else "left",
        note=f"heuristic side-view footfalls: {note}",
    )


def _masks(grey: np.ndarray) -> tuple[list[np.ndarray | None], int | None]:
    """The subject's silhouette per frame (ground-line rows removed) and the ground line's top row."""
    h, w = grey.shape[1:]
    fgs = []
    for f in grey:
        b = cv2.GaussianBlur(f, (5, 5), 0)
        thr, _ = cv2.threshold(b, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        border = np.concatenate([b[:2].ravel(), b[:, :2].ravel(), b[:, -2:].ravel()])
        fgs.append((b <= thr) if np.median(border) > thr else (b > thr))
    rows = np.mean([fg.mean(axis=1) for fg in fgs], axis=0)  # per row, fraction of foreground over the clip
    ground = None
    if rows[-1] >= GROUND_ROW_FRACTION:  # a band at the bottom of the frame: its top row is the ground line
        ground = h - 1
        while ground > h // 2 and rows[ground - 1] >= GROUND_ROW_FRACTION:
            ground -= 1
    masks: list[np.ndarray | None] = []
    for fg in fgs:
        m = fg.copy()
        if ground is not None:
            m[ground:] = False
        m = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(m)
        if n < 2:
            masks.append(None)
            continue
        j = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        area = stats[j, cv2.CC_STAT_AREA]
        masks.append(labels == j if 0.002 * h * w <= area <= 0.6 * h * w else None)
    return masks, ground


def _height(m: np.ndarray) -> float:
    rows = np.nonzero(m.any(axis=1))[0]
    return float(rows.max() - rows.min() + 1)


def _head_side(masks: list[np.ndarray | None]) -> float:
    """+1 when the silhouette's rightmost point is higher than its leftmost in most frames (the head is
    carried higher than the tail in a quadruped's side view), else -1."""
    votes = []
    for m in masks:
        if m is None:
            continue
        cols = np.nonzero(m.any(axis=0))[0]
        left, right = cols.min(), cols.max()
        y_left = np.nonzero(m[:, left])[0].mean()
        y_right = np.nonzero(m[:, right])[0].mean()
        votes.append(np.sign(y_left - y_right))
    return 1.0 if np.sum(votes) >= 0 else -1.0


def _lag(fore: np.ndarray, hind: np.ndarray, period: int) -> float | None:
    """Lag of ``fore`` after ``hind`` maximising their circular cross-correlation over one period."""
    if fore.std() == 0 or hind.std() == 0 or fore.size < 2 * period:
        return None
    a, b = fore - fore.mean(), hind - hind.mean()
    scores = [float(np.dot(a[k:], b[: b.size - k])) / (a.size - k) for k in range(period)]
    return float(np.argmax(scores)) / period


def _periodicity(signal: np.ndarray, period: int) -> float:
    """Normalised autocorrelation of a contact signal at the stride period, clipped to ``[0, 1]``."""
    if signal.size <= period:
        return 0.0
    r = normalised_autocorrelation((signal - signal.mean())[:, None])
    return float(np.clip(r[period], 0.0, 1.0)) if period < r.size else 0.0
