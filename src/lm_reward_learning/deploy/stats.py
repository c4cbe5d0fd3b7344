"""Control-loop timing statistics: period, jitter and inference time over a sliding window.

Jitter is the absolute deviation of a measured period (time between two consecutive tick starts)
from the nominal control period: ``|period - control_dt|``. Percentiles are over the last ``window``
ticks; counters (ticks, overruns) since the last :meth:`LoopStats.reset`.
"""

from __future__ import annotations

from collections import deque

import numpy as np

OVERRUN_FACTOR = 1.5
"""A period longer than this many control periods counts as an overrun (a missed tick)."""


class LoopStats:
    """Sliding-window timing statistics of a fixed-rate loop.

    Args:
        period_s: The nominal period, s.
        window: Number of recent ticks kept for the percentiles.
    """

    def __init__(self, period_s: float, window: int = 500) -> None:
        self.period_s = float(period_s)
        self.window = int(window)
        self._periods: deque[float] = deque(maxlen=self.window)
        self._inference: deque[float] = deque(maxlen=self.window)
        self._compute: deque[float] = deque(maxlen=self.window)
        self.reset()

    def reset(self) -> None:
        """Forget every sample and counter (on activation)."""
        self._periods.clear()
        self._inference.clear()
        self._compute.clear()
        self._last_tick: float | None = None
        self.ticks = 0
        self.overruns = 0

    def tick(self, now: float) -> None:
        """Record the start of a tick at ``now`` (s, monotonic)."""
        if self._last_tick is not None:
            period = now - self._last_tick
            self._periods.append(period)
            if period > OVERRUN_FACTOR * self.period_s:
                self.overruns += 1
        self._last_tick = now
        self.ticks += 1

    def inference(self, seconds: float) -> None:
        """Record one policy inference (observation to action), s."""
        self._inference.append(seconds)

    def compute(self, seconds: float) -> None:
        """Record one tick's whole computation (inputs to command published), s."""
        self._compute.append(seconds)

    def summary(self) -> dict[str, float]:
        """Percentiles over the window and the counters.

        Returns:
            ``control_period_ms`` (nominal), ``period_{p50,p99}_ms``, ``jitter_{p50,p99,max}_ms``,
            ``inference_{p50,p99,max}_us``, ``compute_{p50,p99}_us``, ``ticks``, ``overruns``,
            ``samples`` (periods in the window). Percentiles are NaN without samples.
        """
        out: dict[str, float] = {"control_period_ms": self.period_s * 1e3}
        periods = np.asarray(self._periods)
        jitter = np.abs(periods - self.period_s)
        for name, data, scale, unit in (
            ("period", periods, 1e3, "ms"),
            ("jitter", jitter, 1e3, "ms"),
            ("inference", np.asarray(self._inference), 1e6, "us"),
            ("compute", np.asarray(self._compute), 1e6, "us"),
        ):
            p50, p99, mx = [*np.percentile(data, [50, 99]), data.max()] if data.size else [np.nan] * 3
            out[f"{name}_p50_{unit}"] = float(p50) * scale
            out[f"{name}_p99_{unit}"] = float(p99) * scale
            if name in ("jitter", "inference"):
                out[f"{name}_max_{unit}"] = float(mx) * scale
        out["ticks"] = float(self.ticks)
        out["overruns"] = float(self.overruns)
        out["samples"] = float(periods.size)
        return out
