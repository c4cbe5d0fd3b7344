"""What a training launcher and its worker process exchange: files, never stdout.

Both training workers (MuJoCo: :mod:`lm_reward_learning.training.worker`; Isaac Lab:
:mod:`lm_reward_learning.isaaclab_backend.worker`) run in their own sandboxed process
(:mod:`lm_reward_learning.isolation`) and talk to the launcher
(:mod:`lm_reward_learning.training.launcher`) through:

* Progress: a JSON-lines file the worker appends to and ``fsync`` s after every line; the launcher
  follows it. Events (each line has ``event`` and ``t``, Unix time, s):

  ==============  ==========================================================================
  ``started``     ``pid``, ``python`` and backend versions
  ``phase``       ``phase``: ``building`` (simulation start), ``training``
  ``iteration``   ``iteration``, ``total``, ``record`` (the ``reward_stats.json`` record)
  ``finished``    ``status`` (``done``, ``cancelled``, ``error``); the result file is written first
  ==============  ==========================================================================

* Result: one JSON file written atomically at the end (:class:`WorkerResult`).
* Cancel: the launcher creates the cancel file; the worker checks for it after every PPO iteration
  and stops cleanly (checkpoints are written atomically, so a stop never leaves a torn file).

Pure Python: imported on both sides (also in the Isaac Lab venv).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from lm_reward_learning.errors import LmrlError, RewardRuntimeError
from lm_reward_learning.io import atomic_write_json

T = TypeVar("T")

STATUSES = ("done", "cancelled", "error")


class ProtocolError(LmrlError):
    """A request or result file is missing, not JSON, or of another format version."""


@dataclass(frozen=True)
class WorkerResult:
    """The worker's final word.

    Attributes:
        status: ``done``, ``cancelled`` or ``error``.
        iterations_done: Iterations in the run after this training.
        error_kind: Exception class name (``error`` only).
        message: Error message (``error`` only).
        wall_s: Worker wall time, s.
        timings: ``{"build_s": ..., "train_s": ..., "env_steps_per_s": ...}``.
        checks: Consistency checks in the real simulator (``binding.RewardProgramBinding.cross_check``).
        failure: For a reward program that failed at train time: ``{"kind", "line", "call",
            "message"}`` (:class:`~lm_reward_learning.errors.RewardRuntimeError`).
        sandbox: The worker's sandbox report (``{"applied": [...], "missing": {...}}``).
    """

    status: str
    iterations_done: int = 0
    error_kind: str = ""
    message: str = ""
    wall_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    checks: dict[str, float] = field(default_factory=dict)
    failure: dict[str, Any] = field(default_factory=dict)
    sandbox: dict[str, Any] = field(default_factory=dict)

    def write(self, path: Path) -> None:
        """Write the result as JSON (atomically)."""
        atomic_write_json(Path(path), asdict(self))

    @classmethod
    def read(cls, path: Path) -> WorkerResult:
        """Read a result file.

        Raises:
            ProtocolError: missing, not JSON, or an unknown status.
        """
        data = read_json_object(Path(path), "result")
        if data.get("status") not in STATUSES:
            raise ProtocolError(f"result {path} has status {data.get('status')!r}; expected one of {STATUSES}")
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


class ProgressWriter:
    """Appends JSON lines to the progress file, each flushed and fsynced (the reader never sees half)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, event: str, **payload: Any) -> None:
        """Append one event line."""
        line = json.dumps({"event": event, "t": round(time.time(), 3), **payload}) + "\n"
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


class ProgressReader:
    """Reads new complete lines of a progress file (a partial last line waits for its newline)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[dict[str, Any]]:
        """Events appended since the last call (empty if none or the file does not exist yet)."""
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        events = []
        for line in lines:
            if line.strip():
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a damaged line (disk full): skip it, the result file is authoritative
        return events


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """Read a JSON object from ``path``.

    Raises:
        ProtocolError: missing, unreadable, not JSON or not an object (``what`` names the file's role).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProtocolError(f"{what} file {path} does not exist") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"{what} file {path} cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"{what} file {path} is not a JSON object")
    return data


def read_request(cls: type[T], path: Path, version: int, hint: str = "") -> T:
    """Read a worker request file into the dataclass ``cls`` (fields with defaults may be missing).

    Raises:
        ProtocolError: missing, not JSON, missing keys, or a ``format`` other than ``version``.
    """
    data = read_json_object(Path(path), "request")
    if data.get("format") != version:
        raise ProtocolError(f"request {path} has format {data.get('format')!r}, this worker reads {version}{hint}")
    missing = [f.name for f in fields(cls) if f.name not in data and f.default is MISSING]  # type: ignore[arg-type]
    if missing:
        raise ProtocolError(f"request {path} lacks {missing}")
    return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})  # type: ignore[arg-type]


def sandbox_layers(report: dict[str, Any]) -> dict[str, Any]:
    """``{"applied", "missing"}`` of an :func:`lm_reward_learning.isolation.report`."""
    return {"applied": list(report.get("applied", [])), "missing": dict(report.get("missing", {}))}


def record_reward_failure(
    failure: RewardRuntimeError, run_dir: Path, result_file: Path, progress_file: Path, sandbox: dict[str, Any]
) -> None:
    """Worker side: a reward program failed; say so in ``run.yaml``, the result file and the progress file."""
    from lm_reward_learning.training.run_dir import RunDir

    done = 0
    with contextlib.suppress(LmrlError, OSError):
        run = RunDir.open(Path(run_dir))
        run.write_meta(status="failed", failure=failure.to_failure())
        done = int(run.meta().get("iterations_done", 0))
    WorkerResult(
        "error", done, "RewardRuntimeError", str(failure), failure=failure.to_failure(), sandbox=sandbox_layers(sandbox)
    ).write(Path(result_file))
    ProgressWriter(Path(progress_file)).emit("finished", status="error")


TRAIN_REQUEST_FORMAT = 1
"""Version of the MuJoCo worker's request file."""


@dataclass(frozen=True)
class TrainRequest:
    """Everything the MuJoCo training worker needs (JSON-serialisable; built by the trainer).

    Attributes:
        run_dir: The run directory (``prepare_run`` made it: program, config, validation inside).
        config: ``to_dict(TrainConfig)`` of this training (``iterations`` is the run's total).
        resume: Continue from ``checkpoints/latest.pt``.
        warm_start: Checkpoint whose weights initialise the policy, or None.
        call_timeout_s: Per-call limit of ``compute_reward``, s
            (:func:`~lm_reward_learning.reward.runtime.call_timeout_s`).
        hard_timeout_s: After this, a stuck call ends the worker, s.
        memory_mb: Memory the worker may allocate past its size once the trainer is built, MiB.
        progress_file: JSON-lines progress file.
        result_file: Result JSON file.
        cancel_file: The worker stops when this file exists.
        sandbox_report: Where the worker's sandbox report was written by ``isolation.enter``.
        format: :data:`TRAIN_REQUEST_FORMAT`.
    """

    run_dir: str
    config: dict[str, Any]
    resume: bool
    warm_start: str | None
    call_timeout_s: float
    hard_timeout_s: float
    memory_mb: float
    progress_file: str
    result_file: str
    cancel_file: str
    sandbox_report: str = ""
    format: int = TRAIN_REQUEST_FORMAT

    def write(self, path: Path) -> None:
        """Write the request as JSON (atomically)."""
        atomic_write_json(Path(path), asdict(self))

    @classmethod
    def read(cls, path: Path) -> TrainRequest:
        """Read a request file (:func:`read_request`)."""
        return read_request(cls, path, TRAIN_REQUEST_FORMAT)
