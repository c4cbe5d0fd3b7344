"""Periodicity of sampled signals: autocorrelation, dominant period, amplitude of the mean cycle.

Used by :mod:`lm_reward_learning.video.motion` to find a subject's stride period in a video; numpy only.
"""

from __future__ import annotations

import math

import numpy as np

#: Shortest period considered, samples (a stride needs a few frames to be seen).
MIN_PERIOD_FRAMES = 4
#: Autocorrelation below this at the best lag means "no periodic motion".
MIN_CONFIDENCE = 0.3


def normalised_autocorrelation(a: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of a vector signal, ``r(L) = Σ_t <a_t, a_{t+L}> / sqrt(Σ_t |a_t|² Σ_t |a_{t+L}|²)``.

    The sums run over the overlap ``t = 0 .. T-1-L``; ``r(0) = 1``; ``r(L) = 1`` when the signal
    repeats exactly after ``L`` samples. Remove the mean over time first.

    Args:
        a: Signal, one vector per sample (e.g. a flattened image). Shape ``(T, D)``.

    Returns:
        ``r`` for lags ``0 .. T-1``. Shape ``(T,)``.
    """
    gram = a @ a.T
    norms = np.diag(gram)
    head = np.cumsum(norms)  # Σ_{t < T-L} |a_t|² = head[T-L-1]
    tail = np.cumsum(norms[::-1])  # Σ_{t ≥ L} |a_t|² = tail[T-L-1]
    t = len(a)
    r = np.zeros(t)
    for lag in range(t):
        den = math.sqrt(head[t - lag - 1] * tail[t - lag - 1])
        r[lag] = np.trace(gram, offset=lag) / den if den > 0 else 0.0
    return r


def dominant_period(r: np.ndarray, max_lag: int) -> tuple[float | None, float]:
    """The period of a signal from its autocorrelation: the first peak within 90 % of the highest.

    Peaks are local maxima of ``r`` at lags :data:`MIN_PERIOD_FRAMES` .. ``max_lag``. The first one
    reaching 90 % of the highest is taken (so that ``2P`` is not mistaken for ``P``), refined by a
    parabola through its neighbours and by a least-squares fit ``P = Σ m L_m / Σ m²`` through the
    peaks ``L_m`` found near ``m·P`` (m = 1, 2, ... while they stay within 80 % of ``r(P)``).

    Args:
        r: Autocorrelation, lags ``0 .. T-1`` (:func:`normalised_autocorrelation`). Shape ``(T,)``.
        max_lag: Longest period considered, samples.

    Returns:
        ``(P, r(P))``: the period in samples, sub-sample precision, and its autocorrelation clipped
        to ``[0, 1]`` (the confidence); ``(None, best r)`` when no peak reaches :data:`MIN_CONFIDENCE`.
    """
    lags = [
        lag
        for lag in range(MIN_PERIOD_FRAMES, min(max_lag, len(r) - 2) + 1)
        if r[lag] > r[lag - 1] and r[lag] >= r[lag + 1]
    ]
    best = max((r[lag] for lag in lags), default=0.0)
    if best < MIN_CONFIDENCE:
        return None, float(max(0.0, best))
    lag0 = next(lag for lag in lags if r[lag] >= 0.9 * best)
    p0 = lag0 + _parabola_offset(r, lag0)
    num, den = p0, 1.0  # least squares P = Σ m L_m / Σ m² through the peaks at m·P
    for m in range(2, int(max_lag / p0) + 1):
        lo, hi = round(m * p0) - 2, round(m * p0) + 2
        if lo < 1 or hi >= len(r) - 1:
            break
        lag = lo + int(np.argmax(r[lo : hi + 1]))
        if r[lag] < 0.8 * r[lag0] or not (r[lag] >= r[lag - 1] and r[lag] >= r[lag + 1]):
            break
        num += m * (lag + _parabola_offset(r, lag))
        den += m * m
    return num / den, float(np.clip(r[lag0], 0.0, 1.0))


def _parabola_offset(r: np.ndarray, i: int) -> float:
    """Sub-sample offset of the peak of the parabola through ``r[i-1], r[i], r[i+1]``, in ``[-0.5, 0.5]``."""
    den = r[i - 1] - 2 * r[i] + r[i + 1]
    return 0.0 if den >= 0 else float(np.clip(0.5 * (r[i - 1] - r[i + 1]) / den, -0.5, 0.5))


def cycle_amplitude(y: np.ndarray, period: float) -> float:
    """Half peak-to-peak of the mean cycle of a scalar signal folded at ``period``.

    The linear trend is removed; samples are binned by phase (``round(period)`` bins, 4 to 32) and
    averaged per bin. For ``A·sin(2πt/P)`` this gives ``A`` (to within the bins' smoothing).

    Args:
        y: Signal. Shape ``(T,)``.
        period: Period, samples (need not be whole).

    Returns:
        The amplitude, in the units of ``y``.
    """
    t = np.arange(len(y))
    y = y - np.polyval(np.polyfit(t, y, 1), t)
    bins = int(np.clip(round(period), 4, 32))
    phase = np.floor((t % period) / period * bins).astype(int)
    means = [y[phase == b].mean() for b in range(bins) if np.any(phase == b)]
    return float(max(means) - min(means)) / 2.0
