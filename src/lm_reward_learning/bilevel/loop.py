"""The bi-level loop, as in the paper's figure (Mahesheka et al., arXiv 2410.09286, Fig. 1).

    expert video ─┐
                  ├─► upper level: feedback (VLM / human / motion analyser) ─► lower level: reward update
    robot video ──┘        ▲                                                     (LLM / rules editor)
                           └──────────── RL (rsl-rl PPO) ◄── validated reward program ◄──┘

Iteration 0 trains the initial reward program. Each iteration k = 1..K then renders the current
policy's rollout, asks for feedback, synthesises M candidate programs (validated, with retries),
trains each (warm-started from the current policy) and keeps the best by the objective score. At the
end the best policy is exported to ONNX and the HTML report is written. Every step is stored and
skipped on ``--resume`` (:mod:`lm_reward_learning.bilevel.steps`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lm_reward_learning.bilevel import steps
from lm_reward_learning.bilevel.config import LearnConfig
from lm_reward_learning.bilevel.protocols import FeedbackBackend, SynthesisBackend
from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.errors import LmrlError, RewardRuntimeError
from lm_reward_learning.io import atomic_write_text

if TYPE_CHECKING:
    from lm_reward_learning.parallel import Executor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LearnResult:
    """What ``lmrl learn`` produced.

    Attributes:
        store: The learn-run directory.
        best: The best candidate over all iterations.
        onnx_path: The exported policy.
        report_path: The HTML report.
    """

    store: LearnStore
    best: steps.Candidate
    onnx_path: Path
    report_path: Path


def learn(
    cfg: LearnConfig,
    store: LearnStore,
    feedback: FeedbackBackend | None,
    synthesis: SynthesisBackend,
    *,
    policies_root: Path = Path("policies"),
    progress: bool = True,
    expert_video: steps.ExpertVideo | None = None,
    executor: Executor | None = None,
) -> LearnResult:
    """Run (or resume) the loop described in the module docstring.

    Args:
        cfg: The loop configuration.
        store: The learn-run directory (new or being resumed).
        feedback: Upper-level backend (None in Eureka mode).
        synthesis: Lower-level backend.
        policies_root: Where the best policy is exported.
        progress: Progress bars on the terminal.
        expert_video: The expert video already loaded by :func:`~.steps.load_expert` (the CLI checks
            it before making the run directory); None loads it here.
        executor: Where iterations 1..K train their candidates, from :func:`candidate_executor` (the CLI
            opens it before making the run directory, so an unreachable Ray cluster fails first); None
            opens ``candidate_executor(cfg)`` here, before iteration 0 trains.

    Raises:
        lm_reward_learning.errors.LmrlError: when a step cannot go on (unreadable video, an endpoint
            that refuses or times out, ...); everything completed so far stays in ``store``.
    """
    with contextlib.ExitStack() as stack:
        if executor is None:  # connect (Ray) now: a bad cluster address fails before any training
            executor = stack.enter_context(candidate_executor(cfg))
        expert = steps.prepare_expert(cfg, store, expert_video) if cfg.mode == "bilevel" else None
        initial = steps.initial_program(cfg).source
        current = best = steps.train_candidate(cfg, store, 0, 0, initial, None, expert, progress=progress)
        store.update_status(status="running", best=[0, 0], best_score=best.score)
        for k in range(1, cfg.iterations + 1):
            t0 = time.perf_counter()
            log.info("iteration %d/%d: current policy scores %.3f", k, cfg.iterations, current.value)
            fb = None
            if cfg.mode == "bilevel":
                fb = steps.visual_feedback(cfg, store, k, feedback, current, expert)  # upper level
            sources = [steps.update_reward(cfg, store, k, m, synthesis, fb, current) for m in range(cfg.candidates)]
            candidates, failed = train_all(cfg, store, k, sources, current, expert, executor, progress)  # RL
            if candidates:
                current = max(candidates, key=lambda c: c.value)  # keep the best candidate
            else:  # every reward program failed in training: go on with the previous one, as after validation
                log.warning("iteration %d: every candidate's reward program failed; keeping the previous one", k)
            steps.write_summary(store, k, current, candidates, time.perf_counter() - t0, failed)
            if current.value >= best.value:
                best = current
            store.update_status(iterations_done=k, best=[best.iteration, best.index], best_score=best.score)

    if cfg.randomization == "propose":  # DrEureka: sweep, proposed ranges, retrain; export the retrained one
        from lm_reward_learning.bilevel.randomization_proposal import propose_and_retrain

        best = propose_and_retrain(cfg, store, best, progress=progress)
    onnx_path = export_best(store, best, policies_root)
    store.update_status(status="done", onnx=str(onnx_path), report=str(store.path / "report.html"))
    report_path = write_report(store)
    return LearnResult(store, best, onnx_path, report_path)


@contextlib.contextmanager
def candidate_executor(cfg: LearnConfig) -> Iterator[Executor | None]:
    """The started executor of ``cfg.parallel``, closed at the end; None: candidates train one after the
    other in this process (``parallel: none``, or one candidate, and no ``candidate_timeout_s``).

    With ``candidate_timeout_s`` and ``parallel: none`` the candidates train one at a time in a worker
    process, which the limit can stop. A Ray executor connects here (bounded by
    :data:`~lm_reward_learning.parallel.executors.RAY_CONNECT_TIMEOUT_S`).

    Raises:
        lm_reward_learning.parallel.executors.RayClusterError: ``ray_address`` names a cluster that does
            not answer.
    """
    if cfg.candidate_timeout_s is None and (cfg.parallel == "none" or cfg.candidates == 1):
        yield None
        return
    from lm_reward_learning.parallel import Resources, make_executor

    executor = make_executor(
        "local" if cfg.parallel == "none" else cfg.parallel,
        address=cfg.ray_address,
        max_workers=1 if cfg.parallel == "none" else None,
        resources=Resources(cfg.candidate_cpus, cfg.candidate_gpus),
        timeout_s=cfg.candidate_timeout_s,
    )
    try:
        executor.start()
        yield executor
    finally:
        executor.close()


def train_all(
    cfg: LearnConfig,
    store: LearnStore,
    k: int,
    sources: list[str],
    warm: steps.Candidate,
    expert: steps.Expert | None,
    executor: Executor | None,
    progress: bool,
) -> tuple[list[steps.Candidate], list[int]]:
    """Train iteration ``k``'s candidates here or on ``executor``.

    A candidate whose reward program fails during training
    (:class:`~lm_reward_learning.errors.RewardRuntimeError`: time, memory, sandbox, output, exception)
    is recorded in ``iter_KK/cand_M/failed.json`` and skipped, like one that fails validation.

    Returns:
        ``(trained candidates, indices of the failed ones)``; the list of trained ones is empty only
        when every failure was the reward program's.

    Raises:
        LmrlError: if every candidate failed and at least one failure was not its reward program's (a
            worker died, timed out, ...: resume with ``--resume``).
    """
    from lm_reward_learning.parallel import train_candidates
    from lm_reward_learning.parallel.candidates import FailedCandidate, candidate_jobs, record_failure

    if executor is None:
        results: list[steps.Candidate | FailedCandidate] = []
        for job in candidate_jobs(cfg, store, k, sources, warm, expert):
            try:
                results.append(
                    steps.train_candidate(cfg, store, k, job.index, job.source, warm, expert, progress=progress)
                )
            except RewardRuntimeError as exc:
                results.append(record_failure(job, exc))
    else:
        results = train_candidates(cfg, store, k, sources, warm, expert, executor)
    trained = [c for c in results if isinstance(c, steps.Candidate)]
    failed = [c for c in results if not isinstance(c, steps.Candidate)]
    if not trained and any(c.error_kind != "RewardRuntimeError" for c in failed):
        reasons = "; ".join(f"candidate {c.index}: {c.failure} ({c.message})" for c in failed)
        raise LmrlError(f"iteration {k}: every candidate failed to train: {reasons}. Resume with --resume.")
    return trained, [c.index for c in failed]


def export_best(store: LearnStore, best: steps.Candidate, policies_root: Path) -> Path:
    """Export the best candidate's policy to ``policies_root/<robot>/<learn run name>/``."""
    from lm_reward_learning.export import export_run
    from lm_reward_learning.training.run_dir import RunDir

    res = export_run(RunDir.open(best.run), policies_root, name=store.path.name)
    return res.onnx_path


def write_report(store: LearnStore) -> Path:
    """Write ``report.html`` for the store and return its path."""
    from lm_reward_learning.report import render_report

    path = store.path / "report.html"
    atomic_write_text(path, render_report(store))
    return path
