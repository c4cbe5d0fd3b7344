"""PPO iterations/s on the CPU, split into collection and update, vs environment stepping alone.

Usage: python benchmarks/bench_ppo.py [--robot go2] [--num-envs 256] [--iterations 5]
Baseline: the env stepping the same number of steps with the policy's inference (collection without
learning); the ratio shows how much of an iteration the PPO update costs. The PPO time is the
training worker's own ``train_s`` (``worker/result.json``): the iterations, without the worker's
process start-up. Where an iteration's time goes is rsl-rl's own split, which the worker records per
iteration in ``reward_stats.json`` (``collect_s``: stepping the env with the policy; ``learn_s``: the
PPO update, ``num_learning_epochs`` x ``num_mini_batches`` gradient steps), and the rest of
``wall_s`` (the per-iteration record, the ``latest.pt`` checkpoint). Wall time on a shared machine is
inflated by other processes' load; the worker's CPU time (``train_cpu_s``) is printed too.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from lm_reward_learning.config import load_train_config
from lm_reward_learning.reward.program import default_program
from lm_reward_learning.training.trainer import prepare_run, train


def main() -> None:
    """Measure and print."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--robot", default="go2")
    ap.add_argument("--num-envs", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_train_config(args.robot, iterations=args.iterations, **{"env.num_envs": args.num_envs})
    with tempfile.TemporaryDirectory() as tmp:
        run = prepare_run(args.robot, default_program(args.robot), cfg, Path(tmp))
        train(run, cfg, progress=False)
        timings = json.loads((run.path / "worker" / "result.json").read_text())["timings"]
        total, total_cpu = float(timings["train_s"]), float(timings["train_cpu_s"])
        records = run.reward_stats()
        from lm_reward_learning.export import load_policy

        policy, _, _, _ = load_policy(run)
    from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
    from lm_reward_learning.reward.program import load_reward_fn
    from lm_reward_learning.robots import get_robot

    env = MujocoVecEnv(get_robot(args.robot), load_reward_fn(default_program(args.robot).source), cfg.env)
    obs = env.get_observations()
    steps = cfg.ppo.num_steps_per_env * args.iterations
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(steps):
            obs, *_ = env.step(policy(obs, stochastic_output=True))
    collect = time.perf_counter() - t0
    n = steps * args.num_envs
    print(f"{args.robot}, {args.num_envs} envs, {args.iterations} iterations of {cfg.ppo.num_steps_per_env} steps")
    print(f"  collection only (baseline)   {n / collect:10.0f} env-steps/s   ratio 1.000")
    print(
        f"  full PPO iteration           {n / total:10.0f} env-steps/s   ratio {collect / total:.3f}"
        f"   ({args.iterations / total:.3f} iterations/s; worker CPU {total_cpu:.1f} s for {total:.1f} s wall)"
    )
    split = {k: sum(float(r.get(k, 0.0)) for r in records) for k in ("wall_s", "collect_s", "learn_s")}
    if split["wall_s"] > 0:
        rest = split["wall_s"] - split["collect_s"] - split["learn_s"]
        print(
            "  where an iteration goes (rsl-rl's split, reward_stats.json): "
            + ", ".join(
                f"{name} {v / args.iterations:.2f} s ({v / split['wall_s']:.0%})"
                for name, v in (
                    ("collection", split["collect_s"]),
                    ("PPO update", split["learn_s"]),
                    ("record + checkpoint", rest),
                )
            )
        )


if __name__ == "__main__":
    main()
