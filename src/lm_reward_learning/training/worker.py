"""The MuJoCo training worker: ``python -m lm_reward_learning.training.worker --request REQ.json``.

Started by :func:`~lm_reward_learning.training.trainer.train` through the reward sandbox
(``python -m lm_reward_learning.isolation.enter ...``, :mod:`lm_reward_learning.training.launcher`),
never in the caller's process. In order:

1. build the :class:`~lm_reward_learning.envs.mujoco_env.MujocoVecEnv` (with the request's domain
   randomization, ``config["randomization"]``) and rsl-rl-lib's runner (trusted code; a placeholder
   reward), load the resume or warm-start checkpoint;
2. seal the process (:func:`lm_reward_learning.isolation.seal`: ``RLIMIT_DATA`` at the current data
   size plus ``memory_mb``, then seccomp);
3. only then compile the run's reward program (language sandbox) and wrap it in a
   :class:`~lm_reward_learning.reward.runtime.RewardCallGuard` (per-call time limit, output checks);
4. train with PPO, writing after every iteration the per-term reward statistics,
   ``checkpoints/latest.pt`` (atomically: a crash loses at most one iteration), ``run.yaml`` and a
   progress event; stop after the iteration in which the cancel file appears.

A reward program that fails (time, memory, sandbox, bad output, exception) ends training with
``run.yaml`` ``status: failed`` and ``failure: {kind, line, call, message}``, and the result
``error_kind: RewardRuntimeError``. A call stuck past the hard limit is ended by the watchdog
(exit 1, its stack in ``reward_watchdog.txt``); the launcher records that failure.

Exit codes: 0 done, 1 error, 2 bad request, 3 cancelled, 4 the reward program failed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import time
from pathlib import Path
from typing import Any

import torch

from lm_reward_learning import isolation
from lm_reward_learning.training.run_dir import RunDir
from lm_reward_learning.training.worker_entry import IterationRecorder, worker_main
from lm_reward_learning.training.worker_protocol import (
    ProgressWriter,
    TrainRequest,
    WorkerResult,
    sandbox_layers,
)

log = logging.getLogger(__name__)

#: Next to the result file: the reward call watchdog's output (see ``reward.runtime.RewardCallGuard``).
HARD_TIMEOUT_FILE = "reward_watchdog.txt"


def _placeholder_reward(state: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    raise RuntimeError("the reward program is compiled after the worker is sealed")


def train(req: TrainRequest, progress: ProgressWriter, sandbox: dict[str, Any]) -> WorkerResult:
    """Build, seal, compile the program, train; see the module docstring.

    ``sandbox`` is filled with the sandbox report once the worker sealed itself.

    Raises:
        CancelledError: the cancel file appeared (after the iteration's checkpoint was written).
        RewardRuntimeError: the reward program failed.
        LmrlError: bad run directory, config or checkpoint.
    """
    from lm_reward_learning.config import TrainConfig, from_dict
    from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
    from lm_reward_learning.reward.program import RewardProgram, load_reward_fn
    from lm_reward_learning.reward.runtime import RewardCallGuard
    from lm_reward_learning.robots import get_robot
    from lm_reward_learning.training.runner import LmrlRunner
    from lm_reward_learning.training.trainer import seed_everything

    t_start = time.perf_counter()
    run = RunDir.open(Path(req.run_dir))
    cfg = from_dict(TrainConfig, req.config, "request config")
    spec = get_robot(run.meta()["robot"])
    torch.set_num_threads(cfg.torch_threads)
    seed_everything(cfg.seed)
    progress.emit("phase", phase="building")
    env = MujocoVecEnv(spec, _placeholder_reward, cfg.env, seed=cfg.seed, randomization=cfg.randomization)
    runner = LmrlRunner(env, cfg.ppo.to_rsl_rl(), run)
    start = 0
    if req.resume:
        start = runner.load_checkpoint(run.latest_checkpoint()) + 1
        runner.current_learning_iteration = start
        env.common_step_counter = start * cfg.ppo.num_steps_per_env  # the randomization curriculum goes on
    elif req.warm_start:
        runner.load_checkpoint(Path(req.warm_start), weights_only=True)

    base = isolation.vm_data_bytes()
    layers = isolation.seal(memory_limit_bytes=base + int(req.memory_mb * 2**20) if base else None)
    sandbox.update(layers)
    program = RewardProgram.from_file(run.reward_dir / "program.py")

    env.reward_fn = RewardCallGuard(
        load_reward_fn(program.source),
        program.source,
        call_timeout_s=req.call_timeout_s,
        hard_timeout_s=req.hard_timeout_s,
        hard_timeout_file=Path(req.result_file).with_name(HARD_TIMEOUT_FILE),
    )
    records = [r for r in run.reward_stats() if r["iteration"] < start]
    remaining = cfg.iterations - start
    run.write_meta(status="training", backend="mujoco", sandbox=sandbox_layers(layers))
    t_built, cpu_built = time.perf_counter(), time.process_time()
    progress.emit("phase", phase="training", build_s=round(t_built - t_start, 2))
    runner.logger.on_iteration = IterationRecorder(
        run, runner, progress, total=cfg.iterations, env_steps=cfg.ppo.num_steps_per_env * env.num_envs,
        step_dt=env.dt, records=records, cancel_file=Path(req.cancel_file),
        pop_stats=lambda: (env.pop_explosions(), env.pop_reward_stats()),
    )  # fmt: skip
    if remaining > 0:
        with contextlib.redirect_stdout(io.StringIO()):
            runner.learn(num_learning_iterations=remaining)
    t_end, cpu_end = time.perf_counter(), time.process_time()
    run.write_meta(status="done")
    steps = max(remaining, 0) * cfg.ppo.num_steps_per_env * env.num_envs
    return WorkerResult(
        status="done",
        iterations_done=int(run.meta().get("iterations_done", 0)),
        wall_s=round(t_end - t_start, 2),
        timings={
            "build_s": round(t_built - t_start, 2),
            "train_s": round(t_end - t_built, 2),
            "train_cpu_s": round(cpu_end - cpu_built, 2),
            "env_steps_per_s": round(steps / max(t_end - t_built, 1e-9), 1),
        },
        sandbox=sandbox_layers(layers),
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point (:func:`~lm_reward_learning.training.worker_entry.worker_main`; exit codes above)."""
    return worker_main(
        argv,
        label="train-worker",
        read=TrainRequest.read,
        train=train,
        versions=lambda: {"torch": str(torch.__version__)},
    )


if __name__ == "__main__":
    sys.exit(main())
