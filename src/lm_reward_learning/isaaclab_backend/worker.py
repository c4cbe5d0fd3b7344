"""The Isaac Lab training worker: ``python -m lm_reward_learning.isaaclab_backend.worker --request REQ.json``.

Runs in Isaac Lab's own environment (``.venv-isaaclab``), started by
:func:`~lm_reward_learning.isaaclab_backend.launcher.train_isaaclab`. It imports only what that
environment has: our pure modules (``config``-free: the request carries the training settings, the
observation layout and the rsl-rl ``train_cfg``), ``isaaclab``, ``rsl_rl`` and torch; never the MuJoCo
backend (that needs MuJoCo 4, this venv has Newton's MuJoCo 3.12).

What it writes, all into the run directory made by ``prepare_run`` (the MuJoCo trainer's layout):
``checkpoints/latest.pt`` after every iteration and ``model_<i>.pt`` every ``save_interval``
(atomically; the same rsl-rl ``alg.save()`` content, so ``lmrl play`` / ``lmrl export`` load them into
the MuJoCo env), ``reward_stats.json`` (the MuJoCo trainer's record format), ``run.yaml`` (status,
``iterations_done``, ``backend: isaaclab``), TensorBoard logs in ``tb/``. Progress and the result go
to the files named in the request (:mod:`~.protocol`); stdout is never read by anyone.

It runs inside the reward sandbox (started through :mod:`lm_reward_learning.isolation.enter`): once
the Isaac Lab environment is built it seals itself (memory limit, seccomp) and only then compiles
the reward program, with its train-time limits (:mod:`lm_reward_learning.reward.runtime`).

Exit codes: 0 done, 3 cancelled, 1 error (the result file says which and why), 2 bad request, 4 the
reward program failed (``run.yaml``: ``status: failed``, ``failure``).
"""

from __future__ import annotations

import contextlib
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lm_reward_learning import isolation
from lm_reward_learning.isaaclab_backend.protocol import (
    ProgressWriter,
    WorkerRequest,
    WorkerResult,
)
from lm_reward_learning.training.run_dir import RunDir
from lm_reward_learning.training.runner import LmrlRunner
from lm_reward_learning.training.worker_entry import CancelledError, IterationRecorder, worker_main
from lm_reward_learning.training.worker_protocol import sandbox_layers

log = logging.getLogger(__name__)


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(req: WorkerRequest, progress: ProgressWriter, sandbox: dict[str, Any]) -> WorkerResult:
    """Build the Isaac Lab task, seal, compile the program, train with rsl-rl; see the module docstring.

    Args:
        req: The request.
        progress: The progress file writer.
        sandbox: Filled with the sandbox report once the worker sealed itself.

    Raises:
        CancelledError: the cancel file appeared (after the iteration's checkpoint was written).
        RewardRuntimeError: the reward program failed.
        LmrlError: bad run directory, checkpoint, robot or observation layout.
    """
    import importlib.metadata as md

    from isaaclab.app import launch_simulation

    from lm_reward_learning.isaaclab_backend.task import build_env_cfg
    from lm_reward_learning.robots import get_robot

    t_start = time.perf_counter()
    torch.set_num_threads(req.torch_threads)
    _seed(req.seed)
    run = RunDir.open(Path(req.run_dir))
    spec = get_robot(req.robot)
    cfg = build_env_cfg(
        spec,
        env=req.env,
        observation_layout=req.observation_layout,
        physics_dt=req.physics_dt,
        assets_dir=Path(req.assets_dir),
        program_file=run.reward_dir / "program.py",
        device=req.device,
        seed=req.seed,
        randomization=req.randomization,
    )
    progress.emit("phase", phase="building")
    with launch_simulation(cfg, {"device": req.device}):
        from isaaclab.envs import ManagerBasedRLEnv
        from isaaclab_rl.rsl_rl import RslRlVecEnvWrapper

        with contextlib.redirect_stdout(sys.stderr):  # Isaac Lab prints its manager tables
            env = ManagerBasedRLEnv(cfg=cfg)
        try:
            term = env.reward_manager.get_term_cfg("reward_program").func.binding
            # trusted set-up is done: limit memory, install seccomp, only then compile the program
            base = isolation.vm_data_bytes()
            layers = isolation.seal(memory_limit_bytes=base + int(req.memory_mb * 2**20) if base else None)
            sandbox.update(layers)

            term.load_program(
                call_timeout_s=req.call_timeout_s or 1.0,
                hard_timeout_s=req.hard_timeout_s,
                hard_timeout_file=Path(req.result_file).with_name("reward_watchdog.txt"),
            )
            vec = RslRlVecEnvWrapper(env)
            runner = LmrlRunner(vec, req.train_cfg, run, req.device)
            start = 0
            if req.resume:
                start = runner.load_checkpoint(run.latest_checkpoint()) + 1
                runner.current_learning_iteration = start
                # the randomization curriculum (isaaclab_backend/events.py) goes on where it was
                env.common_step_counter = start * int(req.train_cfg["num_steps_per_env"])
            elif req.warm_start:
                runner.load_checkpoint(Path(req.warm_start), weights_only=True)
            records = [r for r in run.reward_stats() if r["iteration"] < start]
            remaining = req.iterations - start
            run.write_meta(
                status="training",
                backend="isaaclab",
                device=req.device,
                isaaclab_version=md.version("isaaclab"),
                sandbox=sandbox_layers(sandbox),
            )
            t_built = time.perf_counter()
            progress.emit("phase", phase="training", build_s=round(t_built - t_start, 2))
            steps_per_iteration = int(req.train_cfg["num_steps_per_env"]) * env.num_envs

            def pop_stats() -> tuple[int, dict[str, Any]]:
                explosions, term.explosions = term.explosions, 0
                return explosions, term.stats.pop()

            runner.logger.on_iteration = IterationRecorder(
                run, runner, progress, total=req.iterations, env_steps=steps_per_iteration, step_dt=env.step_dt,
                records=records, cancel_file=Path(req.cancel_file), pop_stats=pop_stats,
            )  # fmt: skip
            if remaining > 0:
                try:
                    with contextlib.redirect_stdout(sys.stderr):
                        runner.learn(num_learning_iterations=remaining)
                except CancelledError:
                    run.write_meta(status="cancelled")
                    raise
            t_end = time.perf_counter()
            run.write_meta(status="done")
            done = int(run.meta().get("iterations_done", 0))
            train_s = t_end - t_built
            return WorkerResult(
                status="done",
                iterations_done=done,
                wall_s=round(t_end - t_start, 2),
                timings={
                    "build_s": round(t_built - t_start, 2),
                    "train_s": round(train_s, 2),
                    "env_steps_per_s": round(max(remaining, 0) * steps_per_iteration / max(train_s, 1e-9), 1),
                },
                checks=dict(term.cross_check or {}),
                sandbox=sandbox_layers(sandbox),
            )
        finally:
            env.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point (:func:`~lm_reward_learning.training.worker_entry.worker_main`; exit codes above)."""
    return worker_main(argv, label="isaaclab-worker", read=WorkerRequest.read, train=train, versions=_versions)


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    return {"isaaclab": md.version("isaaclab")}


if __name__ == "__main__":
    sys.exit(main())
