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

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from lm_reward_learning.bilevel import steps
from lm_reward_learning.bilevel.config import LearnConfig
from lm_reward_learning.bilevel.protocols import FeedbackBackend, SynthesisBackend
from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.io import atomic_write_text

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
) -> LearnResult:
    """Run (or resume) the loop described in the module docstring.

    Args:
        cfg: The loop configuration.
        store: The learn-run directory (new or being resumed).
        feedback: Upper-level backend (None in Eureka mode).
        synthesis: Lower-level backend.
        policies_root: Where the best policy is exported.
        progress: Progress bars on the terminal.

    Raises:
        lm_reward_learning.errors.LmrlError: when a step cannot go on (unreadable video, an endpoint
            that refuses or times out, ...); everything completed so far stays in ``store``.
    """
    expert = steps.prepare_expert(cfg, store) if cfg.mode == "bilevel" else None
    initial = steps.initial_program(cfg).source
    current = best = steps.train_candidate(cfg, store, 0, 0, initial, None, expert, progress=progress)
    store.update_status(status="running", best=[0, 0], best_score=best.score)

    for k in range(1, cfg.iterations + 1):
        t0 = time.perf_counter()
        log.info("iteration %d/%d: current policy scores %.3f", k, cfg.iterations, current.value)
        fb = None
        if cfg.mode == "bilevel":
            fb = steps.visual_feedback(cfg, store, k, feedback, current, expert)  # upper level
        candidates = []
        for m in range(cfg.candidates):
            source = steps.update_reward(cfg, store, k, m, synthesis, fb, current)  # lower level
            candidates.append(steps.train_candidate(cfg, store, k, m, source, current, expert, progress=progress))
        current = max(candidates, key=lambda c: c.value)  # keep the best candidate
        steps.write_summary(store, k, current, candidates, time.perf_counter() - t0)
        if current.value >= best.value:
            best = current
        store.update_status(iterations_done=k, best=[best.iteration, best.index], best_score=best.score)

    onnx_path = export_best(store, best, policies_root)
    report_path = write_report(store)
    store.update_status(status="done", onnx=str(onnx_path), report=str(report_path))
    return LearnResult(store, best, onnx_path, report_path)


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
