"""Shared helpers of the benchmark scripts (timing, printing)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_rate(fn: Callable[[], int], repeats: int = 3, clock: Callable[[], float] = time.perf_counter) -> float:
    """Run ``fn`` (which returns how many units it did) ``repeats`` times; return the best units/second.

    ``clock`` is wall time by default; ``time.process_time`` (CPU seconds of this process, all its
    threads) measures cost rather than elapsed time, which other processes' load does not inflate.
    """
    best = 0.0
    for _ in range(repeats):
        t0 = clock()
        n = fn()
        best = max(best, n / max(clock() - t0, 1e-9))
    return best


def report(title: str, rows: list[tuple[str, float, str]], baseline: float) -> None:
    """Print ``rows`` of (name, value, unit) with each value's ratio to ``baseline``."""
    print(title)
    for name, value, unit in rows:
        print(f"  {name:<44} {value:>12.1f} {unit:<10} ratio {value / baseline:6.3f}")
