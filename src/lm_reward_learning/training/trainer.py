"""Train a policy for one reward program with rsl-rl-lib's ``OnPolicyRunner`` (no PPO of our own).

:func:`train` is the whole path: validate the reward program on states recorded from the robot's own
simulator, build the :class:`~lm_reward_learning.envs.mujoco_env.MujocoVecEnv`, run PPO, and after
every iteration write the per-term reward statistics and ``checkpoints/latest.pt`` atomically, so a
crash loses at most the iteration in progress.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from lm_reward_learning import __version__
from lm_reward_learning.config import EnvConfig, TrainConfig, to_dict
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.errors import ConfigError
from lm_reward_learning.io import atomic_write_bytes, atomic_write_json, atomic_write_text, atomic_write_yaml
from lm_reward_learning.reward.program import RewardProgram, load_reward_fn
from lm_reward_learning.reward.state import RewardState
from lm_reward_learning.reward.validator import ensure_valid
from lm_reward_learning.robots import get_robot
from lm_reward_learning.robots.spec import RobotSpec
from lm_reward_learning.training.run_dir import RunDir
from lm_reward_learning.training.runner import LmrlRunner

log = logging.getLogger(__name__)

IterationCallback = Callable[[int, dict[str, Any]], None]


def _zero_reward(state: RewardState) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
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
    env = MujocoVecEnv(spec, _zero_reward, cfg, seed=seed)
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

    Raises:
        RewardValidationError: if the program fails validation (the run directory then holds the
            program and the validation report, for the user or the LLM to read).
    """
    spec = get_robot(robot)
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
) -> RunDir:
    """Train (or resume training) the run's reward program with PPO.

    Args:
        run: A run directory made by :func:`prepare_run` (validated program inside).
        cfg: The training configuration (``cfg.iterations`` is the run's total).
        resume: Continue from ``checkpoints/latest.pt`` of ``run``.
        warm_start: Initialise the policy weights from this checkpoint (e.g. the previous iteration
            of the bi-level loop); optimiser and iteration count start fresh.
        progress: Show a tqdm progress bar on stderr.
        on_iteration: Called as ``on_iteration(it, record)`` after each iteration's record is saved.

    Returns:
        ``run``, with ``run.yaml`` status ``done``.

    Raises:
        CheckpointError: if the resume or warm-start checkpoint cannot be loaded.
        ConfigError: an unknown ``cfg.backend``.
        lm_reward_learning.isaaclab_backend.launcher.IsaacLabError: the Isaac Lab backend failed
            (missing environment, worker error, timeout, cancel).
    """
    if cfg.backend == "isaaclab":
        from lm_reward_learning.isaaclab_backend.launcher import train_isaaclab

        return train_isaaclab(
            run, cfg, resume=resume, warm_start=warm_start, progress=progress, on_iteration=on_iteration,
            device=cfg.device,
        )  # fmt: skip
    if cfg.backend != "mujoco":
        raise ConfigError(f"unknown backend {cfg.backend!r}; choose mujoco or isaaclab.")
    meta = run.meta()
    spec = get_robot(meta["robot"])
    torch.set_num_threads(cfg.torch_threads)
    seed_everything(cfg.seed)
    program = RewardProgram.from_file(run.reward_dir / "program.py")
    env = MujocoVecEnv(spec, load_reward_fn(program.source), cfg.env, seed=cfg.seed)
    runner = LmrlRunner(env, cfg.ppo.to_rsl_rl(), run)
    start = 0
    if resume:
        start = runner.load_checkpoint(run.latest_checkpoint()) + 1
        runner.current_learning_iteration = start
    elif warm_start is not None:
        runner.load_checkpoint(Path(warm_start), weights_only=True)
    records = [r for r in run.reward_stats() if r["iteration"] < start]
    remaining = cfg.iterations - start
    run.write_meta(status="training")
    if remaining <= 0:
        run.write_meta(status="done", iterations_done=start)
        return run

    bar = tqdm(total=cfg.iterations, initial=start, desc=f"train {spec.name}", unit="it", disable=not progress)
    t_last = time.perf_counter()

    def after_iteration(it: int) -> None:
        nonlocal t_last
        logger = runner.logger
        now = time.perf_counter()
        rec: dict[str, Any] = {
            "iteration": it,
            "wall_s": round(now - t_last, 3),
            "env_steps": cfg.ppo.num_steps_per_env * env.num_envs,
            "mean_episode_return": float(np.mean(logger.rewbuffer)) if logger.rewbuffer else None,
            "mean_episode_length_s": float(np.mean(logger.lenbuffer)) * env.dt if logger.lenbuffer else None,
            "explosions": env.pop_explosions(),
            "terms": env.pop_reward_stats(),
        }
        t_last = now
        records.append(rec)
        run.write_reward_stats(records)
        runner.save("latest.pt")
        run.write_meta(iterations_done=it + 1)
        if rec["mean_episode_return"] is not None:
            bar.set_postfix(ret=f"{rec['mean_episode_return']:.2f}", ep_s=f"{rec['mean_episode_length_s']:.1f}")
        bar.update(1)
        if on_iteration is not None:
            on_iteration(it, rec)

    runner.logger.on_iteration = after_iteration
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            runner.learn(num_learning_iterations=remaining)
    finally:
        bar.close()
    run.write_meta(status="done")
    return run
