"""The lower level as ``reward_synth_node`` runs it (ROS-free).

:func:`synthesize` is :func:`lm_reward_learning.bilevel.steps.update_reward` (synthesise, validate,
retry with the validator's message, keep the previous program if every attempt fails; the same files
in ``iter_KK/cand_M/``) with the run's synthesis backend, followed by reading back what it stored as
:class:`ProgramRecord` s: one per rejected attempt and one for the kept program, which the node
publishes as ``RewardProgram`` messages.

This module does not import ``rclpy``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from lm_reward_learning.bilevel.protocols import Feedback, SynthesisBackend
from lm_reward_learning.bilevel.store import LearnStore, read_json
from lm_reward_learning.ros.candidates import load_current


@dataclass(frozen=True)
class ProgramRecord:
    """A reward-program candidate with its provenance and validation (a ``RewardProgram`` message's content).

    Attributes:
        iteration: Loop iteration, from 1.
        candidate: Candidate index.
        name: Short name (``iter3_cand0``, ``iter3_cand0_attempt1``).
        origin: Provenance (the backend's label and the learn run).
        source: Program source.
        diff: Unified diff against the previous program ("" for a rejected attempt).
        passed: Whether it passed validation.
        message: The validator's summary ("" when passed).
        issues: The validator's findings.
    """

    iteration: int
    candidate: int
    name: str
    origin: str
    source: str
    diff: str = ""
    passed: bool = True
    message: str = ""
    issues: tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the source."""
        return hashlib.sha256(self.source.encode()).hexdigest()


@dataclass(frozen=True)
class SynthesisOutcome:
    """What :func:`synthesize` stored.

    Attributes:
        kept: The kept program (validated; the previous one if every attempt failed).
        rejected: Attempts that failed validation or brought no program, in order.
        attempts: Number of attempts made.
        kept_previous: Every attempt failed: the previous program is kept.
        synthesis_path: ``iter_KK/cand_M/synthesis.json``.
    """

    kept: ProgramRecord
    rejected: tuple[ProgramRecord, ...] = field(default_factory=tuple)
    attempts: int = 0
    kept_previous: bool = False
    synthesis_path: Path = Path()


def synthesize(
    store: LearnStore,
    k: int,
    m: int,
    feedback: Feedback | None,
    current_iteration: int,
    current_candidate: int,
    backend: SynthesisBackend | None = None,
) -> SynthesisOutcome:
    """Candidate ``m`` of iteration ``k`` from ``feedback`` and the current policy's program and statistics.

    Args:
        store: The learn run (its ``learn.yaml`` names the backend).
        k: Loop iteration, from 1.
        m: Candidate index.
        feedback: Upper-level feedback, or None (Eureka mode).
        current_iteration, current_candidate: The current policy's candidate.
        backend: The synthesis backend; None = the one ``learn.yaml`` names.

    Raises:
        LmrlError: (a subclass) when the run or candidate is incomplete, or the backend cannot answer
            (endpoint down, authentication, rate limit); attempts answered so far stay stored.
    """
    from lm_reward_learning.bilevel import steps
    from lm_reward_learning.bilevel.backends import make_synthesis

    cfg = store.config()
    backend = backend if backend is not None else make_synthesis(cfg)
    current = load_current(store, current_iteration, current_candidate)
    steps.update_reward(cfg, store, k, m, backend, feedback, current)
    return read_outcome(store, k, m)


def read_outcome(store: LearnStore, k: int, m: int) -> SynthesisOutcome:
    """The :class:`SynthesisOutcome` of a completed synthesis step, read from the store."""
    d = store.path / f"iter_{k:02d}" / f"cand_{m}"
    syn = read_json(d / "synthesis.json")
    if syn is None:
        raise FileNotFoundError(f"{d / 'synthesis.json'} does not exist: the synthesis step did not complete")
    origin = f"{syn['label']} ({store.path.name})"
    rejected = []
    for a in syn["attempts"]:
        if a["ok"]:
            continue
        j = a["attempt"]
        program = d / f"attempt_{j}" / "program.py"
        issues = tuple(a.get("issues", ()))
        rejected.append(
            ProgramRecord(
                iteration=k,
                candidate=m,
                name=f"iter{k}_cand{m}_attempt{j}",
                origin=origin,
                source=program.read_text() if program.is_file() else "",
                passed=False,
                message=f"attempt {j} failed validation: {issues[0] if issues else 'no program'}",
                issues=issues,
            )
        )
    kept_previous = syn["kept"] == "previous"
    kept = ProgramRecord(
        iteration=k,
        candidate=m,
        name=f"iter{k}_cand{m}",
        origin=origin if not kept_previous else f"previous program kept: every attempt failed ({store.path.name})",
        source=(d / "program.py").read_text(),
        diff=(d / "diff.patch").read_text() if (d / "diff.patch").is_file() else "",
    )
    return SynthesisOutcome(kept, tuple(rejected), len(syn["attempts"]), kept_previous, d / "synthesis.json")
