"""Train-time limits of a reward program: per-call time limit, output checks, failures with a reason.

A program that passed the dry run can still fail later (a time bomb that behaves for a few calls, a
state the recorded batch did not contain). :class:`RewardCallGuard` wraps the compiled
``compute_reward`` for the training worker:

* **time**: each call may use ``call_timeout_s`` of CPU time (``ITIMER_PROF``; CPU time, not wall
  time, so a busy machine does not fail a normal call); past it ``ProgramTimeout`` is raised at the
  program line being run. A call stuck in one long C call, where the signal cannot be delivered
  (``sum(range(10**12))`` holds the GIL throughout), or blocked, is ended after ``hard_timeout_s``
  of wall time by :mod:`faulthandler`'s watchdog, a C thread that needs no GIL: it writes the
  stack to ``hard_timeout_file`` and exits the process; the launcher turns that file into the
  failure (:func:`hard_timeout_failure`);
* **memory**: the worker's ``RLIMIT_DATA`` (set at seal); an allocation past it fails at once;
* **output**: ``(reward (N,), {name: (N,)})`` of tensors, checked every call (cheap: types and shapes);
* every failure becomes a :class:`~lm_reward_learning.errors.RewardRuntimeError` with ``kind``,
  the program ``line`` and the ``call`` number, which the worker records (``run.yaml``,
  ``result.json``) and the launcher re-raises (``lmrl train`` exits 2; ``lmrl learn`` goes on with
  the previous program).

The per-call limit (:func:`call_timeout_s`) is ``factor`` times the dry run's median call time,
scaled from the dry run's batch size to the trainer's ``num_envs``, and at least ``min_s``
(issue 12: "e.g. 20x the dry-run median, at least 50 ms").
"""

from __future__ import annotations

import contextlib
import faulthandler
import re
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from lm_reward_learning.errors import RewardRuntimeError
from lm_reward_learning.reward.guard import SandboxViolation
from lm_reward_learning.reward.sandbox import RewardFn, format_program_error, program_line
from lm_reward_learning.reward.state import RewardState

_OOM_MARKERS = ("can't allocate memory", "not enough memory", "out of memory", "Cannot allocate memory")


