"""Small tasks for the executor tests (importable by spawned workers; pickled by value for Ray)."""

from __future__ import annotations

import os
import signal
import time


def square(x: int) -> int:
    """x squared, after a short nap (so two tasks overlap)."""
    time.sleep(0.5)
    return x * x


def nap(x: int) -> tuple[float, float]:
    """Sleep 1 s; return (start, end) wall-clock times, s."""
    t0 = time.time()
    time.sleep(1.0)
    return t0, time.time()


def fail(x: int) -> int:
    """Always raises ValueError naming x."""
    raise ValueError(f"bad input {x}")


def die(x: int) -> int:
    """Kills its own process (as the OOM killer would), after 0.5 s of work."""
    time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGKILL)
    return x


def sleep_long(x: int) -> int:
    """Sleeps for a minute (for timeouts)."""
    time.sleep(60)
    return x


def dispatch(arg: tuple[str, int]) -> int:
    """Run the task named ``arg[0]`` on ``arg[1]``."""
    name, x = arg
    return {"square": square, "nap": nap, "fail": fail, "die": die, "sleep_long": sleep_long}[name](x)


def environment(names: list[str]) -> dict[str, str | None]:
    """The worker's values of the environment variables ``names``."""
    return {n: os.environ.get(n) for n in names}
