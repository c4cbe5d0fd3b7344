"""Train a run through Isaac Lab from the main environment: start the worker, follow it, stop it.

:func:`train_isaaclab` has :func:`lm_reward_learning.training.trainer.train`'s signature and contract
(same run directory, same ``reward_stats.json`` records, same ``on_iteration(it, record)`` callback,
``run.yaml`` status ``done`` on return), so the trainer, the learn loop and the ROS ``trainer_node``
can switch backend without knowing more. The training itself runs in Isaac Lab's own Python
(``.venv-isaaclab``, ``scripts/setup_isaaclab.sh``) as a separate process:

    .venv-isaaclab/bin/python -m lm_reward_learning.isaaclab_backend.worker --request <run>/isaaclab/request.json

with ``PYTHONPATH`` pointing at this checkout's ``src/`` (an installed package is instead found in the
Isaac Lab venv, where ``scripts/setup_isaaclab.sh`` installs it with ``--no-deps``). The
launcher and the worker talk through files in ``<run>/isaaclab/`` (:mod:`~.protocol`): the request,
a JSON-lines progress file, the result, and a cancel file; the worker's stdout and stderr only go to
``<run>/isaaclab/worker.log`` for people to read.

Environment: ``LMRL_ISAACLAB_PYTHON`` (the interpreter) or ``LMRL_ISAACLAB_VENV`` (the venv; default
``<repo>/.venv-isaaclab``); ``LMRL_ISAACLAB_ASSETS`` (default ``<venv>/lmrl-assets``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lm_reward_learning.config import TrainConfig, to_dict
from lm_reward_learning.errors import CheckpointError, LmrlError
from lm_reward_learning.isaaclab_backend.protocol import (
    ProgressReader,
    ProtocolError,
    WorkerRequest,
    WorkerResult,
)
from lm_reward_learning.training.run_dir import RunDir

log = logging.getLogger(__name__)

IterationCallback = Callable[[int, dict[str, Any]], None]
CancelCheck = Callable[[], bool]

WORKER_MODULE = "lm_reward_learning.isaaclab_backend.worker"
INSTALLED_STAMP = ".lmrl-isaaclab-installed"
"""Written by ``scripts/setup_isaaclab.sh`` after a complete install."""
POLL_S = 0.25


class IsaacLabError(LmrlError):
    """Training through Isaac Lab failed; the message says where and what to do."""


class IsaacLabUnavailableError(IsaacLabError):
    """The Isaac Lab environment (interpreter or USD assets) is not there."""


class IsaacLabWorkerError(IsaacLabError):
    """The worker reported an error, or died without reporting (killed, crashed).

    Attributes:
        kind: The worker's exception class name, or ``"died"``.
        log_path: The worker's log file.
    """

    def __init__(self, message: str, kind: str = "", log_path: Path | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.log_path = log_path


class IsaacLabTimeoutError(IsaacLabError):
    """The worker ran past the overall timeout or reported nothing for too long; it was stopped."""


class IsaacLabCancelledError(IsaacLabError):
    """Training was cancelled on request; the checkpoints written so far are kept."""


def repo_root() -> Path:
    """The checkout this package runs from (``src/lm_reward_learning`` → two levels up), or the cwd."""
    here = Path(__file__).resolve().parents[3]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def isaaclab_venv() -> Path:
    """The Isaac Lab venv: ``$LMRL_ISAACLAB_VENV`` or ``<repo>/.venv-isaaclab``."""
    return Path(os.environ.get("LMRL_ISAACLAB_VENV") or repo_root() / ".venv-isaaclab")


def isaaclab_python() -> Path:
    """The Isaac Lab interpreter: ``$LMRL_ISAACLAB_PYTHON`` or ``<venv>/bin/python``."""
    return Path(os.environ.get("LMRL_ISAACLAB_PYTHON") or isaaclab_venv() / "bin" / "python")


def assets_dir() -> Path:
    """The USD assets folder: ``$LMRL_ISAACLAB_ASSETS`` or ``<venv>/lmrl-assets``."""
    return Path(os.environ.get("LMRL_ISAACLAB_ASSETS") or isaaclab_venv() / "lmrl-assets")


def check_available(robot: str | None = None) -> None:
    """Check that the Isaac Lab interpreter and (for ``robot``) its USD assets exist.

    Raises:
        IsaacLabUnavailableError: naming what is missing and the command that makes it.
    """
    py = isaaclab_python()
    fix = "Run `bash scripts/setup_isaaclab.sh` (a few minutes; it builds .venv-isaaclab and the USD assets)"
    if not py.is_file():
        raise IsaacLabUnavailableError(
            f"The Isaac Lab environment is missing: no interpreter at {py}. {fix}, or set LMRL_ISAACLAB_PYTHON."
        )
    stamp = isaaclab_venv() / INSTALLED_STAMP
    if not os.environ.get("LMRL_ISAACLAB_PYTHON") and not stamp.is_file():
        raise IsaacLabUnavailableError(
            f"The Isaac Lab environment {isaaclab_venv()} is incomplete (no {stamp.name}). {fix}."
        )
    if robot is not None and not (assets_dir() / robot / "robot.usdc").is_file():
        raise IsaacLabUnavailableError(f"No Isaac Lab USD asset for robot {robot!r} in {assets_dir()}. {fix}.")


def make_request(
    run: RunDir, cfg: TrainConfig, *, resume: bool, warm_start: Path | None, device: str, files: dict[str, Path]
) -> WorkerRequest:
    """The worker's request for ``run``: settings, observation layout and network from the core config."""
    from lm_reward_learning.envs.mujoco_env import observation_layout
    from lm_reward_learning.robots import get_robot, load_model

    robot = run.meta()["robot"]
    spec = get_robot(robot)
    layout = {g: [dataclasses.asdict(t) for t in terms] for g, terms in observation_layout(spec).items()}
    return WorkerRequest(
        run_dir=str(run.path.resolve()),
        robot=robot,
        iterations=int(cfg.iterations),
        seed=int(cfg.seed),
        torch_threads=int(cfg.torch_threads),
        resume=bool(resume),
        warm_start=str(Path(warm_start).resolve()) if warm_start is not None else None,
        device=device,
        env=to_dict(cfg.env),
        train_cfg=cfg.ppo.to_rsl_rl(),
        observation_layout=layout,
        physics_dt=float(load_model(spec).opt.timestep),
        assets_dir=str(assets_dir().resolve()),
        progress_file=str(files["progress"]),
        result_file=str(files["result"]),
        cancel_file=str(files["cancel"]),
    )


