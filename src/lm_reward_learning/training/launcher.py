"""Start a sandboxed training worker, follow it, stop it: shared by the MuJoCo and Isaac Lab backends.

Training never runs in the caller's process: the reward program it executes is untrusted. The
worker (``python -m lm_reward_learning.isolation.enter POLICY PPID <worker module> --request REQ``)
starts with a scrubbed environment, can write only in the run directory, dies with the launcher,
and seals itself (memory limit, seccomp) before it compiles the program
(:mod:`lm_reward_learning.isolation`). Launcher and worker talk through files in ``<run>/<work>/``
(:mod:`~lm_reward_learning.training.worker_protocol`): the request, a JSON-lines progress file, the
result and a cancel file; the worker's output goes to ``worker.log`` only.

:func:`run_worker` relays each iteration to ``on_iteration``, enforces the overall and stall timeouts,
honours a cancel request and Ctrl-C (cancel file, then SIGTERM, then SIGKILL of the worker's process
group), and turns every ending into either the worker's result or one exception. When the worker
could not say so itself (killed, crashed, timed out), the launcher marks ``run.yaml``
``status: failed`` with the reason, so no run is left at ``training``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_reward_learning import isolation
from lm_reward_learning.errors import CheckpointError, LmrlError, RewardRuntimeError
from lm_reward_learning.reward.runtime import hard_timeout_failure
from lm_reward_learning.training.run_dir import RunDir
from lm_reward_learning.training.worker_protocol import ProgressReader, ProtocolError, WorkerResult

log = logging.getLogger(__name__)

IterationCallback = Callable[[int, dict[str, Any]], None]
CancelCheck = Callable[[], bool]
POLL_S = 0.25


class TrainingWorkerError(LmrlError):
    """The training worker reported an error, or died without reporting (killed, crashed).

    Attributes:
        kind: The worker's exception class name, or ``"died"``.
        log_path: The worker's log file.
    """

    def __init__(self, message: str, kind: str = "", log_path: Path | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.log_path = log_path


class TrainingTimeoutError(LmrlError):
    """The worker ran past the overall timeout or reported nothing for too long; it was stopped."""


class TrainingCancelledError(LmrlError):
    """Training was cancelled on request; the checkpoints written so far are kept."""


@dataclass(frozen=True)
class WorkerErrors:
    """The exception types and wording of one backend (Isaac Lab keeps its own subclasses)."""

    label: str = "training"
    failed: type[TrainingWorkerError] = TrainingWorkerError
    timeout: type[LmrlError] = TrainingTimeoutError
    cancelled: type[LmrlError] = TrainingCancelledError


@dataclass(frozen=True)
class WorkerFiles:
    """The files of one worker run in ``<run>/<dir>/``."""

    dir: Path

    @property
    def request(self) -> Path:
        return self.dir / "request.json"

    @property
    def progress(self) -> Path:
        return self.dir / "progress.jsonl"

    @property
    def result(self) -> Path:
        return self.dir / "result.json"

    @property
    def cancel(self) -> Path:
        return self.dir / "cancel"

    @property
    def log(self) -> Path:
        return self.dir / "worker.log"

    @property
    def sandbox_report(self) -> Path:
        return self.dir / "sandbox.json"

    @property
    def watchdog(self) -> Path:
        """The reward call watchdog's file (:class:`~lm_reward_learning.reward.runtime.RewardCallGuard`)."""
        return self.dir / "reward_watchdog.txt"

    def reset(self) -> None:
        """Make the folder and remove a previous run's progress, result, cancel and watchdog files."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for f in (self.progress, self.result, self.cancel, self.sandbox_report, self.watchdog):
            f.unlink(missing_ok=True)


def run_worker(
    cmd: list[str],
    env: dict[str, str],
    files: WorkerFiles,
    run: RunDir,
    *,
    total: int,
    start: int = 0,
    desc: str = "train",
    progress: bool = True,
    on_iteration: IterationCallback | None = None,
    timeout_s: float | None = None,
    stall_timeout_s: float = 900.0,
    cancel: threading.Event | CancelCheck | None = None,
    cancel_grace_s: float = 30.0,
    errors: WorkerErrors = WorkerErrors(),
    hard_timeout_s: float = 0.0,
) -> WorkerResult:
    """Run one worker command to its end; see the module docstring.

    Args:
        cmd: The worker's command line (from :func:`lm_reward_learning.isolation.sandboxed_command`).
        env: Its environment (scrubbed).
        files: Its files (already :meth:`WorkerFiles.reset`, request written).
        run: The run directory it trains into (``run.yaml`` is marked failed if the worker cannot).
        total: Total iterations (progress bar).
        start: Iterations already done (progress bar).
        desc: Progress bar label.
        progress: Show a tqdm progress bar on stderr.
        on_iteration: Called as ``on_iteration(it, record)`` after each iteration; an exception it
            raises stops the worker (cancel, then terminate) and propagates.
        timeout_s: Stop the worker after this many seconds in all (None: no limit).
        stall_timeout_s: Stop the worker when it reports nothing for this long, s.
        cancel: An event (or a callable returning True) asking the worker to stop after its iteration.
        cancel_grace_s: After a cancel, wait this long before terminating the worker, s.
        errors: Exception types and wording of the backend.
        hard_timeout_s: The worker's hard limit per reward call, s (for the message when its watchdog
            ended it).

    Returns:
        The worker's result (status ``done``).

    Raises:
        RewardRuntimeError: the reward program failed during training (timeout, memory, exception,
            sandbox violation); ``run.yaml`` says so.
        CheckpointError: the resume or warm-start checkpoint could not be loaded.
        errors.cancelled, errors.timeout, errors.failed: as named.
    """
    from tqdm import tqdm

    bar = tqdm(total=total, initial=start, desc=desc, disable=not progress)
    log.info("starting the %s worker (log: %s)", errors.label, files.log)
    with files.log.open("ab") as logf:
        proc = subprocess.Popen(
            cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=run.path,
            start_new_session=True,
        )  # fmt: skip
    follower = _Follower(proc, files, bar, on_iteration, errors, hard_timeout_s)
    try:
        return follower.follow(timeout_s, stall_timeout_s, cancel, cancel_grace_s)
    except BaseException as exc:
        follower.stop(cancel_grace_s)
        if not follower.callback_raised:
            _mark_run(run, exc)
        raise
    finally:
        bar.close()
        _record_sandbox(run, files)


def _mark_run(run: RunDir, exc: BaseException) -> None:
    """Mark ``run.yaml`` ``failed`` (with the reason) when the worker failed without recording it.

    A cancel, Ctrl-C or timeout leaves the run as the worker left it (``training``, checkpoints kept):
    it can be resumed.
    """
    if isinstance(exc, (KeyboardInterrupt, TrainingCancelledError, TrainingTimeoutError)):
        return
    with contextlib.suppress(LmrlError, OSError):
        if run.meta().get("status") in ("done", "failed"):
            return
        if isinstance(exc, RewardRuntimeError):
            run.write_meta(status="failed", failure=exc.to_failure())
        else:
            run.write_meta(status="failed", failure={"kind": type(exc).__name__, "message": str(exc)[:2000]})


def _record_sandbox(run: RunDir, files: WorkerFiles) -> None:
    """Copy the worker's sandbox report into ``run.yaml`` (``sandbox: {applied, missing}``) and warn once."""
    import json

    with contextlib.suppress(OSError, ValueError, LmrlError):
        layers = json.loads(files.sandbox_report.read_text(encoding="utf-8"))
        sealed = WorkerResult.read(files.result).sandbox if files.result.is_file() else {}
        layers = sealed or layers
        run.write_meta(sandbox={"applied": layers.get("applied", []), "missing": layers.get("missing", {})})
        isolation.warn_missing_once(layers, "training worker")


