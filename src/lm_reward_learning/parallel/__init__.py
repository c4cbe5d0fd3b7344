"""Parallel training of reward candidates: Ray tasks, or a local process pool with the same semantics.

* :mod:`~.executors`: :class:`~.executors.LocalProcessExecutor` and :class:`~.executors.RayExecutor`
  (typed :class:`~.executors.TaskResult` per task; a task that raises, dies or times out fails alone).
* :mod:`~.candidates`: :func:`~.candidates.train_candidates`, the learn loop's entry point, returning a
  ``Candidate`` or a :class:`~.candidates.FailedCandidate` per candidate.

``ray`` is optional (``pip install 'lm_reward_learning[ray]'``) and imported only when a Ray executor
runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CandidateJob": "candidates",
    "FailedCandidate": "candidates",
    "candidate_jobs": "candidates",
    "make_executor": "candidates",
    "mark_run_failed": "candidates",
    "run_candidate": "candidates",
    "train_candidates": "candidates",
    "Executor": "executors",
    "LocalProcessExecutor": "executors",
    "RayClusterError": "executors",
    "RayExecutor": "executors",
    "Resources": "executors",
    "TaskResult": "executors",
    "probe_ray_cluster": "executors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy: a spawned worker that only needs the executors does not import the learn loop (torch, ...).
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
