"""The entry point both training workers share (MuJoCo and Isaac Lab): read, train, always answer.

:func:`worker_main` parses ``--request``, runs the backend's ``train`` and turns every ending into a
result file and an exit code, so the launcher never has to guess: 0 done, 1 error, 2 bad request,
3 cancelled, 4 the reward program failed (``run.yaml``: ``status: failed``, ``failure``). Pure
Python: it also runs in the Isaac Lab venv.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from lm_reward_learning import isolation
from lm_reward_learning.errors import LmrlError, RewardRuntimeError
from lm_reward_learning.training.run_dir import RunDir
from lm_reward_learning.training.worker_protocol import (
    ProgressWriter,
    ProtocolError,
    WorkerResult,
    record_reward_failure,
)

log = logging.getLogger(__name__)

EXIT_DONE, EXIT_ERROR, EXIT_BAD_REQUEST, EXIT_CANCELLED, EXIT_REWARD_FAILED = 0, 1, 2, 3, 4


class CancelledError(Exception):
    """The launcher asked the worker to stop (the cancel file exists)."""


class Request(Protocol):
    """What :func:`worker_main` needs of a request."""

    run_dir: str
    progress_file: str
    result_file: str


R = TypeVar("R", bound=Request)
TrainFn = Callable[[R, ProgressWriter, dict[str, Any]], WorkerResult]


def worker_main(
    argv: list[str] | None,
    *,
    label: str,
    read: Callable[[Path], R],
    train: TrainFn[R],
    versions: Callable[[], dict[str, str]],
) -> int:
    """Run one worker to its end; see the module docstring for the exit codes.

    Args:
        argv: Command-line arguments (``--request REQ``).
        label: Log tag (``train-worker``, ``isaaclab-worker``).
        read: Reads the request file (raises :class:`ProtocolError`).
        train: ``train(req, progress, sandbox)``: trains and returns the ``done`` result; fills
            ``sandbox`` with the report of :func:`lm_reward_learning.isolation.seal`.
        versions: Extra fields of the ``started`` event.
    """
    p = argparse.ArgumentParser(description=f"{label} of lm_reward_learning.")
    p.add_argument("--request", type=Path, required=True, help="request JSON written by the launcher")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s %(name)s [{label}]: %(message)s")
    try:
        req = read(args.request)
    except ProtocolError as exc:
        log.error("%s", exc)
        return EXIT_BAD_REQUEST
    progress = ProgressWriter(Path(req.progress_file))
    t0 = time.perf_counter()
    sandbox: dict[str, Any] = isolation.report()
    try:
        progress.emit("started", pid=os.getpid(), python=sys.version.split()[0], **versions())
        result = train(req, progress, sandbox)
        code = EXIT_DONE
    except CancelledError:
        result = WorkerResult(status="cancelled", iterations_done=_iterations_done(req))
        code = EXIT_CANCELLED
    except RewardRuntimeError as exc:
        log.error("%s", exc)
        record_reward_failure(exc, Path(req.run_dir), Path(req.result_file), Path(req.progress_file), sandbox)
        return EXIT_REWARD_FAILED
    except LmrlError as exc:
        log.error("%s", exc)
        result = WorkerResult("error", _iterations_done(req), type(exc).__name__, str(exc))
        code = EXIT_ERROR
    except Exception as exc:  # a bug or a simulator failure: report it, never die silently
        log.error("training failed:\n%s", traceback.format_exc())
        result = WorkerResult("error", _iterations_done(req), type(exc).__name__, f"{type(exc).__name__}: {exc}")
        code = EXIT_ERROR
    if not result.wall_s:
        result = WorkerResult(**{**result.__dict__, "wall_s": round(time.perf_counter() - t0, 2)})
    result.write(Path(req.result_file))
    progress.emit("finished", status=result.status)
    return code


class IterationRecorder:
    """What both workers do after every PPO iteration (rsl-rl's ``logger.on_iteration``).

    Appends the ``reward_stats.json`` record (iteration, wall time, env steps, rsl-rl's collection and
    update times ``collect_s`` / ``learn_s``, mean episode return and length, blow-ups, per-term
    statistics), writes ``checkpoints/latest.pt`` and ``run.yaml`` (atomically: a crash loses at most
    this iteration), emits the progress event, and raises
    :class:`CancelledError` when the launcher's cancel file exists.

    Args:
        run: The run directory.
        runner: The rsl-rl runner (its ``logger`` buffers, ``save``).
        progress: The progress file.
        total: Total iterations of the run.
        env_steps: Env steps per iteration (``num_steps_per_env * num_envs``).
        step_dt: Policy period, s (episode lengths in the record are in seconds).
        records: The records of the iterations before this training (resume).
        cancel_file: The launcher's cancel file.
        pop_stats: Returns ``(blow-ups, {term: {mean, min, max}})`` since the last call.
    """

    def __init__(
        self,
        run: RunDir,
        runner: Any,
        progress: ProgressWriter,
        *,
        total: int,
        env_steps: int,
        step_dt: float,
        records: list[dict[str, Any]],
        cancel_file: Path,
        pop_stats: Callable[[], tuple[int, dict[str, Any]]],
    ) -> None:
        self.run, self.runner, self.progress = run, runner, progress
        self.total, self.env_steps, self.step_dt = total, env_steps, step_dt
        self.records, self.cancel_file, self.pop_stats = records, cancel_file, pop_stats
        self.t_last = time.perf_counter()

    def __call__(self, it: int) -> None:
        import numpy as np

        logger = self.runner.logger
        now = time.perf_counter()
        explosions, terms = self.pop_stats()
        rec: dict[str, Any] = {
            "iteration": it,
            "wall_s": round(now - self.t_last, 3),
            "env_steps": self.env_steps,
            # rsl-rl's own split of the iteration: rollout collection (env + policy), PPO update
            "collect_s": round(getattr(logger, "times", (0.0, 0.0))[0], 3),
            "learn_s": round(getattr(logger, "times", (0.0, 0.0))[1], 3),
            "mean_episode_return": float(np.mean(logger.rewbuffer)) if logger.rewbuffer else None,
            "mean_episode_length_s": float(np.mean(logger.lenbuffer)) * self.step_dt if logger.lenbuffer else None,
            "explosions": explosions,
            "terms": terms,
        }
        self.t_last = now
        self.records.append(rec)
        self.run.write_reward_stats(self.records)
        self.runner.save("latest.pt")
        self.run.write_meta(iterations_done=it + 1)
        self.progress.emit("iteration", iteration=it, total=self.total, record=rec)
        if self.cancel_file.exists():
            raise CancelledError


def _iterations_done(req: Request) -> int:
    try:
        return int(RunDir.open(Path(req.run_dir)).meta().get("iterations_done", 0))
    except LmrlError:
        return 0
