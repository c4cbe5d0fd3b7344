"""Train a policy for one reward program with rsl-rl-lib's ``OnPolicyRunner`` (no PPO of our own).

:func:`prepare_run` validates the reward program on states recorded from the robot's own simulator
(the dry run is sandboxed); :func:`train` runs PPO in a sandboxed worker process
(:mod:`lm_reward_learning.training.worker`), which after every iteration writes the per-term reward
statistics and ``checkpoints/latest.pt`` atomically, so a crash loses at most the iteration in
progress. The reward program never runs in the caller's process.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lm_reward_learning import __version__, isolation
from lm_reward_learning.config import EnvConfig, TrainConfig, to_dict
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.errors import ConfigError
from lm_reward_learning.io import atomic_write_bytes, atomic_write_json, atomic_write_text, atomic_write_yaml
from lm_reward_learning.randomization import describe as describe_randomization
from lm_reward_learning.reward.program import RewardProgram
from lm_reward_learning.reward.state import RewardState
from lm_reward_learning.reward.validator import ensure_valid
from lm_reward_learning.robots import get_robot
from lm_reward_learning.robots.spec import RobotSpec
from lm_reward_learning.training.launcher import WorkerErrors, WorkerFiles, run_worker
from lm_reward_learning.training.run_dir import RunDir
from lm_reward_learning.training.worker_protocol import TrainRequest

log = logging.getLogger(__name__)

IterationCallback = Callable[[int, dict[str, Any]], None]


def zero_reward(state: RewardState) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A reward of 0 for every env: for environments that only record states or roll a policy out."""
    z = torch.zeros(state.num_envs)
    return z, {"zero": z}