def train_isaaclab(
    run: RunDir,
    cfg: TrainConfig,
    *,
    resume: bool = False,
    warm_start: Path | None = None,
    progress: bool = True,
    on_iteration: IterationCallback | None = None,
    device: str = "cpu",
    timeout_s: float | None = None,
    stall_timeout_s: float = 900.0,
    cancel: threading.Event | CancelCheck | None = None,
    cancel_grace_s: float = 30.0,
) -> RunDir:
    """Train (or resume) the run's reward program with PPO in Isaac Lab; see the module docstring.

    Args:
        run: A run directory made by :func:`~lm_reward_learning.training.trainer.prepare_run`.
        cfg: The training configuration (``cfg.iterations`` is the run's total).
        resume: Continue from ``checkpoints/latest.pt``.
        warm_start: Initialise the policy weights from this checkpoint (either backend's).
        progress: Show a tqdm progress bar on stderr.
        on_iteration: Called as ``on_iteration(it, record)`` after each iteration's record is saved;
            an exception it raises stops the worker (cancel, then terminate) and propagates.
        device: Isaac Lab simulation and agent device: ``cpu`` (Warp's CPU device) or ``cuda:0``.
        timeout_s: Stop the worker after this many seconds in all (None: no limit).
        stall_timeout_s: Stop the worker when it reports nothing for this long, s (a cold Warp
            kernel cache costs a few minutes at the first start).
        cancel: An event (or a callable returning True) that asks the worker to stop after its
            current iteration.
        cancel_grace_s: After a cancel, wait this long for the worker to stop before terminating it, s.

    Returns:
        ``run``, with ``run.yaml`` status ``done``.

    Raises:
        IsaacLabUnavailableError: no Isaac Lab environment or USD asset (``scripts/setup_isaaclab.sh``).
        CheckpointError: the resume or warm-start checkpoint cannot be loaded.
        IsaacLabCancelledError: cancelled through ``cancel`` or Ctrl-C (checkpoints are kept).
        IsaacLabTimeoutError: a timeout stopped the worker.
        IsaacLabWorkerError: the worker failed or died; the message has the reason and its log.
    """
    from tqdm import tqdm

    meta = run.meta()
    check_available(meta["robot"])
    work = run.path / "isaaclab"
    work.mkdir(exist_ok=True)
    files = {k: work / n for k, n in (("progress", "progress.jsonl"), ("result", "result.json"), ("cancel", "cancel"))}
    for f in files.values():
        f.unlink(missing_ok=True)
    request_file = work / "request.json"
    make_request(run, cfg, resume=resume, warm_start=warm_start, device=device, files=files).write(request_file)
    log_path = work / "worker.log"
    env = {**os.environ}
    src_dir = Path(__file__).resolve().parents[2]
    if src_dir.name == "src":  # a source checkout: the worker runs exactly this code
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src_dir), os.environ.get("PYTHONPATH")]))
    # else: an installed package (site-packages must not leak into Isaac Lab's venv); the setup
    # script installed the package into that venv too.
    cmd = [str(isaaclab_python()), "-m", WORKER_MODULE, "--request", str(request_file)]
    start = max(0, int(meta.get("iterations_done", 0))) if resume else 0
    bar = tqdm(total=cfg.iterations, initial=start, desc=f"train {meta['robot']} (isaaclab)", disable=not progress)
    log.info("starting the Isaac Lab worker: %s (log: %s)", " ".join(cmd), log_path)
    with log_path.open("ab") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    follower = _Follower(proc, files, log_path, bar, on_iteration)
    try:
        follower.follow(timeout_s, stall_timeout_s, cancel, cancel_grace_s)
    except BaseException:
        follower.stop(cancel_grace_s)
        raise
    finally:
        bar.close()
    return run