class ProgramTimeout(BaseException):
    """Raised by the alarm handler inside a program that ran past its time limit (programs cannot catch it)."""


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure (Python ``MemoryError`` or torch's allocator message)."""
    return isinstance(exc, MemoryError) or any(m in str(exc) for m in _OOM_MARKERS)


def allocation_text(exc: BaseException) -> str:
    """``"allocating 3.7 GiB"`` from torch's allocator message, else ``"an allocation"``."""
    m = re.search(r"allocate (\d+) bytes", str(exc))
    return f"allocating {int(m.group(1)) / 2**30:.3g} GiB" if m else "an allocation"


@contextlib.contextmanager
def time_limit(seconds: float, *, cpu: bool = False) -> Iterator[None]:
    """Raise :class:`ProgramTimeout` in the running code after ``seconds`` (main thread only).

    Args:
        seconds: The limit, s.
        cpu: Count the process's CPU time (``ITIMER_PROF``, user + system, all threads) instead of wall
            time (``ITIMER_REAL``). CPU time does not grow while the process waits for a core, so a
            limit of a few milliseconds holds on a loaded machine; a call that blocks without using
            CPU is left to the caller's wall-clock watchdog.
    """
    armed = True
    which, signum = (signal.ITIMER_PROF, signal.SIGPROF) if cpu else (signal.ITIMER_REAL, signal.SIGALRM)

    def on_alarm(signum: int, frame: object) -> None:
        if armed:
            raise ProgramTimeout

    previous = signal.signal(signum, on_alarm)
    signal.setitimer(which, seconds)
    try:
        yield
    finally:
        armed = False
        signal.setitimer(which, 0)
        signal.signal(signum, previous)


def call_timeout_s(dry_run_wall_s: float, dry_run_envs: int, num_envs: int, *, factor: float, min_s: float) -> float:
    """Per-call limit: ``max(min_s, factor * dry_run_wall_s * max(1, num_envs / dry_run_envs))``, s."""
    scale = max(1.0, num_envs / max(1, dry_run_envs))
    return max(min_s, factor * dry_run_wall_s * scale)


class RewardCallGuard:
    """A compiled reward program with train-time limits; see the module docstring.

    Args:
        fn: The compiled ``compute_reward`` (:func:`~lm_reward_learning.reward.sandbox.compile_reward_fn`).
        source: Its source (quoted in failure messages).
        call_timeout_s: Per-call CPU-time limit, s (``ITIMER_PROF``).
        hard_timeout_s: Wall time after which a call still running ends the process, s
            (> ``call_timeout_s``).
        hard_timeout_file: Where the watchdog writes the stuck stack before it exits the process
            (:func:`hard_timeout_failure` reads it); None: no watchdog.

    Attributes:
        calls: Calls made so far.
    """

    def __init__(
        self,
        fn: RewardFn,
        source: str,
        *,
        call_timeout_s: float,
        hard_timeout_s: float,
        hard_timeout_file: Path | None = None,
    ) -> None:
        self.fn, self.source = fn, source
        self.call_timeout_s, self.hard_timeout_s = float(call_timeout_s), float(hard_timeout_s)
        self.calls = 0
        self._use_alarm = threading.current_thread() is threading.main_thread()
        self._watchdog_file = None if hard_timeout_file is None else open(hard_timeout_file, "w")  # noqa: SIM115

    def __call__(self, state: RewardState) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Call the program once; raises :class:`RewardRuntimeError` on any failure."""
        self.calls += 1
        if self._watchdog_file is not None:
            self._watchdog_file.write(f"call {self.calls}\n")
            self._watchdog_file.flush()
            faulthandler.dump_traceback_later(self.hard_timeout_s, exit=True, file=self._watchdog_file)
        try:
            if self._use_alarm:
                with time_limit(self.call_timeout_s, cpu=True):
                    out = self.fn(state)
            else:
                out = self.fn(state)
        except ProgramTimeout as exc:
            raise self._failure(
                "timeout",
                exc,
                f"compute_reward used more than the per-call limit of {self.call_timeout_s:.3g} s of CPU time",
            ) from None
        except SandboxViolation as exc:
            raise self._failure("sandbox", exc, str(exc)) from None
        except RecursionError as exc:
            raise self._failure("exception", exc, "RecursionError: maximum recursion depth exceeded") from None
        except Exception as exc:
            if is_out_of_memory(exc):
                raise self._failure(
                    "memory", exc, f"ran out of memory ({allocation_text(exc)} past the worker's memory limit)"
                ) from None
            raise self._failure("exception", exc, format_program_error(exc, self.source)) from None
        finally:
            if self._watchdog_file is not None:
                faulthandler.cancel_dump_traceback_later()
                self._watchdog_file.seek(0)
                self._watchdog_file.truncate()
        return self._checked(out, state.num_envs)

    def _failure(self, kind: str, exc: BaseException, detail: str) -> RewardRuntimeError:
        line = program_line(exc)
        where = f"line {line}: " if line is not None and not detail.startswith("line ") else ""
        return RewardRuntimeError(
            f"{FAILED_ON_CALL.format(call=self.calls)}: {where}{detail}"[:1500], kind=kind, line=line, call=self.calls
        )

    def _checked(self, out: Any, n: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ok = isinstance(out, (tuple, list)) and len(out) == 2
        if ok:
            reward, components = out
            ok = _is_vector(reward, n) and isinstance(components, dict) and bool(components)
            ok = ok and all(isinstance(k, str) and _is_vector(v, n) for k, v in components.items())
        if not ok:
            raise RewardRuntimeError(
                f"{FAILED_ON_CALL.format(call=self.calls)}: it returned something other than `reward, components` "
                f"(a float tensor of shape ({n},) and a non-empty dict of such tensors)",
                kind="output",
                call=self.calls,
            )
        return reward, components


#: How a train-time failure message starts.
FAILED_ON_CALL = "the reward program failed during training, on call {call} of compute_reward"


def hard_timeout_failure(path: Path, hard_timeout_s: float) -> RewardRuntimeError | None:
    """The failure a worker's watchdog left in ``path`` (None when the file is absent or empty).

    The file holds ``call N`` and, after a hard timeout, :mod:`faulthandler`'s dump of the stacks
    (``File "<reward>", line L in ...`` names the program's line).
    """
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return None
    if "Timeout" not in text:
        return None
    call = re.search(r"^call (\d+)", text, re.M)
    line = re.search(r'File "<reward>", line (\d+)', text)
    n = int(call.group(1)) if call else None
    return RewardRuntimeError(
        f"{FAILED_ON_CALL.format(call=n)}: "
        + (f"line {line.group(1)}: " if line else "")
        + f"it did not return within {hard_timeout_s:.3g} s (stuck inside one long call, where the per-call "
        "limit cannot interrupt it); the training worker was stopped",
        kind="timeout",
        line=int(line.group(1)) if line else None,
        call=n,
    )


def _is_vector(value: Any, n: int) -> bool:
    return isinstance(value, torch.Tensor) and tuple(value.shape) == (n,) and value.is_floating_point()
