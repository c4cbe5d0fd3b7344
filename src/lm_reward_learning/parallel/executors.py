"""Executors that run picklable tasks in parallel and never let one failure sink the others.

Two implementations of one contract, :class:`Executor`:

* :class:`LocalProcessExecutor`: one *spawned* process per task (at most ``max_workers`` at once), the
  result coming back over a pipe. Not ``concurrent.futures.ProcessPoolExecutor``: there a worker that
  dies (OOM killer, SIGKILL, a simulator segfault) breaks the whole pool and every pending future with
  it; here it fails only its own task.
* :class:`RayExecutor`: each task a Ray task with its resource needs (CPUs, GPUs), on a local Ray
  instance started on first use (``ray.init(num_cpus=...)``) or on an existing cluster
  (``address="ray://head:10001"`` or ``"auto"``); ``max_retries=0``, so a dead worker is reported
  instead of silently re-run.

Both return one :class:`TaskResult` per task, in task order: ``ok`` with the value, or a failure with
its kind (``error``: the task raised; ``died``: its process ended without an answer; ``timeout``), the
exception's class name, message and traceback.

Sources: Ray 2.x ``ray.remote(...).options``, ``ray.wait``, ``ray.exceptions`` (``RayTaskError``,
``WorkerCrashedError``); Python ``multiprocessing`` spawn context and ``connection.wait``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

log = logging.getLogger(__name__)

FAILURE_KINDS = ("error", "died", "timeout")


@dataclass(frozen=True)
class Resources:
    """What one task needs (Ray schedules by it; the local executor sizes its pool by ``num_cpus``).

    Attributes:
        num_cpus: CPU cores per task.
        num_gpus: GPUs per task (Ray only; fractions share a GPU).
    """

    num_cpus: float = 1.0
    num_gpus: float = 0.0


@dataclass(frozen=True)
class TaskResult:
    """The outcome of one task.

    Attributes:
        index: Position of the task in the submitted list.
        ok: The task returned a value.
        value: Its return value (``ok`` only).
        failure: ``error``, ``died`` or ``timeout`` (not ``ok`` only).
        error_kind: Exception class name, or ``"WorkerDied"`` / ``"Timeout"``.
        message: What went wrong, for a person.
        traceback: The task's traceback text, when there is one.
        wall_s: Seconds from start to result.
        worker: Where it ran (``pid 123``, ``ray node … pid 123``).
    """

    index: int
    ok: bool
    value: Any = None
    failure: str = ""
    error_kind: str = ""
    message: str = ""
    traceback: str = ""
    wall_s: float = 0.0
    worker: str = ""


class Executor(Protocol):
    """Runs ``fn(arg)`` for every ``arg``, in parallel; one :class:`TaskResult` per arg, in order."""

    name: str

    def map(self, fn: Callable[[Any], Any], args: Sequence[Any]) -> list[TaskResult]:
        """Run the tasks; never raises for a task's failure."""
        ...

    def close(self) -> None:
        """Release what the executor started (processes, a local Ray instance)."""
        ...


def _call(fn: Callable[[Any], Any], arg: Any) -> tuple[bool, Any, str, str, str]:
    """Run ``fn(arg)``; return ``(ok, value, error_kind, message, traceback)`` (never raises)."""
    try:
        return True, fn(arg), "", "", ""
    except BaseException as exc:  # the task's failure is data for the caller
        return False, None, type(exc).__name__, str(exc) or type(exc).__name__, traceback.format_exc()


def _child(fn: Callable[[Any], Any], arg: Any, conn: Connection) -> None:
    """Entry point of a local worker process: run the task, send the outcome, exit."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s [worker %(process)d]: %(message)s")
    try:
        conn.send(_call(fn, arg))
    except Exception as exc:  # the value did not pickle: report that instead
        conn.send((False, None, type(exc).__name__, f"result could not be sent back: {exc}", traceback.format_exc()))
    finally:
        conn.close()


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


class LocalProcessExecutor:
    """One spawned process per task, at most ``max_workers`` at a time.

    Args:
        max_workers: Concurrent tasks; default ``cpu_count // resources.num_cpus`` (at least 1).
        resources: Per-task needs (only ``num_cpus`` is used here).
        timeout_s: Per-task wall-clock limit, s (None: none); a task past it is terminated.
        env: Extra environment variables for the workers (e.g. ``MUJOCO_GL``).
    """

    name = "local"

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        resources: Resources | None = None,
        timeout_s: float | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        cpus = os.cpu_count() or 1
        per_task = (resources or Resources()).num_cpus
        self.max_workers = max(1, int(max_workers or cpus // max(per_task, 1e-9) or 1))
        self.timeout_s = timeout_s
        self.env = dict(env or {})
        self._ctx = mp.get_context("spawn")

    def map(self, fn: Callable[[Any], Any], args: Sequence[Any]) -> list[TaskResult]:
        """Run ``fn(arg)`` for each arg; see the class docstring."""
        results: list[TaskResult | None] = [None] * len(args)
        pending = list(range(len(args)))
        running: dict[int, tuple[Any, Connection, float]] = {}
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)  # spawned children inherit the parent's environment at start
        try:
            while pending or running:
                while pending and len(running) < self.max_workers:
                    i = pending.pop(0)
                    parent, child = self._ctx.Pipe(duplex=False)
                    proc = self._ctx.Process(target=_child, args=(fn, args[i], child), name=f"lmrl-task-{i}")
                    proc.start()
                    child.close()
                    running[i] = (proc, parent, time.monotonic())
                    log.info("task %d started in pid %d", i, proc.pid)
                ready = wait([c for _, c, _ in running.values()] + [p.sentinel for p, _, _ in running.values()], 0.5)
                for i, (proc, conn, t0) in list(running.items()):
                    if conn in ready or proc.sentinel in ready:
                        results[i] = self._collect(i, proc, conn, t0)
                        del running[i]
                    elif self.timeout_s is not None and time.monotonic() - t0 > self.timeout_s:
                        _stop(proc)
                        results[i] = TaskResult(
                            i, False, failure="timeout", error_kind="Timeout",
                            message=f"task ran past its {self.timeout_s:.0f} s limit and was stopped",
                            wall_s=time.monotonic() - t0, worker=f"pid {proc.pid}",
                        )  # fmt: skip
                        conn.close()
                        del running[i]
        finally:
            for proc, conn, _ in running.values():  # interrupted (Ctrl-C): leave no orphans
                _stop(proc)
                conn.close()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return [r for r in results if r is not None]

    @staticmethod
    def _collect(i: int, proc: Any, conn: Connection, t0: float) -> TaskResult:
        msg = None
        with contextlib.suppress(EOFError, OSError):
            if conn.poll(5.0):
                msg = conn.recv()
        conn.close()
        proc.join(timeout=30)
        wall, worker = time.monotonic() - t0, f"pid {proc.pid}"
        if msg is None:
            return TaskResult(
                i, False, failure="died", error_kind="WorkerDied",
                message=f"worker process {proc.pid} died without a result ({_exit_reason(proc.exitcode)})",
                wall_s=wall, worker=worker,
            )  # fmt: skip
        ok, value, kind, message, tb = msg
        if ok:
            return TaskResult(i, True, value=value, wall_s=wall, worker=worker)
        return TaskResult(i, False, None, "error", kind, message, tb, wall, worker)

    def close(self) -> None:
        """Nothing to release: every task's process has ended when :meth:`map` returns."""


