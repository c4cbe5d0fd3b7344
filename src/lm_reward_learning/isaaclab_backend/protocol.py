"""What the launcher (main venv) and the Isaac Lab worker (Isaac Lab venv) exchange: files, never stdout.

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

The progress, result and cancel parts are the MuJoCo worker's too
(:mod:`lm_reward_learning.training.worker_protocol`); only the request is Isaac Lab's own.
* Cancel: the launcher creates the cancel file; the worker checks for it after every PPO iteration
  and stops cleanly (checkpoints are written atomically, so a stop never leaves a torn file).

Pure Python: imported on both sides.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lm_reward_learning.io import atomic_write_json
from lm_reward_learning.training.worker_protocol import (
    ProgressReader,
    ProgressWriter,
    ProtocolError,
    WorkerResult,
    read_request,
)

__all__ = ["REQUEST_FORMAT", "ProgressReader", "ProgressWriter", "ProtocolError", "WorkerRequest", "WorkerResult"]

REQUEST_FORMAT = 1
"""Version of the request file; the worker refuses another."""


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
        call_timeout_s: Per-call limit of ``compute_reward``, s (0: the binding's default, 1 s).
        hard_timeout_s: After this, a stuck call ends the worker, s.
        memory_mb: Memory the worker may allocate past its size once the environment is built, MiB.
        randomization: ``to_dict(TrainConfig.randomization)``: the task's event terms (``{}``: none).
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
    call_timeout_s: float = 0.0
    hard_timeout_s: float = 30.0
    memory_mb: float = 2048.0
    randomization: dict[str, Any] = field(default_factory=dict)
    format: int = REQUEST_FORMAT

    def write(self, path: Path) -> None:
        """Write the request as JSON (atomically)."""
        atomic_write_json(Path(path), asdict(self))

    @classmethod
    def read(cls, path: Path) -> WorkerRequest:
        """Read a request file (:func:`~lm_reward_learning.training.worker_protocol.read_request`).

        Raises:
            ProtocolError: missing, not JSON, missing keys, or another format version (the Isaac Lab venv
                runs another lm_reward_learning version: re-run scripts/setup_isaaclab.sh).
        """
        hint = "; the Isaac Lab venv runs another lm_reward_learning version: re-run scripts/setup_isaaclab.sh."
        return read_request(cls, Path(path), REQUEST_FORMAT, hint)
