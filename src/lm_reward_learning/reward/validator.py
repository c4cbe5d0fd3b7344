"""Validate reward programs before any training is spent on them.

Two stages, each finding a line an LLM can act on:

1. :func:`check_source` (:mod:`~lm_reward_learning.reward.static_checks`): parse with :mod:`ast` and
   apply a small whitelist — no code runs.
2. A dry run in a separate, sandboxed process (``python -m lm_reward_learning.reward._dry_run``
   started through :mod:`lm_reward_learning.isolation`: scrubbed environment, no programs, sockets
   or signals to others, writes only in its temporary directory): the program is compiled in the
   language sandbox of :mod:`~lm_reward_learning.reward.sandbox` and called on a recorded batch of
   states under a wall-clock time limit and a memory limit (``RLIMIT_DATA``; see
   :mod:`~lm_reward_learning.reward._dry_run` for why not ``RLIMIT_AS``). Its output must be
   ``(reward, components)``: ``reward`` a float32/float64 tensor of shape ``(N,)``, ``components`` a
   non-empty dict of snake_case names to such tensors, all finite, all ``|value| <= max_abs_reward``,
   ``reward`` equal to the sum of the components within ``1e-4 + 1e-4·|sum|``, and the state unchanged.

Several programs can be validated with one child process (:func:`validate_programs`), which saves the
~3 s torch import per program when an LLM proposes a batch of candidates. Each program still runs on
its own copy of the state with its own limits; if one has to be killed, the others are rerun in a
fresh process. Results come back as JSON lines in a file, never by scraping output.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lm_reward_learning
from lm_reward_learning import isolation
from lm_reward_learning.errors import LmrlError, RewardValidationError
from lm_reward_learning.reward.static_checks import check_source

__all__ = [
    "DEFAULT_MAX_ABS_REWARD",
    "DEFAULT_MEMORY_MB",
    "DEFAULT_TIMEOUT_S",
    "TermStats",
    "ValidationResult",
    "check_source",
    "ensure_valid",
    "validate_program",
    "validate_programs",
]

logger = logging.getLogger(__name__)

#: Wall-clock limit for compiling and calling ``compute_reward`` once on the batch, s.
DEFAULT_TIMEOUT_S = 5.0
#: Memory a program may allocate on top of the dry-run process's own (torch, the batch), MiB.
DEFAULT_MEMORY_MB = 1024.0
#: Bound on ``|reward|`` and every ``|component|`` per call (before the trainer's ``dt`` scaling).
DEFAULT_MAX_ABS_REWARD = 1e3
#: Time the child may take to import torch and load the batch, s.
STARTUP_TIMEOUT_S = 120.0
#: Extra time past ``timeout_s`` before the parent kills a child whose alarm did not stop the program, s.
KILL_GRACE_S = 5.0
#: Calls of each program in the dry run (each under ``timeout_s``; the median time is reported).
DRY_RUN_CALLS = 3
#: Longest finding kept (characters); the findings go back to the LLM, so they stay short.
MAX_ISSUE_CHARS = 600
#: Longest message of all findings together (characters), see :meth:`ValidationResult.message`.
MAX_MESSAGE_CHARS = 1024


@dataclass(frozen=True)
class TermStats:
    """Statistics of one returned tensor over the batch (per call, before ``dt`` scaling)."""

    mean: float
    min: float
    max: float


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of validating one reward program.

    Attributes:
        ok: Whether the program passed every check.
        issues: Findings, each ``"line N: <what is wrong>; <what to do>"`` (output-level findings name
            the returned value instead of a line).
        component_names: Names of the returned components, in the program's order (empty if the
            dry run did not get that far).
        component_stats: Mean/min/max per component that passed its checks.
        reward_stats: Mean/min/max of the total reward, if it passed its checks.
        wall_s: Median time of one ``compute_reward`` call on the batch, s (0 if it did not run).
        num_envs: Batch size of the dry run (0 if the static checks failed and nothing ran).
        sandbox: The dry-run process's sandbox report (``{"applied": [...], "missing": {...}}``;
            empty if nothing ran).
    """

    ok: bool
    issues: tuple[str, ...]
    component_names: tuple[str, ...] = ()
    component_stats: Mapping[str, TermStats] = field(default_factory=dict)
    reward_stats: TermStats | None = None
    wall_s: float = 0.0
    num_envs: int = 0
    sandbox: Mapping[str, Any] = field(default_factory=dict)

    def message(self) -> str:
        """The findings as one text of at most :data:`MAX_MESSAGE_CHARS`, for logs, exceptions and LLM feedback."""
        if self.ok:
            return f"reward program passed validation ({len(self.component_names)} components)"
        return cap_text(
            f"reward program rejected ({len(self.issues)} issues):\n"
            + "\n".join("  - " + issue.replace("\n", "\n    ") for issue in self.issues),
            MAX_MESSAGE_CHARS,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for the run directory)."""
        return {
            "ok": self.ok,
            "issues": list(self.issues),
            "component_names": list(self.component_names),
            "component_stats": {k: vars(v) for k, v in self.component_stats.items()},
            "reward_stats": None if self.reward_stats is None else vars(self.reward_stats),
            "wall_s": self.wall_s,
            "num_envs": self.num_envs,
            "sandbox": dict(self.sandbox),
        }


def cap_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    note = f" ... [{len(text) - limit} more characters]"
    return text[: max(0, limit - len(note))] + note


def validate_program(
    source: str,
    state_batch_path: str | Path,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: float = DEFAULT_MEMORY_MB,
    max_abs_reward: float = DEFAULT_MAX_ABS_REWARD,
) -> ValidationResult:
    """Validate one program: static checks, then (if they pass) the dry run on ``state_batch_path``.

    Args:
        source: The program's source text.
        state_batch_path: File written by :func:`~lm_reward_learning.reward.batch.save_state_batch`.
        timeout_s: Wall-clock limit for compiling and calling ``compute_reward`` once, s.
        memory_mb: Memory the program may allocate, MiB.
        max_abs_reward: Bound on every returned value's magnitude.

    Returns:
        The result; a rejected program is a result with ``ok=False``, not an exception.

    Raises:
        LmrlError: if the dry run cannot happen (missing or damaged batch file, child cannot start) —
            a problem of the setup, not of the program.
    """
    return validate_programs(
        [source], state_batch_path, timeout_s=timeout_s, memory_mb=memory_mb, max_abs_reward=max_abs_reward
    )[0]


def validate_programs(
    sources: Sequence[str],
    state_batch_path: str | Path,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: float = DEFAULT_MEMORY_MB,
    max_abs_reward: float = DEFAULT_MAX_ABS_REWARD,
) -> list[ValidationResult]:
    """Validate several programs, dry-running all that pass the static checks in one child process.

    Arguments and errors as :func:`validate_program`; returns one result per source, in order.
    """
    static = [check_source(s) for s in sources]
    results: list[ValidationResult | None] = [
        ValidationResult(ok=False, issues=tuple(found)) if found else None for found in static
    ]
    to_run = [i for i, r in enumerate(results) if r is None]
    if to_run:
        limits = {
            "timeout_s": float(timeout_s),
            "memory_mb": float(memory_mb),
            "max_abs_reward": float(max_abs_reward),
        }
        raw = _dry_run([sources[i] for i in to_run], Path(state_batch_path), limits)
        for i, (record, num_envs, sandbox) in zip(to_run, raw, strict=True):
            results[i] = _to_result(record, num_envs, sandbox)
    return [r for r in results if r is not None]


def ensure_valid(source: str, state_batch_path: str | Path, **limits: float) -> ValidationResult:
    """Validate like :func:`validate_program` and raise if the program is rejected.

    Raises:
        RewardValidationError: with every finding in the message and in ``.issues``.
        LmrlError: as :func:`validate_program`.
    """
    result = validate_program(source, state_batch_path, **limits)
    if not result.ok:
        raise RewardValidationError(result.message(), list(result.issues))
    return result


def _to_result(record: dict[str, Any], num_envs: int, sandbox: Mapping[str, Any]) -> ValidationResult:
    def stats(v: list[float] | None) -> TermStats | None:
        return None if v is None else TermStats(*v)

    issues = tuple(cap_text(str(i), MAX_ISSUE_CHARS) for i in record["issues"])
    return ValidationResult(
        ok=not issues,
        issues=issues,
        component_names=tuple(record.get("components", ())),
        component_stats={k: TermStats(*v) for k, v in record.get("stats", {}).items()},
        reward_stats=stats(record.get("reward_stats")),
        wall_s=float(record.get("wall_s", 0.0)),
        num_envs=num_envs,
        sandbox=dict(sandbox),
    )


def _dry_run(
    sources: list[str], batch_path: Path, limits: dict[str, float]
) -> list[tuple[dict[str, Any], int, dict[str, Any]]]:
    """Run ``sources`` in child processes; return ``(result record, num_envs, sandbox report)`` per source."""
    if not batch_path.is_file():
        raise LmrlError(
            f"state batch {batch_path} does not exist; record one from the simulator or write a synthetic "
            "one with save_state_batch(synthetic_state(...), path)"
        )
    out: list[tuple[dict[str, Any], int, dict[str, Any]]] = []
    while len(out) < len(sources):
        pending = sources[len(out) :]
        records, killed, returncode, stderr = _run_child(pending, batch_path, limits)
        sandbox = next((r.get("sandbox", {}) for r in records if r.get("event") == "ready"), {})
        isolation.warn_missing_once(sandbox, "validator's dry run")
        out.extend((*r, sandbox) for r in interpret_records(records, len(pending), killed, returncode, stderr, limits))
    return out


def interpret_records(
    records: list[dict[str, Any]],
    n: int,
    killed: bool,
    returncode: int | None,
    stderr: str,
    limits: Mapping[str, float],
) -> list[tuple[dict[str, Any], int]]:
    """Turn a child's JSON-line records into results for its first programs.

    Returns results for programs ``0..k`` where ``k`` is the last one the child finished, or the one
    it was running when it was killed or died (that one gets a finding saying so). The caller reruns
    the rest.

    Raises:
        LmrlError: if the child reported a fatal error or died before running any program.
    """
    for rec in records:
        if rec.get("event") == "fatal":
            raise LmrlError(f"dry run could not start: {rec.get('message')}")
    ready = [r for r in records if r.get("event") == "ready"]
    if not ready:
        how = "was stopped after the start-up timeout" if killed else f"exited with code {returncode}"
        raise LmrlError(f"the dry-run process {how} before running any program; its stderr ends:\n{stderr}")
    num_envs = int(ready[0]["num_envs"])
    done = {int(r["index"]): r["result"] for r in records if r.get("event") == "done"}
    started = [int(r["index"]) for r in records if r.get("event") == "start"]
    results = []
    for i in range(n):
        if i in done:
            results.append((done[i], num_envs))
            continue
        if not started or started[-1] != i:
            raise LmrlError(f"the dry-run process exited with code {returncode} between programs:\n{stderr}")
        if killed:
            issue = (
                f"compute_reward did not finish within the time limit of {limits['timeout_s']:g} s on "
                f"{num_envs} envs and the dry run had to be killed (stuck inside one long torch call); use "
                "vectorised torch operations over the env dimension on (N, ...) tensors, not Python loops "
                "or huge intermediate tensors"
            )
        else:
            issue = (
                f"the dry-run process died ({_exit_reason(returncode)}) while running compute_reward; the "
                f"usual cause is memory use beyond the limit of {limits['memory_mb']:g} MiB — every term "
                "needs only O(num_envs x joints) memory"
            )
        results.append(({"issues": [issue]}, num_envs))
        break
    return results


def _run_child(
    sources: list[str], batch_path: Path, limits: dict[str, float]
) -> tuple[list[dict[str, Any]], bool, int | None, str]:
    """Run one child on ``sources``; return ``(records, killed, returncode, stderr tail)``."""
    with tempfile.TemporaryDirectory(prefix="lmrl-dry-run-") as tmp:
        req_path, out_path, err_path = Path(tmp, "request.json"), Path(tmp, "results.jsonl"), Path(tmp, "err")
        req = {"batch_path": str(batch_path.resolve()), "sources": sources, "calls": DRY_RUN_CALLS, **limits}
        req_path.write_text(json.dumps(req), encoding="utf-8")
        out_path.touch()
        policy = isolation.SandboxPolicy.for_paths(
            [Path(tmp)],
            [batch_path],
            cpu_time_s=STARTUP_TIMEOUT_S + len(sources) * (limits["timeout_s"] * (DRY_RUN_CALLS + 1) + KILL_GRACE_S),
        )
        pkg_root = Path(lm_reward_learning.__file__).resolve().parent.parent
        cmd, env = isolation.sandboxed_command(
            "lm_reward_learning.reward._dry_run",
            [str(req_path), str(out_path)],
            policy,
            pythonpath=[pkg_root],
            tmp_dir=Path(tmp, "tmp"),
        )
        logger.debug("dry run of %d reward programs on %s", len(sources), batch_path)
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
            try:
                killed = _watch(proc, out_path, limits["timeout_s"])
            finally:
                if proc.poll() is None:  # interrupted (e.g. KeyboardInterrupt): do not leave it running
                    proc.kill()
                    proc.wait()
        stderr = err_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        return _read_records(out_path), killed, proc.returncode, stderr


def _watch(proc: subprocess.Popen[bytes], out_path: Path, timeout_s: float) -> bool:
    """Wait for the child; kill it when it makes no progress in time. Return whether it was killed.

    The child may take :data:`STARTUP_TIMEOUT_S` to import torch and load the batch; after that,
    every new record (a program started or finished) gives it ``timeout_s`` for the compilation and
    for each of its :data:`DRY_RUN_CALLS` calls, plus :data:`KILL_GRACE_S`.
    """
    seen, deadline = 0, time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            proc.wait(timeout=0.05)
            return False
        except subprocess.TimeoutExpired:
            pass
        records = _read_records(out_path)
        if len(records) != seen:
            seen = len(records)
            deadline = time.monotonic() + timeout_s * (DRY_RUN_CALLS + 1) + KILL_GRACE_S
        if time.monotonic() > deadline:
            logger.warning("dry-run process made no progress in time; killing it")
            proc.kill()
            proc.wait()
            return True


def _read_records(path: Path) -> list[dict[str, Any]]:
    """Complete JSON lines written so far (a partly written last line is left for later)."""
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]


def _exit_reason(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"
