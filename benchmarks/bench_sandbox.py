"""Training throughput inside the reward sandbox vs without it (issue 12: >= 95 %).

Usage: python benchmarks/bench_sandbox.py [--robot go2] [--num-envs 256] [--iterations 10] [--rounds 2]

Three ways to train the same bundled reward program with the same PPO settings, timed over the PPO
iterations only (environment and runner already built, so process start-up is not counted):

* baseline: this process, the program ``exec``-ed with the real ``torch`` module, no guard, no limits;
* language layer: this process, the program compiled by the sandbox (facades, attribute guard) and
  called through ``RewardCallGuard`` (per-call CPU-time limit, watchdog, output checks);
* sandbox: the product path, ``trainer.train`` -> the sandboxed worker (scrubbed environment,
  Landlock, seccomp, rlimits, and the language layer); its ``train_s`` from ``worker/result.json``.

The rounds alternate the three and the ratios use the sums. Both wall time and CPU time (all threads
of the process, ``time.process_time``) are reported: on a shared machine the wall-time ratio moves with
the other jobs' load, the CPU-time ratio much less. Prints env-steps per second of each and the ratios
to the baseline.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import tempfile
import time
from pathlib import Path

import torch

from lm_reward_learning.config import load_train_config
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.reward.program import default_program
from lm_reward_learning.reward.runtime import RewardCallGuard
from lm_reward_learning.reward.sandbox import compile_reward_fn
from lm_reward_learning.robots import get_robot
from lm_reward_learning.training.run_dir import RunDir
from lm_reward_learning.training.runner import LmrlRunner
from lm_reward_learning.training.trainer import prepare_run, train


def raw_reward_fn(source: str):
    """The program without any sandbox: ``exec`` with the real modules."""
    namespace = {"torch": torch, "math": math}
    exec(compile(source, "<reward>", "exec"), namespace)
    return namespace["compute_reward"]


def in_process(cfg, robot: str, fn, root: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``cfg.iterations`` PPO iterations in this process (checkpoint after each)."""
    run = RunDir.create_at(root)
    run.write_meta(robot=robot, status="training")
    env = MujocoVecEnv(get_robot(robot), fn, cfg.env, seed=cfg.seed)
    runner = LmrlRunner(env, cfg.ppo.to_rsl_rl(), run)
    runner.logger.on_iteration = lambda it: runner.save("latest.pt")
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        runner.learn(num_learning_iterations=cfg.iterations)
    return time.perf_counter() - t0, time.process_time() - c0


def sandboxed(cfg, robot: str, root: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the PPO iterations in the sandboxed worker (its ``train_s``, ``train_cpu_s``)."""
    run = prepare_run(robot, default_program(robot), cfg, root.parent, run_path=root)
    train(run, cfg, progress=False)
    timings = json.loads((run.path / "worker" / "result.json").read_text())["timings"]
    return float(timings["train_s"]), float(timings["train_cpu_s"])


def main() -> None:
    """Measure and print."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--robot", default="go2")
    ap.add_argument("--num-envs", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_train_config(args.robot, iterations=args.iterations, **{"env.num_envs": args.num_envs})
    source = default_program(args.robot).source
    totals = {name: [0.0, 0.0] for name in ("baseline", "language layer", "sandbox")}

    def add(name: str, seconds: tuple[float, float]) -> None:
        totals[name] = [a + b for a, b in zip(totals[name], seconds, strict=True)]

    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            add("baseline", in_process(cfg, args.robot, raw_reward_fn(source), Path(tmp, f"base{r}")))
            guarded = RewardCallGuard(
                compile_reward_fn(source), source, call_timeout_s=1.0, hard_timeout_s=30.0,
                hard_timeout_file=Path(tmp, f"watchdog{r}.txt"),
            )  # fmt: skip
            add("language layer", in_process(cfg, args.robot, guarded, Path(tmp, f"lang{r}")))
            add("sandbox", sandboxed(cfg, args.robot, Path(tmp, f"sandbox{r}")))
    steps = args.rounds * args.iterations * cfg.ppo.num_steps_per_env * args.num_envs
    print(
        f"{args.robot}, {args.num_envs} envs, {args.rounds} rounds x {args.iterations} PPO iterations of "
        f"{cfg.ppo.num_steps_per_env} steps"
    )
    base_wall, base_cpu = totals["baseline"]
    for name, (wall, cpu) in totals.items():
        print(
            f"  {name:16s} {steps / wall:8.0f} env-steps/s (wall)  ratio {base_wall / wall:.3f}   "
            f"{steps / cpu:8.0f} env-steps per CPU-s  ratio {base_cpu / cpu:.3f}"
        )


if __name__ == "__main__":
    main()
