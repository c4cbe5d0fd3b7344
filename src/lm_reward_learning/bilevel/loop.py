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

:func:`run_loop` is that loop, once, for every front end: its steps (feedback, synthesis, training)
are a :class:`LoopSteps`, done in this process by ``lmrl learn`` (:class:`LocalSteps`) or by other
nodes for ``session_node`` (:class:`lm_reward_learning.ros.session_logic.RosSteps`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lm_reward_learning.bilevel import steps
from lm_reward_learning.bilevel.budget import Budget, BudgetExceededError
from lm_reward_learning.bilevel.config import LearnConfig, level_endpoint
from lm_reward_learning.bilevel.exchanges import spend_text
from lm_reward_learning.bilevel.protocols import Feedback, FeedbackBackend, SynthesisBackend
from lm_reward_learning.bilevel.store import LearnStore, read_json
from lm_reward_learning.bilevel.summary import write_learn_summary
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


@dataclass(frozen=True)
class Progress:
    """One progress report of the loop (the ROS session publishes it as ``LearnReward`` feedback).

    Attributes:
        iteration: Loop iteration (0 = the initial program).
        iterations_total: Loop iterations K.
        candidate: Candidate index.
        phase: ``expert``, ``training``, ``scoring``, ``feedback``, ``synthesis``, ``export`` (and the
            trainer's own phases while training).
        metrics: Named values with units, ``{name: (value, unit)}``.
    """

    iteration: int
    iterations_total: int
    candidate: int
    phase: str
    metrics: dict[str, tuple[float, str]] = field(default_factory=dict)


Report = Callable[[Progress], None]


def _quiet(_p: Progress) -> None:
    pass


class LoopSteps(Protocol):
    """The steps the loop delegates: here in one process (:class:`LocalSteps`), or to other ROS nodes
    (:class:`lm_reward_learning.ros.session_logic.RosSteps`). Each writes its outputs into the learn
    store exactly as the other does, so runs made either way resume each other."""

    def feedback(self, k: int, current: steps.Candidate, expert: steps.Expert | None) -> Feedback:
        """Upper level of iteration ``k`` on the current policy (writes ``iter_KK/feedback.json``)."""
        ...

    def synthesize(self, k: int, m: int, feedback: Feedback | None, current: steps.Candidate) -> str:
        """Lower level: candidate ``m`` of iteration ``k``, validated (writes ``iter_KK/cand_M/...``)."""
        ...

    def train(
        self, k: int, sources: list[str], warm: steps.Candidate | None, expert: steps.Expert | None, report: Report
    ) -> tuple[list[steps.Candidate], list[int]]:
        """RL: train, roll out and score iteration ``k``'s candidates (``iter_KK/cand_M/train``, ``score.json``).

        Returns:
            ``(trained candidates, indices of those whose reward program failed in training)``.
        """
        ...


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
    """Run (or resume) the loop in this process (``lmrl learn``): :func:`run_loop` with :class:`LocalSteps`.

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
        local = LocalSteps(cfg, store, feedback, synthesis, executor, progress)
        return run_loop(cfg, store, local, policies_root=policies_root, expert_video=expert_video)


def run_loop(
    cfg: LearnConfig,
    store: LearnStore,
    do: LoopSteps,
    *,
    policies_root: Path,
    expert_video: steps.ExpertVideo | None = None,
    report: Report = _quiet,
) -> LearnResult:
    """The loop of the module docstring, with its steps done by ``do``; every stored step is skipped.

    Raises:
        lm_reward_learning.errors.LmrlError: a step cannot go on; ``status.json`` then says ``failed``
            with the error, and everything completed stays in ``store`` for a resume.
    """
    try:
        return _loop(cfg, store, do, policies_root, expert_video, report)
    except BudgetExceededError as exc:  # a clean stop before a call: resumable with a higher limit
        store.update_status(status="stopped", stop_reason=str(exc))
        write_report(store)
        raise
    except LmrlError as exc:
        store.update_status(status="failed", error=str(exc) or type(exc).__name__)
        raise


def _loop(
    cfg: LearnConfig,
    store: LearnStore,
    do: LoopSteps,
    policies_root: Path,
    expert_video: steps.ExpertVideo | None,
    report: Report,
) -> LearnResult:
    total = cfg.iterations
    report(Progress(0, total, 0, "expert"))
    expert = steps.prepare_expert(cfg, store, expert_video) if cfg.mode == "bilevel" else None
    (current,), _ = do.train(0, [steps.initial_program(cfg).source], None, expert, report)
    best = current
    store.update_status(status="running", best=[0, 0], best_score=best.score)
    for k in range(1, total + 1):
        t0 = time.perf_counter()
        log.info(
            "iteration %d/%d: current policy scores %.3f; %s",
            k, total, current.value, spend_text(store.path, Budget(cfg.max_cost_usd, cfg.max_total_tokens)),
        )  # fmt: skip
        fb = None
        if cfg.mode == "bilevel":  # upper level
            saved = read_json(store.iter_dir(k) / "feedback.json")
            if saved is None:
                report(Progress(k, total, 0, "feedback"))
            fb = Feedback.from_dict(saved) if saved is not None else do.feedback(k, current, expert)
        sources = []
        for m in range(cfg.candidates):  # lower level
            d = store.cand_dir(k, m)
            if read_json(d / "synthesis.json") is None:
                report(Progress(k, total, m, "synthesis"))
                sources.append(do.synthesize(k, m, fb, current))
            else:
                sources.append((d / "program.py").read_text())
        candidates, failed = do.train(k, sources, current, expert, report)  # RL
        if candidates:
            current = max(candidates, key=lambda c: c.value)  # keep the best candidate
        else:  # every reward program failed in training: go on with the previous one, as after validation
            log.warning("iteration %d: every candidate's reward program failed; keeping the previous one", k)
        steps.write_summary(store, k, current, candidates, time.perf_counter() - t0, failed)
        if current.value >= best.value:
            best = current
        store.update_status(iterations_done=k, best=[best.iteration, best.index], best_score=best.score)
    report(Progress(total, total, best.index, "export", {"best_score": (best.value, "1")}))
    if cfg.randomization == "propose":  # DrEureka: sweep, proposed ranges, retrain; export the retrained one
        from lm_reward_learning.bilevel.randomization_proposal import propose_and_retrain

        best = propose_and_retrain(cfg, store, best, progress=getattr(do, "progress", False))
    onnx_path = export_best(store, best, policies_root)
    store.update_status(status="done", onnx=str(onnx_path), report=str(store.path / "report.html"))
    report_path = write_report(store)
    write_learn_summary(store, onnx_path.parent)
    return LearnResult(store, best, onnx_path, report_path)


class LocalSteps:
    """:class:`LoopSteps` in this process: the backends' calls (:mod:`.steps`) and training here or on
    ``executor`` (local process pool, Ray).

    Args:
        cfg: The loop configuration.
        store: The learn store.
        feedback: Upper-level backend (None in Eureka mode).
        synthesis: Lower-level backend.
        executor: Where iterations 1..K train their candidates (None: one after the other here).
        progress: Progress bars on the terminal.
    """

    def __init__(
        self,
        cfg: LearnConfig,
        store: LearnStore,
        feedback: FeedbackBackend | None,
        synthesis: SynthesisBackend,
        executor: Executor | None = None,
        progress: bool = True,
    ) -> None:
        self.cfg, self.store, self.executor, self.progress = cfg, store, executor, progress
        self.feedback_backend, self.synthesis_backend = feedback, synthesis

    def feedback(self, k: int, current: steps.Candidate, expert: steps.Expert | None) -> Feedback:
        return steps.visual_feedback(self.cfg, self.store, k, self.feedback_backend, current, expert)

    def synthesize(self, k: int, m: int, feedback: Feedback | None, current: steps.Candidate) -> str:
        return steps.update_reward(self.cfg, self.store, k, m, self.synthesis_backend, feedback, current)

    def train(
        self, k: int, sources: list[str], warm: steps.Candidate | None, expert: steps.Expert | None, report: Report
    ) -> tuple[list[steps.Candidate], list[int]]:
        from lm_reward_learning.parallel import train_candidates

        cfg, store = self.cfg, self.store
        if self.executor is None or k == 0:

            def one(m: int, source: str) -> steps.Candidate:
                report(Progress(k, cfg.iterations, m, "training"))
                return steps.train_candidate(cfg, store, k, m, source, warm, expert, progress=self.progress)

            return train_each(cfg, store, k, sources, warm, expert, one)
        return split_outcomes(k, train_candidates(cfg, store, k, sources, warm, expert, self.executor))


def train_each(
    cfg: LearnConfig,
    store: LearnStore,
    k: int,
    sources: list[str],
    warm: steps.Candidate | None,
    expert: steps.Expert | None,
    one: Callable[[int, str], steps.Candidate],
) -> tuple[list[steps.Candidate], list[int]]:
    """Train iteration ``k``'s candidates one after the other with ``one(m, source)``.

    A candidate whose reward program fails during training
    (:class:`~lm_reward_learning.errors.RewardRuntimeError`: time, memory, sandbox, output, exception)
    is recorded in ``iter_KK/cand_M/failed.json`` and skipped, like one that fails validation.

    Raises:
        LmrlError: the initial program (iteration 0) failed: there is nothing to go on with.
    """
    from lm_reward_learning.parallel.candidates import candidate_jobs, record_failure

    results: list[Any] = []
    for job in candidate_jobs(cfg, store, k, sources, warm, expert):
        try:
            results.append(one(job.index, job.source))
        except RewardRuntimeError as exc:
            if k == 0:
                raise LmrlError(f"the initial reward program failed in training: {exc}") from exc
            results.append(record_failure(job, exc))
    return split_outcomes(k, results)


def split_outcomes(k: int, results: list[Any]) -> tuple[list[steps.Candidate], list[int]]:
    """``(trained candidates, failed indices)`` of an iteration's outcomes.

    Raises:
        LmrlError: every candidate failed and at least one failure was not its reward program's (a
            worker died, timed out, ...: resume with ``--resume``).
    """
    trained = [c for c in results if isinstance(c, steps.Candidate)]
    failed = [c for c in results if not isinstance(c, steps.Candidate)]
    if not trained and any(c.error_kind != "RewardRuntimeError" for c in failed):
        reasons = "; ".join(f"candidate {c.index}: {c.failure} ({c.message})" for c in failed)
        raise LmrlError(f"iteration {k}: every candidate failed to train: {reasons}. Resume with --resume.")
    return trained, [c.index for c in failed]


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
        withheld_env=tuple(level_endpoint(cfg, level).api_key_env for level in ("feedback", "synthesis")),
    )
    try:
        executor.start()
        yield executor
    finally:
        executor.close()


def export_best(store: LearnStore, best: steps.Candidate, policies_root: Path) -> Path:
    """Export the best candidate's policy to ``policies_root/<robot>/<learn run name>/``, with the
    loop's models, prompts, programs, seeds and exchanges beside it (:mod:`~.provenance`)."""
    import yaml

    from lm_reward_learning.bilevel.provenance import publish
    from lm_reward_learning.export import export_run
    from lm_reward_learning.io import atomic_write_yaml
    from lm_reward_learning.training.run_dir import RunDir

    res = export_run(RunDir.open(best.run), policies_root, name=store.path.name)
    out = res.onnx_path.parent
    written = yaml.safe_load((out / "provenance.yaml").read_text()) or {}
    atomic_write_yaml(out / "provenance.yaml", {**written, **publish(store, best.iteration, best.index, out)})
    return res.onnx_path


def write_report(store: LearnStore) -> Path:
    """Write ``report.html`` for the store and return its path."""
    from lm_reward_learning.report import render_report

    path = store.path / "report.html"
    atomic_write_text(path, render_report(store))
    return path
