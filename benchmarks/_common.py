"""Shared helpers of the benchmark scripts (timing, printing)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_rate(fn: Callable[[], int], repeats: int = 3) -> float:
    """Run ``fn`` (which returns how many units it did) ``repeats`` times; return the best units/second."""
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = fn()
        best = max(best, n / (time.perf_counter() - t0))
    return best


def report(title: str, rows: list[tuple[str, float, str]], baseline: float) -> None:
    """Print ``rows`` of (name, value, unit) with each value's ratio to ``baseline``."""
    print(title)
    for name, value, unit in rows:
        print(f"  {name:<44} {value:>12.1f} {unit:<10} ratio {value / baseline:6.3f}")
