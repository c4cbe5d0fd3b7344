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
exception's class name, message, traceback and the worker it ran on (also for a task that died or was
stopped: a Ray task reports its node, worker id and pid to a small actor when it starts). A time limit
counts from the moment the task starts running, not from its submission, so a task queued behind
others is not charged for the wait.

Connecting to an existing Ray cluster is bounded: :meth:`RayExecutor.start` first probes the address
in a child process with a :data:`RAY_CONNECT_TIMEOUT_S` limit (``ray.init`` itself retries a dead
address for minutes) and raises :class:`RayClusterError` when nothing answers.

Sources: Ray 2.x ``ray.remote(...).options``, ``ray.wait``, ``ray.exceptions`` (``RayTaskError``,
``WorkerCrashedError``); Python ``multiprocessing`` spawn context and ``connection.wait``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from lm_reward_learning import isolation
from lm_reward_learning.errors import LmrlError

log = logging.getLogger(__name__)

FAILURE_KINDS = ("error", "died", "timeout")
#: Seconds to wait for an existing Ray cluster to answer before giving up (``ray.init`` alone retries
#: an address nobody answers on for minutes).
RAY_CONNECT_TIMEOUT_S = 15.0
_START_LOG_TIMEOUT_S = 30.0


class RayClusterError(LmrlError):
    """The Ray cluster named by an address cannot be reached (nothing answers, or Ray refuses it)."""


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
    timeout_s: float | None

    def start(self) -> None:
        """Acquire what the executor needs now (connect to a cluster), so a bad setup fails early."""
        ...

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
        withheld_env: Variables the workers must not inherit besides the secret-looking ones (the
            endpoints' ``api_key_env``): only the process that calls the endpoint holds the key
            (:func:`lm_reward_learning.isolation.secrets_withheld`).
    """

    name = "local"

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        resources: Resources | None = None,
        timeout_s: float | None = None,
        env: dict[str, str] | None = None,
        withheld_env: Sequence[str] = (),
    ) -> None:
        cpus = os.cpu_count() or 1
        per_task = (resources or Resources()).num_cpus
        self.max_workers = max(1, int(max_workers or cpus // max(per_task, 1e-9) or 1))
        self.timeout_s = timeout_s
        self.env = dict(env or {})
        self.withheld_env = tuple(withheld_env)
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
                    with isolation.secrets_withheld(self.withheld_env):  # no API key in the workers
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
                            message=f"task ran past its {self.timeout_s:g} s limit and was stopped",
                            wall_s=time.monotonic() - t0, worker=local_worker_name(proc.pid),
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
        wall, worker = time.monotonic() - t0, local_worker_name(proc.pid)
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

    def start(self) -> None:
        """Nothing to acquire: processes start with their tasks."""

    def close(self) -> None:
        """Nothing to release: every task's process has ended when :meth:`map` returns."""


def local_worker_name(pid: int | None) -> str:
    return f"pid {pid} on {socket.gethostname()}"


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
        timeout_s: Per-task limit from the task's start, s (None: none); a task past it is cancelled
            (force-killed). A task still waiting for a slot after ``timeout_s`` × the number of tasks
            (every task before it ran to its limit) is cancelled too.
        env: Environment variables for the workers (Ray ``runtime_env``).
        withheld_env: Variables a local Ray instance must not inherit besides the secret-looking ones
            (its raylet and workers start from this process's environment).
        connect_timeout_s: Limit of the probe of an existing cluster, s (None: :data:`RAY_CONNECT_TIMEOUT_S`).
    """

    address: str | None = None
    num_cpus: int | None = None
    num_gpus: int | None = None
    resources: Resources = field(default_factory=Resources)
    timeout_s: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    withheld_env: tuple[str, ...] = ()
    connect_timeout_s: float | None = None
    name: str = "ray"
    _started: bool = False

    def start(self) -> None:
        """Connect to the cluster (or start the local instance) now.

        Raises:
            RayClusterError: ``address`` names a cluster that does not answer within
                ``connect_timeout_s``, or that Ray refuses.
        """
        self._init()

    def _init(self) -> Any:
        import ray

        if not ray.is_initialized():
            if self.address is not None:
                probe_ray_cluster(self.address, self.connect_timeout_s or RAY_CONNECT_TIMEOUT_S)
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "runtime_env": {"env_vars": dict(self.env)} if self.env else None,
            }
            if self.address is None:
                kwargs.update(num_cpus=self.num_cpus, num_gpus=self.num_gpus)
            try:
                with isolation.secrets_withheld(self.withheld_env):  # a local instance's processes: no API key
                    ray.init(address=self.address, **kwargs)
            except ConnectionError as exc:  # the cluster went away between the probe and here
                raise RayClusterError(_cluster_message(self.address, str(exc))) from exc
            self._started = True
            log.info("ray: %s", "local instance started" if self.address is None else f"connected to {self.address}")
        return ray

    def map(self, fn: Callable[[Any], Any], args: Sequence[Any]) -> list[TaskResult]:
        """Run ``fn(arg)`` for each arg as Ray tasks; see the class docstring."""
        ray = self._init()
        start_log = ray.remote(num_cpus=0)(_StartLog).remote()
        try:
            # Wait until the actor is up: reports sent to an actor still starting wait in the sender, and
            # are lost if the sender dies meanwhile (the very case they are for).
            try:
                ray.get(start_log.snapshot.remote(), timeout=_START_LOG_TIMEOUT_S)
            except ray.exceptions.GetTimeoutError as exc:
                raise RayClusterError(
                    f"the Ray cluster did not start a small bookkeeping actor within {_START_LOG_TIMEOUT_S:g} s; "
                    "check `ray status` (nodes alive, memory) and retry"
                ) from exc
            return self._run(ray, start_log, fn, args)
        finally:
            ray.kill(start_log)

    def _run(self, ray: Any, start_log: Any, fn: Callable[[Any], Any], args: Sequence[Any]) -> list[TaskResult]:
        remote = ray.remote(_ray_call).options(
            num_cpus=self.resources.num_cpus, num_gpus=self.resources.num_gpus, max_retries=0
        )
        t0 = time.monotonic()
        refs = {remote.remote(fn, a, i, start_log): i for i, a in enumerate(args)}
        results: dict[int, TaskResult] = {}
        started: dict[int, float] = {}  # when this driver first saw each task's start report
        workers: dict[int, str] = {}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            now = time.monotonic()
            for i, worker in ray.get(start_log.snapshot.remote(), timeout=_START_LOG_TIMEOUT_S).items():
                workers[i] = worker
                started.setdefault(i, now)
            for ref in done:
                i = refs[ref]
                results[i] = self._collect(ray, ref, i, now - started.get(i, t0), workers.get(i, ""))
            if self.timeout_s is not None:
                still = []
                for ref in pending:
                    i = refs[ref]
                    message = self._late(i, started, now - t0, len(args))
                    if message is None:
                        still.append(ref)
                        continue
                    ray.cancel(ref, force=True)
                    results[i] = TaskResult(
                        i, False, failure="timeout", error_kind="Timeout", message=message,
                        wall_s=now - started.get(i, t0), worker=workers.get(i, "not started (no worker took it)"),
                    )  # fmt: skip
                pending = still
        return [results[i] for i in range(len(args))]

    def _late(self, i: int, started: dict[int, float], elapsed_s: float, n_tasks: int) -> str | None:
        """Why task ``i`` must be cancelled now, or None (``elapsed_s``: since the tasks were submitted)."""
        assert self.timeout_s is not None
        now = time.monotonic()
        if i in started and now - started[i] > self.timeout_s:
            return f"task ran past its {self.timeout_s:g} s limit and was cancelled"
        if i not in started and elapsed_s > self.timeout_s * n_tasks:
            return (
                f"task did not start within {self.timeout_s * n_tasks:g} s ({n_tasks} tasks x the "
                f"{self.timeout_s:g} s limit): no node has a free slot with the CPUs/GPUs it needs; lower "
                "candidate_cpus/candidate_gpus or add nodes"
            )
        return None

    @staticmethod
    def _collect(ray: Any, ref: Any, i: int, wall: float, worker: str) -> TaskResult:
        try:
            ok, value, kind, message, tb, where = ray.get(ref)
        except ray.exceptions.RayError as exc:  # the worker died (WorkerCrashedError), node lost, ...
            first = str(exc).splitlines()[0] if str(exc) else repr(exc)
            return TaskResult(
                i, False, failure="died", error_kind=type(exc).__name__,
                message=f"Ray worker {worker or '(never reported its start)'} died without a result: {first}",
                wall_s=wall, worker=worker or "unknown (the task never reported its start)",
            )  # fmt: skip
        if ok:
            return TaskResult(i, True, value=value, wall_s=wall, worker=where)
        return TaskResult(i, False, None, "error", kind, message, tb, wall, where)

    def close(self) -> None:
        """Shut down the Ray instance if this executor started it."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


class _StartLog:
    """A Ray actor each task tells where it runs as it starts (see :class:`RayExecutor`)."""

    def __init__(self) -> None:
        self._workers: dict[int, str] = {}

    def started(self, index: int, worker: str) -> None:
        """Record that task ``index`` started on ``worker``."""
        self._workers[index] = worker

    def snapshot(self) -> dict[int, str]:
        """Every start recorded so far: task index → worker."""
        return dict(self._workers)


def _ray_call(fn: Callable[[Any], Any], arg: Any, index: int, start_log: Any) -> tuple[bool, Any, str, str, str, str]:
    """The Ray task: report where it runs, then :func:`_call` plus that place."""
    import ray

    ctx = ray.get_runtime_context()
    where = (
        f"ray node {ctx.get_node_id()[:8]} worker {ctx.get_worker_id()[:8]} pid {os.getpid()} on {socket.gethostname()}"
    )
    # Not waited for: a task blocked in ray.get/ray.wait lends its CPUs to queued tasks, which would then
    # run more candidates at once than there are slots. The report is on its way before the task's work.
    start_log.started.remote(index, where)
    return (*_call(fn, arg), where)


def probe_ray_cluster(address: str, timeout_s: float) -> float:
    """Check that the Ray cluster at ``address`` answers, in a child process limited to ``timeout_s``.

    ``ray.init(address=...)`` in this process would retry an address nobody answers on for minutes,
    and Ray's core may end the process when it gives up; a child can simply be killed.

    Returns:
        The cluster's CPU count.

    Raises:
        RayClusterError: nothing answered within ``timeout_s``, or Ray refused (no cluster for
            ``auto``, a version mismatch, ...).
    """
    code = (
        "import sys, ray\n"
        "ray.init(address=sys.argv[1], include_dashboard=False, log_to_driver=False, logging_level='error')\n"
        "print(ray.cluster_resources().get('CPU', 0))\n"
        "ray.shutdown()\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, address], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise RayClusterError(_cluster_message(address, f"nothing answered within {timeout_s:g} s")) from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        raise RayClusterError(_cluster_message(address, lines[-1] if lines else f"exit code {done.returncode}"))
    try:
        cpus = float(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise RayClusterError(_cluster_message(address, f"unexpected answer {done.stdout.strip()!r}")) from None
    log.info("ray: the cluster at %s answered (%g CPUs)", address, cpus)
    return cpus


def _cluster_message(address: str | None, said: str) -> str:
    return (
        f"cannot connect to the Ray cluster at --ray-address {address} ({said}). Start the cluster first "
        "(`ray start --head` on the head node, then `ray status` to check it), give the head's address "
        "(host:6379, or ray://host:10001 for Ray Client), or leave --ray-address / ray_address out to start a "
        "local Ray instance."
    )