def _is_set(cancel: threading.Event | CancelCheck | None) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())


class _Follower:
    """Follows one worker process: relays its progress, enforces timeouts, stops it."""

    def __init__(
        self,
        proc: subprocess.Popen,
        files: WorkerFiles,
        bar: Any,
        on_iteration: IterationCallback | None,
        errors: WorkerErrors,
        hard_timeout_s: float,
    ) -> None:
        self.proc, self.files, self.bar, self.on_iteration, self.errors = proc, files, bar, on_iteration, errors
        self.hard_timeout_s = hard_timeout_s
        self.reader = ProgressReader(files.progress)
        self.phase = "starting"
        self.iteration: int | None = None
        self.callback_raised = False

    def follow(
        self,
        timeout_s: float | None,
        stall_timeout_s: float,
        cancel: threading.Event | CancelCheck | None,
        cancel_grace_s: float,
    ) -> WorkerResult:
        t0 = last = time.monotonic()
        label = self.errors.label
        while True:
            events = self.reader.poll()
            for ev in events:
                self._handle(ev)
            if events:
                last = time.monotonic()
            code = self.proc.poll()
            if code is not None:
                for ev in self.reader.poll():
                    self._handle(ev)
                return self._finish(code)
            now = time.monotonic()
            if _is_set(cancel):
                self.stop(cancel_grace_s)
                raise self.errors.cancelled(f"{label} cancelled {self._where()}; checkpoints are kept.")
            if timeout_s is not None and now - t0 > timeout_s:
                self.stop(cancel_grace_s)
                raise self.errors.timeout(
                    f"{label} ran past its {timeout_s:.0f} s timeout {self._where()} and was stopped; "
                    f"resume it with more time (checkpoints are kept). Log: {self.files.log}"
                )
            if now - last > stall_timeout_s:
                self.stop(cancel_grace_s)
                raise self.errors.timeout(
                    f"The {label} worker reported nothing for {stall_timeout_s:.0f} s {self._where()} and was "
                    f"stopped. Log: {self.files.log}"
                )
            time.sleep(POLL_S)

    def _handle(self, ev: dict[str, Any]) -> None:
        kind = ev.get("event")
        if kind == "phase":
            self.phase = str(ev.get("phase"))
            log.info("%s worker: %s", self.errors.label, self.phase)
        elif kind == "iteration":
            self.iteration = int(ev["iteration"])
            rec = ev.get("record", {})
            if rec.get("mean_episode_return") is not None:
                self.bar.set_postfix(
                    ret=f"{rec['mean_episode_return']:.2f}", ep_s=f"{rec.get('mean_episode_length_s') or 0:.1f}"
                )
            self.bar.update(1)
            if self.on_iteration is not None:
                try:
                    self.on_iteration(self.iteration, rec)
                except BaseException:
                    self.callback_raised = True  # the caller stops training (e.g. a ROS cancel)
                    raise

    def _where(self) -> str:
        return f"during {self.phase}" + (f" (after iteration {self.iteration})" if self.iteration is not None else "")

    def _finish(self, code: int) -> WorkerResult:
        label = self.errors.label
        try:
            result = WorkerResult.read(self.files.result)
        except ProtocolError:
            stuck = hard_timeout_failure(self.files.watchdog, self.hard_timeout_s)
            if stuck is not None:  # the reward call watchdog ended the worker
                raise stuck from None
            signame = ""
            if code < 0:
                with contextlib.suppress(ValueError):
                    signame = f" (signal {signal.Signals(-code).name})"
            raise self.errors.failed(
                f"The {label} worker exited with code {code}{signame} {self._where()} without a result. "
                f"Last lines of {self.files.log}:\n{tail(self.files.log)}",
                kind="died",
                log_path=self.files.log,
            ) from None
        if result.status == "done":
            log.info("%s worker: done (%s)", label, result.timings)
            return result
        if result.status == "cancelled":
            raise self.errors.cancelled(f"{label} cancelled {self._where()}; checkpoints are kept.")
        if result.error_kind == "CheckpointError":
            raise CheckpointError(result.message)
        if result.error_kind == "RewardRuntimeError":
            raise RewardRuntimeError.from_failure(result.failure or {"message": result.message})
        raise self.errors.failed(
            f"{label} failed {self._where()}: {result.message}. Log: {self.files.log}",
            kind=result.error_kind,
            log_path=self.files.log,
        )

    def stop(self, grace_s: float) -> None:
        """Ask the worker to stop (cancel file), then SIGTERM, then SIGKILL its process group.

        Waits ``grace_s`` after the cancel file and after SIGTERM.
        """
        if self.proc.poll() is not None:
            return
        self.files.cancel.touch()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace_s)
            return
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
            log.warning("%s worker pid %d did not stop; sending %s", self.errors.label, self.proc.pid, sig.name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=wait_s)
                return


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file, or ``"(no log)"``."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