def record_state_batch(
    spec: RobotSpec, env_cfg: EnvConfig, path: Path, *, num_envs: int = 16, steps: int = 48, seed: int = 0
) -> RewardState:
    """Record reward states of the robot under random actions and save them for the validator's dry run.

    Every 4th step of ``num_envs`` simulations is kept, giving ``num_envs * steps / 4`` states
    (192 by default) that cover standing, stumbling and falling.

    Args:
        spec: The robot.
        env_cfg: Environment settings (``num_envs`` and noise are overridden).
        path: Output file (``torch.save`` of :meth:`RewardState.to_dict`), written atomically.

    Returns:
        The concatenated batch.
    """
    cfg = dataclasses.replace(env_cfg, num_envs=num_envs, obs_noise=False)
    env = MujocoVecEnv(spec, zero_reward, cfg, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    kept: list[RewardState] = []
    for i in range(steps):
        env.step(0.5 * torch.randn(num_envs, env.num_actions, generator=gen))
        if i % 4 == 3 and env.last_state is not None:
            kept.append(env.last_state)
    merged = {
        f.name: torch.cat([getattr(s, f.name) for s in kept]) if f.name != "dt" else env.dt
        for f in dataclasses.fields(RewardState)
    }
    buf = io.BytesIO()
    torch.save(merged, buf)
    atomic_write_bytes(path, buf.getvalue())
    return RewardState.from_dict(merged)


def check_randomization(spec: RobotSpec, cfg: TrainConfig) -> None:
    """Check ``cfg.randomization`` against the physical bounds, the robot's masses included.

    Raises:
        ConfigError: a range outside its bounds (the message names it and the bounds).
    """
    from lm_reward_learning.envs.randomization import build_model

    build_model(spec, cfg.randomization)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare_run(
    robot: str,
    program: RewardProgram,
    cfg: TrainConfig,
    runs_root: Path,
    name: str | None = None,
    *,
    run_path: Path | None = None,
) -> RunDir:
    """Create a run directory, record a state batch, validate the reward program (before any training).

    The directory is ``runs_root/<UTC time>_<robot>[_<name>]``, or exactly ``run_path`` when given.
    ``run.yaml`` records the randomization ranges in force (``randomization``).

    Raises:
        ConfigError: a randomization range outside its physical bounds (nothing is written).
        RewardValidationError: if the program fails validation (the run directory then holds the
            program and the validation report, for the user or the LLM to read).
    """
    spec = get_robot(robot)
    check_randomization(spec, cfg)  # a range outside this robot's bounds fails before anything is written
    run = RunDir.create_at(run_path) if run_path is not None else RunDir.create(runs_root, robot, name)
    atomic_write_text(run.reward_dir / "program.py", program.source)
    atomic_write_yaml(run.path / "config.yaml", to_dict(cfg))
    run.write_meta(
        robot=robot,
        reward_sha256=program.sha256,
        reward_origin=program.origin,
        status="validating",
        iterations_done=0,
        iterations_target=cfg.iterations,
        randomization=describe_randomization(cfg.randomization),
        lmrl_version=__version__,
        torch_version=str(torch.__version__),
    )
    batch = run.reward_dir / "state_batch.pt"
    record_state_batch(spec, cfg.env, batch, seed=cfg.seed)
    try:
        result = ensure_valid(program.source, batch)
    except Exception as exc:
        run.write_meta(status="invalid_reward")
        atomic_write_json(run.reward_dir / "validation.json", {"ok": False, "error": str(exc)})
        raise
    atomic_write_json(run.reward_dir / "validation.json", result.to_dict())
    run.write_meta(status="validated")
    return run


def train(
    run: RunDir,
    cfg: TrainConfig,
    *,
    resume: bool = False,
    warm_start: Path | None = None,
    progress: bool = True,
    on_iteration: IterationCallback | None = None,
    cancel: threading.Event | Callable[[], bool] | None = None,
) -> RunDir:
    """Train (or resume training) the run's reward program with PPO, in a sandboxed worker process.

    The MuJoCo backend runs :mod:`lm_reward_learning.training.worker` through the reward sandbox
    (:mod:`lm_reward_learning.isolation`; :mod:`~lm_reward_learning.training.launcher` follows it);
    the Isaac Lab backend its own worker the same way.

    Args:
        run: A run directory made by :func:`prepare_run` (validated program inside).
        cfg: The training configuration (``cfg.iterations`` is the run's total).
        resume: Continue from ``checkpoints/latest.pt`` of ``run``.
        warm_start: Initialise the policy weights from this checkpoint (e.g. the previous iteration
            of the bi-level loop); optimiser and iteration count start fresh.
        progress: Show a tqdm progress bar on stderr.
        on_iteration: Called as ``on_iteration(it, record)`` after each iteration's record is saved;
            an exception it raises stops the worker and propagates (the run stays resumable).
        cancel: An event (or callable) that stops training after the current iteration.

    Returns:
        ``run``, with ``run.yaml`` status ``done``.

    Raises:
        RewardRuntimeError: the reward program failed during training (``run.yaml``: ``status:
            failed`` and ``failure``).
        CheckpointError: if the resume or warm-start checkpoint cannot be loaded.
        ConfigError: an unknown ``cfg.backend``.
        lm_reward_learning.training.launcher.TrainingWorkerError: the worker failed or died.
        lm_reward_learning.isaaclab_backend.launcher.IsaacLabError: the Isaac Lab backend failed
            (missing environment, worker error, timeout, cancel).
    """
    if cfg.backend == "isaaclab":
        from lm_reward_learning.isaaclab_backend.launcher import train_isaaclab

        return train_isaaclab(
            run, cfg, resume=resume, warm_start=warm_start, progress=progress, on_iteration=on_iteration,
            device=cfg.device, cancel=cancel,
        )  # fmt: skip
    if cfg.backend != "mujoco":
        raise ConfigError(f"unknown backend {cfg.backend!r}; choose mujoco or isaaclab.")
    meta = run.meta()
    files = WorkerFiles(run.path / "worker")
    files.reset()
    call_s, hard_s = reward_call_limits(run, cfg)
    TrainRequest(
        run_dir=str(run.path.resolve()),
        config=to_dict(cfg),
        resume=resume,
        warm_start=str(Path(warm_start).resolve()) if warm_start is not None else None,
        call_timeout_s=call_s,
        hard_timeout_s=hard_s,
        memory_mb=cfg.sandbox.memory_mb,
        progress_file=str(files.progress.resolve()),
        result_file=str(files.result.resolve()),
        cancel_file=str(files.cancel.resolve()),
        sandbox_report=str(files.sandbox_report.resolve()),
    ).write(files.request)
    policy = isolation.SandboxPolicy.for_paths(
        [run.path],
        [p for p in (warm_start,) if p is not None],
        cpu_time_s=600 + cfg.iterations * cfg.sandbox.cpu_time_s_per_iteration,
        report_file=files.sandbox_report,
    )
    cmd, env = isolation.sandboxed_command(
        "lm_reward_learning.training.worker",
        ["--request", str(files.request.resolve())],
        policy,
        pythonpath=[source_root()],
        tmp_dir=files.dir / "tmp",
    )
    start = int(meta.get("iterations_done", 0)) if resume else 0
    run_worker(
        cmd, env, files, run, total=cfg.iterations, start=start, desc=f"train {meta['robot']}", progress=progress,
        on_iteration=on_iteration, cancel=cancel, stall_timeout_s=max(900.0, 10 * hard_s),
        errors=WorkerErrors(label="MuJoCo training"), hard_timeout_s=hard_s,
    )  # fmt: skip
    return run


def reward_call_limits(run: RunDir, cfg: TrainConfig) -> tuple[float, float]:
    """The per-call and hard time limits of the run's reward program at train time, s.

    From the dry run's median call time and batch size in ``reward/validation.json``
    (:func:`~lm_reward_learning.reward.runtime.call_timeout_s`); the hard limit is
    ``max(cfg.sandbox.hard_timeout_s, 10 x the per-call limit)``.
    """
    from lm_reward_learning.reward.runtime import call_timeout_s

    path = run.reward_dir / "validation.json"
    validation = json.loads(path.read_text()) if path.is_file() else {}
    per_call = call_timeout_s(
        float(validation.get("wall_s") or 0.0),
        int(validation.get("num_envs") or 1),
        cfg.env.num_envs,
        factor=cfg.sandbox.call_timeout_factor,
        min_s=cfg.sandbox.min_call_timeout_s,
    )
    return per_call, max(cfg.sandbox.hard_timeout_s, 10 * per_call)


def source_root() -> Path:
    """The directory holding the ``lm_reward_learning`` package (a checkout's ``src``), for workers' ``PYTHONPATH``."""
    import lm_reward_learning

    return Path(lm_reward_learning.__file__).resolve().parent.parent