def _is_set(cancel: threading.Event | CancelCheck | None) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())


class _Follower:
    """Follows one worker process: relays its progress, enforces timeouts, stops it."""

    def __init__(
        self,
        proc: subprocess.Popen,
        files: dict[str, Path],
        log_path: Path,
        bar: Any,
        on_iteration: IterationCallback | None,
    ) -> None:
        self.proc, self.files, self.log_path, self.bar, self.on_iteration = proc, files, log_path, bar, on_iteration
        self.reader = ProgressReader(files["progress"])
        self.phase = "starting"
        self.iteration: int | None = None

    def follow(
        self,
        timeout_s: float | None,
        stall_timeout_s: float,
        cancel: threading.Event | CancelCheck | None,
        cancel_grace_s: float,
    ) -> None:
        t0 = last = time.monotonic()
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
                self._finish(code)
                return
            now = time.monotonic()
            if _is_set(cancel):
                self.stop(cancel_grace_s)
                raise IsaacLabCancelledError(f"Isaac Lab training cancelled {self._where()}; checkpoints are kept.")
            if timeout_s is not None and now - t0 > timeout_s:
                self.stop(cancel_grace_s)
                raise IsaacLabTimeoutError(
                    f"Isaac Lab training ran past its {timeout_s:.0f} s timeout {self._where()} and was stopped; "
                    f"resume it with more time (checkpoints are kept). Log: {self.log_path}"
                )
            if now - last > stall_timeout_s:
                self.stop(cancel_grace_s)
                raise IsaacLabTimeoutError(
                    f"The Isaac Lab worker reported nothing for {stall_timeout_s:.0f} s {self._where()} and was "
                    f"stopped. Log: {self.log_path}"
                )
            time.sleep(POLL_S)

    def _handle(self, ev: dict[str, Any]) -> None:
        kind = ev.get("event")
        if kind == "phase":
            self.phase = str(ev.get("phase"))
            log.info("isaaclab worker: %s", self.phase)
        elif kind == "iteration":
            self.iteration = int(ev["iteration"])
            rec = ev.get("record", {})
            if rec.get("mean_episode_return") is not None:
                self.bar.set_postfix(
                    ret=f"{rec['mean_episode_return']:.2f}", ep_s=f"{rec.get('mean_episode_length_s') or 0:.1f}"
                )
            self.bar.update(1)
            if self.on_iteration is not None:
                self.on_iteration(self.iteration, rec)

    def _where(self) -> str:
        return f"during {self.phase}" + (f" (after iteration {self.iteration})" if self.iteration is not None else "")

    def _finish(self, code: int) -> None:
        try:
            result = WorkerResult.read(self.files["result"])
        except ProtocolError:
            signame = ""
            if code < 0:
                with contextlib.suppress(ValueError):
                    signame = f" (signal {signal.Signals(-code).name})"
            raise IsaacLabWorkerError(
                f"The Isaac Lab worker exited with code {code}{signame} {self._where()} without a result. "
                f"Last lines of {self.log_path}:\n{_tail(self.log_path)}",
                kind="died",
                log_path=self.log_path,
            ) from None
        if result.status == "done":
            log.info("isaaclab worker: done (%s)", result.timings)
            return
        if result.status == "cancelled":
            raise IsaacLabCancelledError(f"Isaac Lab training cancelled {self._where()}; checkpoints are kept.")
        if result.error_kind == "CheckpointError":
            raise CheckpointError(result.message)
        raise IsaacLabWorkerError(
            f"Isaac Lab training failed {self._where()}: {result.message}. Log: {self.log_path}",
            kind=result.error_kind,
            log_path=self.log_path,
        )

    def stop(self, grace_s: float) -> None:
        """Ask the worker to stop (cancel file), then SIGTERM, then SIGKILL its process group.

        Waits ``grace_s`` after the cancel file and after SIGTERM.
        """
        if self.proc.poll() is not None:
            return
        self.files["cancel"].touch()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace_s)
            return
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
            log.warning("isaaclab worker pid %d did not stop; sending %s", self.proc.pid, sig.name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=wait_s)
                return


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