def _stop(proc: Any) -> None:
    proc.terminate()
    proc.join(timeout=10)
    if proc.is_alive():
        proc.kill()
        proc.join(timeout=10)


@dataclass
class RayExecutor:
    """Each task a Ray task; see the module docstring.

    Attributes:
        address: Existing cluster (``"auto"``, ``"ray://host:10001"``); None starts a local instance.
        num_cpus: CPUs of a local instance (None: all).
        num_gpus: GPUs of a local instance (None: Ray detects them).
        resources: Per-task needs.
        timeout_s: Per-task limit, s (None: none); a task past it is cancelled (force-killed).
        env: Environment variables for the workers (Ray ``runtime_env``).
    """

    address: str | None = None
    num_cpus: int | None = None
    num_gpus: int | None = None
    resources: Resources = field(default_factory=Resources)
    timeout_s: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    name: str = "ray"
    _started: bool = False

    def _init(self) -> Any:
        import ray

        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "runtime_env": {"env_vars": dict(self.env)} if self.env else None,
            }
            if self.address is None:
                kwargs.update(num_cpus=self.num_cpus, num_gpus=self.num_gpus)
            ray.init(address=self.address, **kwargs)
            self._started = True
            log.info("ray: %s", "local instance started" if self.address is None else f"connected to {self.address}")
        return ray

    def map(self, fn: Callable[[Any], Any], args: Sequence[Any]) -> list[TaskResult]:
        """Run ``fn(arg)`` for each arg as Ray tasks; see the class docstring."""
        ray = self._init()
        remote = ray.remote(_ray_call).options(
            num_cpus=self.resources.num_cpus, num_gpus=self.resources.num_gpus, max_retries=0
        )
        t0 = time.monotonic()
        refs = {remote.remote(fn, a): i for i, a in enumerate(args)}
        results: dict[int, TaskResult] = {}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for ref in done:
                i = refs[ref]
                results[i] = self._collect(ray, ref, i, time.monotonic() - t0)
            if self.timeout_s is not None and time.monotonic() - t0 > self.timeout_s:
                for ref in pending:
                    ray.cancel(ref, force=True)
                    i = refs[ref]
                    results[i] = TaskResult(
                        i, False, failure="timeout", error_kind="Timeout",
                        message=f"task ran past its {self.timeout_s:.0f} s limit and was cancelled",
                        wall_s=time.monotonic() - t0,
                    )  # fmt: skip
                pending = []
        return [results[i] for i in range(len(args))]

    @staticmethod
    def _collect(ray: Any, ref: Any, i: int, wall: float) -> TaskResult:
        try:
            ok, value, kind, message, tb, worker = ray.get(ref)
        except ray.exceptions.RayError as exc:  # the worker died (WorkerCrashedError), node lost, ...
            return TaskResult(
                i, False, failure="died", error_kind=type(exc).__name__,
                message=f"Ray worker died without a result: {str(exc).splitlines()[0] if str(exc) else exc!r}",
                wall_s=wall,
            )  # fmt: skip
        if ok:
            return TaskResult(i, True, value=value, wall_s=wall, worker=worker)
        return TaskResult(i, False, None, "error", kind, message, tb, wall, worker)

    def close(self) -> None:
        """Shut down the Ray instance if this executor started it."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def _ray_call(fn: Callable[[Any], Any], arg: Any) -> tuple[bool, Any, str, str, str, str]:
    """The Ray task: :func:`_call` plus where it ran."""
    import ray

    where = f"ray node {ray.get_runtime_context().get_node_id()[:8]} pid {os.getpid()}"
    return (*_call(fn, arg), where)
