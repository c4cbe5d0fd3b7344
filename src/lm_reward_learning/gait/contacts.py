"""Stride timing from a foot-contact record: stride frequency, duty factors, phase offsets, flight.

Only the contact signal is used, so the same code serves simulator rollouts, motion capture and
contacts labelled in a video (:func:`lm_reward_learning.gait.features_from_contacts`).

Definitions (Hildebrand 1965, "Symmetrical gaits of horses", Science 150:701; Hildebrand 1977,
"Analysis of asymmetrical gaits", J. Mammalogy 58:131):

* **stride**: one full cycle of a foot, from one touchdown to its next touchdown.
* **stride period** (s): the median of all touchdown-to-touchdown intervals of all feet.
* **duty factor**: the fraction of a stride a foot is on the ground, measured over whole strides
  (first to last touchdown of that foot).
* **phase offset** of a foot: the time from a touchdown of the reference foot (the first foot: FL for
  quadrupeds, left for bipeds) to the next touchdown of this foot, as a fraction of that reference
  stride, in ``[0, 1)``; averaged over strides as a circular mean.
* **flight fraction**: the fraction of time no foot touches the ground.

Noise: before timing, contact and swing phases shorter than ``min_phase_s`` are removed (swing gaps
are filled first, then stance blips are dropped); periods and phases use medians and circular
means, so single missed or split touchdowns shift little.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from lm_reward_learning.gait.trajectory import TrajectoryTooShortError, as_contact_array

#: Contact or swing phases shorter than this are treated as noise, s.
MIN_PHASE_S = 0.03
#: Slowest stride frequency assumed when no stride can be measured at all, Hz (sets the record
#: length asked for by :class:`TrajectoryTooShortError`).
MIN_STRIDE_FREQUENCY_HZ = 0.5
#: Strides of the reference foot needed, i.e. touchdowns minus one.
MIN_STRIDES = 2


@dataclass(frozen=True)
class ContactTiming:
    """Stride timing measured from a contact record. ``T`` samples, ``F`` feet.

    Attributes:
        contact: The debounced contact record used for timing. Shape ``(T, F)``, bool.
        touchdowns: Per foot, the sample indices at which the foot touches down (a swing sample
            followed by a contact sample). ``F`` arrays.
        stride_period_s: Median touchdown-to-touchdown interval over all feet, s, or ``None`` when
            no foot touched down twice.
        num_strides: Complete strides of the reference foot (its touchdowns minus one, at least 0).
        duty_factor: Per foot, fraction of time in contact, in ``[0, 1]``.
        phase_offsets: Per foot, touchdown lag after the reference foot in stride fractions
            ``[0, 1)`` (the reference foot is 0), ``None`` for a foot that never touched down in a
            reference stride; the whole tuple is ``None`` when the reference foot made fewer than
            :data:`MIN_STRIDES` strides.
        flight_fraction: Fraction of time with no foot in contact, in ``[0, 1]``.
        dt: Sample period of the record, s.
    """

    contact: np.ndarray
    touchdowns: tuple[np.ndarray, ...]
    stride_period_s: float | None
    num_strides: int
    duty_factor: tuple[float, ...]
    phase_offsets: tuple[float | None, ...] | None
    flight_fraction: float
    dt: float = 0.0


def debounce_contacts(contact: np.ndarray, min_run: int) -> np.ndarray:
    """Remove contact and swing phases shorter than ``min_run`` samples.

    Interior swing gaps shorter than ``min_run`` are filled first, then interior contact runs shorter
    than ``min_run`` are dropped. Runs touching either end of the record are kept (they are cut by
    the record, not short).

    Args:
        contact: Contact record. Shape ``(T, F)``, bool.
        min_run: Shortest phase kept, samples. ``<= 1`` returns a copy.

    Returns:
        Debounced contact record. Shape ``(T, F)``, bool.
    """
    out = np.array(contact, dtype=bool, copy=True)
    if min_run <= 1:
        return out
    for value in (False, True):  # fill short gaps, then drop short blips
        for f in range(out.shape[1]):
            col = out[:, f]
            for start, stop in _runs(col, value):
                if stop - start < min_run and start > 0 and stop < col.size:
                    col[start:stop] = not value
    return out


def _runs(col: np.ndarray, value: bool) -> list[tuple[int, int]]:
    """Half-open ``[start, stop)`` index ranges where ``col == value``."""
    padded = np.concatenate([[False], col == value, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def touchdown_indices(contact_1d: np.ndarray) -> np.ndarray:
    """Sample indices ``i >= 1`` with ``contact[i - 1]`` false and ``contact[i]`` true."""
    c = np.asarray(contact_1d, dtype=bool)
    return np.flatnonzero(~c[:-1] & c[1:]) + 1


def circular_mean(fractions: np.ndarray) -> float:
    """Circular mean of cycle fractions (period 1), in ``[0, 1)``."""
    angles = 2.0 * np.pi * np.asarray(fractions, dtype=float)
    mean = np.arctan2(np.sin(angles).mean(), np.cos(angles).mean()) / (2.0 * np.pi)
    return float(mean % 1.0) if not np.isclose(mean % 1.0, 1.0) else 0.0


def circular_distance(a: float, b: float) -> float:
    """Distance between two cycle fractions on the unit circle of period 1, in ``[0, 0.5]``."""
    d = abs(a - b) % 1.0
    return float(min(d, 1.0 - d))


def analyse_contacts(
    foot_contact: np.ndarray, dt: float, foot_names: tuple[str, ...], min_phase_s: float = MIN_PHASE_S
) -> ContactTiming:
    """Measure stride timing from a contact record (see the module docstring for definitions).

    Args:
        foot_contact: Contact record, first foot = reference foot. Shape ``(T, F)``, bool or 0/1.
        dt: Sample period, s.
        foot_names: Foot names, for messages. ``F`` names.
        min_phase_s: Contact or swing phases shorter than this are noise, s.

    Returns:
        The measured :class:`ContactTiming`.

    Raises:
        TrajectoryTooShortError: The reference foot made fewer than :data:`MIN_STRIDES` complete
            strides and the record is shorter than three stride periods (or, with no stride
            measurable on any foot, shorter than ``3 / MIN_STRIDE_FREQUENCY_HZ`` s). A longer record
            of a robot that does not step gives ``None`` timing fields instead.
    """
    raw = as_contact_array(foot_contact)
    contact = debounce_contacts(raw, int(np.ceil(min_phase_s / dt - 1e-9)))
    num_steps, num_feet = contact.shape
    duration = num_steps * dt
    touchdowns = tuple(touchdown_indices(contact[:, f]) for f in range(num_feet))
    intervals = np.concatenate([np.diff(td) for td in touchdowns]) if num_feet else np.array([])
    period = float(np.median(intervals) * dt) if intervals.size else None

    ref = touchdowns[0]
    num_strides = max(len(ref) - 1, 0)
    if num_strides < MIN_STRIDES:
        needed = 3.0 * (period if period is not None else 1.0 / MIN_STRIDE_FREQUENCY_HZ)
        if duration < needed:
            stride = f"a stride lasts about {period:.2f} s" if period is not None else "no stride was seen"
            raise TrajectoryTooShortError(
                f"a {duration:.2f} s record holds {num_strides} complete stride(s) of the reference foot "
                f"{foot_names[0]!r} ({stride}); gait features need at least {MIN_STRIDES} complete strides: "
                f"record at least {needed:.1f} s",
                got_s=duration,
                needed_s=needed,
            )

    duty = []
    for f in range(num_feet):
        td = touchdowns[f]
        window = contact[td[0] : td[-1], f] if len(td) >= 2 else contact[:, f]
        duty.append(float(window.mean()))

    phases: tuple[float | None, ...] | None = None
    if num_strides >= MIN_STRIDES:
        per_foot: list[float | None] = [0.0]
        for f in range(1, num_feet):
            lags = []
            for start, stop in pairwise(ref):
                inside = touchdowns[f][(touchdowns[f] >= start) & (touchdowns[f] < stop)]
                if inside.size:
                    lags.append((inside[0] - start) / (stop - start))
            per_foot.append(circular_mean(np.array(lags)) if lags else None)
        phases = tuple(per_foot)

    airborne = ~contact.any(axis=1)
    window = airborne[ref[0] : ref[-1]] if len(ref) >= 2 else airborne
    return ContactTiming(
        contact=contact,
        touchdowns=touchdowns,
        stride_period_s=period,
        num_strides=num_strides,
        duty_factor=tuple(duty),
        phase_offsets=phases,
        flight_fraction=float(window.mean()),
        dt=float(dt),
    )
