"""What the launcher (main venv) and the worker (Isaac Lab venv) exchange: files, never stdout.

* Request: one JSON file (:class:`WorkerRequest`), written by the launcher before the worker starts.
* Progress: a JSON-lines file the worker appends to and ``fsync`` s after every line; the launcher
  follows it. Events (each line has ``event`` and ``t``, Unix time, s):

  ==============  ==========================================================================
  ``started``     ``pid``, ``python``, ``isaaclab`` (version)
  ``phase``       ``phase``: ``building`` (simulation start), ``training``
  ``iteration``   ``iteration``, ``total``, ``record`` (the ``reward_stats.json`` record)
  ``finished``    ``status`` (``done``, ``cancelled``, ``error``); the result file is written first
  ==============  ==========================================================================

* Result: one JSON file written atomically at the end (:class:`WorkerResult`).
* Cancel: the launcher creates the cancel file; the worker checks for it after every PPO iteration
  and stops cleanly (checkpoints are written atomically, so a stop never leaves a torn file).

Pure Python: imported on both sides.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.io import atomic_write_json

REQUEST_FORMAT = 1
"""Version of the request file; the worker refuses another."""

STATUSES = ("done", "cancelled", "error")


class ProtocolError(LmrlError):
    """A request or result file is missing, not JSON, or of another format version."""


@dataclass(frozen=True)
class WorkerRequest:
    """Everything the worker needs for one training (JSON-serialisable; built by the launcher).

    Attributes:
        run_dir: The run directory (``prepare_run`` made it: program, config, validation inside).
        robot: Robot name.
        iterations: Total PPO iterations of the run (also when resuming).
        seed: Seed of torch, numpy and the simulator.
        torch_threads: ``torch.set_num_threads`` in the worker.
        resume: Continue from ``checkpoints/latest.pt``.
        warm_start: Checkpoint whose actor/critic weights initialise the policy, or None.
        device: Simulation and agent device (``cpu``, ``cuda:0``).
        env: ``to_dict(TrainConfig.env)``.
        train_cfg: rsl-rl ``train_cfg`` (``PPOConfig.to_rsl_rl()``): the same network as MuJoCo's.
        observation_layout: ``{"policy": [...], "critic": [...]}``, each term ``{name, size, scale,
            noise, unit}`` from ``envs.mujoco_env.observation_layout`` (one source for both backends).
        physics_dt: Physics step, s (the MJCF's timestep).
        assets_dir: Folder made by ``usd_assets`` (``ground.usda``, ``<robot>/robot.usdc``, ...).
        progress_file: JSON-lines progress file (see the module docstring).
        result_file: Result JSON file.
        cancel_file: The worker stops when this file exists.
        format: :data:`REQUEST_FORMAT`.
    """

    run_dir: str
    robot: str
    iterations: int
    seed: int
    torch_threads: int
    resume: bool
    warm_start: str | None
    device: str
    env: dict[str, Any]
    train_cfg: dict[str, Any]
    observation_layout: dict[str, list[dict[str, Any]]]
    physics_dt: float
    assets_dir: str
    progress_file: str
    result_file: str
    cancel_file: str
    format: int = REQUEST_FORMAT

    def write(self, path: Path) -> None:
        """Write the request as JSON (atomically)."""
        atomic_write_json(Path(path), asdict(self))

    @classmethod
    def read(cls, path: Path) -> WorkerRequest:
        """Read a request file.

        Raises:
            ProtocolError: missing, not JSON, missing keys, or another format version.
        """
        data = _read_json(Path(path), "request")
        if data.get("format") != REQUEST_FORMAT:
            raise ProtocolError(
                f"request {path} has format {data.get('format')!r}, this worker reads {REQUEST_FORMAT}; "
                "the Isaac Lab venv runs another lm_reward_learning version: re-run scripts/setup_isaaclab.sh."
            )
        missing = [f.name for f in fields(cls) if f.name not in data and f.name != "format"]
        if missing:
            raise ProtocolError(f"request {path} lacks {missing}")
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


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
    """

    status: str
    iterations_done: int = 0
    error_kind: str = ""
    message: str = ""
    wall_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    checks: dict[str, float] = field(default_factory=dict)

    def write(self, path: Path) -> None:
        """Write the result as JSON (atomically)."""
        atomic_write_json(Path(path), asdict(self))

    @classmethod
    def read(cls, path: Path) -> WorkerResult:
        """Read a result file.

        Raises:
            ProtocolError: missing, not JSON, or an unknown status.
        """
        data = _read_json(Path(path), "result")
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


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProtocolError(f"{what} file {path} does not exist") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"{what} file {path} cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"{what} file {path} is not a JSON object")
    return data
