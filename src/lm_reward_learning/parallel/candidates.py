"""Train the M reward candidates of one learn iteration in parallel (Ray or local processes).

:func:`train_candidates` is the learn loop's integration point: it dispatches one task per candidate
(or per candidate × seed), each running :func:`lm_reward_learning.bilevel.steps.train_candidate` in a
worker, and returns one typed result per task, in order: a
:class:`~lm_reward_learning.bilevel.steps.Candidate` (trained, rolled out, scored, written to the learn
store exactly as in the sequential loop) or a :class:`FailedCandidate` (the task raised, or its worker
died or timed out). A failure never sinks the iteration: it is logged, written to
``iter_KK/cand_M/failed.json`` (with the worker it ran on and, for a timeout, the limit) and returned for
the loop to skip; the candidate's training run, if it got that far, is marked ``status: failed`` in its
``run.yaml`` with the reason (a killed worker cannot do that itself).

Every worker writes ``iter_KK/cand_M/worker.json`` (pid, host, start time) when it starts, so a person
(or a test) can see where each candidate trains.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_reward_learning.bilevel.config import LearnConfig
from lm_reward_learning.bilevel.steps import Candidate, Expert
from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.errors import RewardRuntimeError
from lm_reward_learning.io import atomic_write_json
from lm_reward_learning.parallel.executors import (
    Executor,
    LocalProcessExecutor,
    RayExecutor,
    Resources,
    TaskResult,
    local_worker_name,
)

log = logging.getLogger(__name__)

#: ``run.yaml`` statuses :func:`mark_run_failed` leaves alone.
TERMINAL_RUN_STATUSES = ("done", "invalid_reward", "failed")


@dataclass(frozen=True)
class CandidateJob:
    """One candidate training, as sent to a worker (picklable).

    Attributes:
        cfg: The learn configuration (``seed`` already set for this job).
        store: The learn-run store.
        iteration: Loop iteration ``k``.
        index: Candidate index ``m`` (its directory ``iter_KK/cand_M``).
        source: Reward program source.
        warm: The candidate to warm-start from, or None.
        expert: The processed expert clip, or None (Eureka mode).
    """

    cfg: LearnConfig
    store: LearnStore
    iteration: int
    index: int
    source: str
    warm: Candidate | None
    expert: Expert | None


@dataclass(frozen=True)
class FailedCandidate:
    """A candidate whose training did not finish.

    Attributes:
        iteration: Loop iteration.
        index: Candidate index.
        source: Its reward program.
        seed: The seed it trained with.
        failure: ``error`` (it raised), ``died`` (its worker ended without an answer) or ``timeout``.
        error_kind: Exception class name (``WorkerDied``, ``WorkerCrashedError``, ``Timeout``, ...).
        message: What went wrong.
        traceback: The worker's traceback, when there is one.
        run: Its (partial) training run directory.
        worker: Where it ran (``pid 123 on host``, ``ray node … worker … pid 123 on host``).
        wall_s: Seconds until the failure.
        time_limit_s: The per-candidate limit that stopped it (``timeout`` only), s.
    """

    iteration: int
    index: int
    source: str
    seed: int
    failure: str
    error_kind: str
    message: str
    traceback: str
    run: Path
    worker: str
    wall_s: float
    time_limit_s: float | None = None

    @property
    def value(self) -> float:
        """Minus infinity: a failed candidate is never the best."""
        return float("-inf")


CandidateOutcome = Candidate | FailedCandidate


def run_candidate(job: CandidateJob) -> Candidate:
    """Worker side: record where it runs, then :func:`~lm_reward_learning.bilevel.steps.train_candidate`."""
    from lm_reward_learning.bilevel import steps

    d = job.store.cand_dir(job.iteration, job.index)
    atomic_write_json(
        d / "worker.json",
        {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "seed": job.cfg.seed},
    )
    return steps.train_candidate(
        job.cfg, job.store, job.iteration, job.index, job.source, job.warm, job.expert, progress=False
    )


def candidate_jobs(
    cfg: LearnConfig,
    store: LearnStore,
    k: int,
    sources: Sequence[str],
    warm: Candidate | None,
    expert: Expert | None,
    seeds: Sequence[int] | None = None,
) -> list[CandidateJob]:
    """One job per source, or per (source, seed) pair: index ``m = i * len(seeds) + j``."""
    seeds = [cfg.seed] if not seeds else list(seeds)
    return [
        CandidateJob(dataclasses.replace(cfg, seed=int(seed)), store, k, i * len(seeds) + j, src, warm, expert)
        for i, src in enumerate(sources)
        for j, seed in enumerate(seeds)
    ]


def make_executor(
    kind: str = "local",
    *,
    address: str | None = None,
    max_workers: int | None = None,
    resources: Resources | None = None,
    timeout_s: float | None = None,
    withheld_env: Sequence[str] = (),
) -> Executor:
    """Build an executor by name.

    Args:
        kind: ``local`` (process pool, the default without Ray) or ``ray``.
        address: Ray cluster address (``auto``, ``ray://head:10001``); None starts a local instance.
        max_workers: Local: concurrent tasks. Ray: CPUs of a local instance.
        resources: Per-task CPUs / GPUs.
        timeout_s: Per-task limit, s.
        withheld_env: Environment variables the workers must not inherit (endpoints' ``api_key_env``;
            secret-looking names are always withheld).

    Raises:
        ValueError: an unknown ``kind``.
        lm_reward_learning.errors.LmrlError: ``ray`` without the ``ray`` package installed.
    """
    res = resources or Resources()
    env = {k: v for k in ("MUJOCO_GL", "PYOPENGL_PLATFORM") if (v := os.environ.get(k))}
    if kind == "local":
        return LocalProcessExecutor(max_workers, resources=res, timeout_s=timeout_s, env=env, withheld_env=withheld_env)
    if kind == "ray":
        try:
            import ray  # noqa: F401
        except ImportError as exc:
            from lm_reward_learning.errors import LmrlError

            raise LmrlError(
                "Parallel candidates on Ray need the ray package: pip install 'lm_reward_learning[ray]' "
                "(or pip install ray), or use the local process pool."
            ) from exc
        return RayExecutor(
            address=address, num_cpus=max_workers, resources=res, timeout_s=timeout_s, env=env,
            withheld_env=tuple(withheld_env),
        )  # fmt: skip
    raise ValueError(f"unknown executor {kind!r}; choose local or ray")


def train_candidates(
    cfg: LearnConfig,
    store: LearnStore,
    k: int,
    sources: Sequence[str],
    warm: Candidate | None,
    expert: Expert | None,
    executor: Executor | None = None,
    *,
    seeds: Sequence[int] | None = None,
) -> list[CandidateOutcome]:
    """Train the candidates of iteration ``k`` in parallel; see the module docstring.

    Args:
        cfg: Learn configuration.
        store: Learn-run store (every candidate lands in ``iter_KK/cand_M``).
        k: Loop iteration.
        sources: Reward program per candidate (already synthesised and validated).
        warm: Candidate to warm-start from (the current policy), or None.
        expert: Processed expert clip, or None.
        executor: Where to run; default :class:`LocalProcessExecutor` sized to the machine.
        seeds: Train every source with each of these seeds (default: ``cfg.seed`` only).

    Returns:
        One :class:`Candidate` or :class:`FailedCandidate` per job, in job order.
    """
    jobs = candidate_jobs(cfg, store, k, sources, warm, expert, seeds)
    ex = executor or make_executor("local", timeout_s=cfg.candidate_timeout_s)
    log.info("iteration %d: training %d candidates on the %s executor", k, len(jobs), ex.name)
    results = ex.map(run_candidate, jobs)
    return [_outcome(job, res, ex.timeout_s) for job, res in zip(jobs, results, strict=True)]


def record_failure(job: CandidateJob, exc: RewardRuntimeError) -> FailedCandidate:
    """A candidate trained in this process whose reward program failed: ``failed.json`` like a worker's."""
    res = TaskResult(
        job.index, False, failure="error", error_kind=type(exc).__name__, message=str(exc),
        worker=local_worker_name(os.getpid()),
    )  # fmt: skip
    return _outcome(job, res, None)


def _outcome(job: CandidateJob, res: TaskResult, time_limit_s: float | None) -> Any:
    d = job.store.cand_dir(job.iteration, job.index)
    if res.ok:
        (d / "failed.json").unlink(missing_ok=True)
        return res.value
    failed = FailedCandidate(
        iteration=job.iteration,
        index=job.index,
        source=job.source,
        seed=job.cfg.seed,
        failure=res.failure,
        error_kind=res.error_kind,
        message=res.message,
        traceback=res.traceback,
        run=d / "train",
        worker=res.worker or _worker_from_file(d),
        wall_s=round(res.wall_s, 2),
        time_limit_s=time_limit_s if res.failure == "timeout" else None,
    )
    record = {k: v for k, v in dataclasses.asdict(failed).items() if k != "source"}
    record["run"] = str(failed.run)
    reward_failure = _reward_failure(failed.run)
    if reward_failure:  # the reward program failed in training: its kind, line and call, from run.yaml
        record["reward_failure"] = reward_failure
    atomic_write_json(d / "failed.json", record)
    mark_run_failed(failed)
    log.warning(
        "iteration %d candidate %d failed (%s, %s) on %s: %s",
        *(job.iteration, job.index, res.failure, res.error_kind, failed.worker, res.message),
    )
    return failed


def _reward_failure(run: Path) -> dict[str, Any] | None:
    from lm_reward_learning.errors import RunDirError
    from lm_reward_learning.training.run_dir import RunDir

    try:
        failure = RunDir.open(run).meta().get("failure") if (run / "run.yaml").is_file() else None
    except RunDirError:
        return None
    return failure if RewardRuntimeError.is_failure(failure) else None


def _worker_from_file(d: Path) -> str:
    """The worker named by ``worker.json`` (written by the worker as it started), or why there is none."""
    try:
        w = json.loads((d / "worker.json").read_text())
        return f"pid {w['pid']} on {w['host']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown (the worker never started the candidate: no worker.json)"


def mark_run_failed(failed: FailedCandidate) -> None:
    """Give the candidate's training run a terminal ``run.yaml`` status after its worker failed.

    A worker that died or was stopped leaves ``status: training`` (or ``validated``) behind; this
    writes ``status: failed`` and a ``failure`` record (kind, error, message, worker, time limit). A run
    that finished (``done``) or whose program was rejected (``invalid_reward``) keeps its status.
    """
    from lm_reward_learning.errors import RunDirError
    from lm_reward_learning.training.run_dir import RunDir

    if not (failed.run / "run.yaml").is_file():
        return  # it failed before its run directory was made
    try:
        run = RunDir.open(failed.run)
        if run.meta().get("status") in TERMINAL_RUN_STATUSES:
            return
        run.write_meta(
            status="failed",
            failure={
                "kind": failed.failure,
                "error_kind": failed.error_kind,
                "message": failed.message,
                "worker": failed.worker,
                "time_limit_s": failed.time_limit_s,
            },
        )
    except RunDirError as exc:  # a damaged run.yaml: failed.json still says what happened
        log.warning("cannot mark %s as failed: %s", failed.run, exc)
