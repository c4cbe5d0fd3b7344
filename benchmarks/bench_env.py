"""Env steps/s of MujocoVecEnv vs raw ``mujoco.batch`` stepping of the same model and contact settings.

Usage: python benchmarks/bench_env.py [--robot go2] [--num-envs 256] [--steps 200]
The baseline is ``Batch.step(nstep=decimation)`` with constant controls: the physics alone. The ratio
is the fraction of raw physics throughput our env keeps after observations, rewards and resets.
"""

from __future__ import annotations

import argparse

import mujoco
import mujoco.batch
import numpy as np
import torch
from _common import best_rate, report

from lm_reward_learning.config import load_train_config
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.reward.program import default_program, load_reward_fn
from lm_reward_learning.robots import get_robot, load_model


def main() -> None:
    """Measure and print."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--robot", default="go2")
    ap.add_argument("--num-envs", type=int, default=256)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    spec = get_robot(args.robot)
    cfg = load_train_config(args.robot, **{"env.num_envs": args.num_envs}).env

    model = load_model(spec)
    batch = mujoco.batch.Batch(model, nsim=args.num_envs)
    batch.reset(keyframe=0 if model.nkey else -1)

    def raw() -> int:
        for _ in range(args.steps):
            batch.step(nstep=cfg.decimation)
        return args.steps * args.num_envs

    env = MujocoVecEnv(spec, load_reward_fn(default_program(args.robot).source), cfg)
    rng = np.random.default_rng(0)
    actions = torch.from_numpy(rng.normal(0, 0.3, (args.num_envs, env.num_actions)).astype(np.float32))

    def ours() -> int:
        for _ in range(args.steps):
            env.step(actions)
        return args.steps * args.num_envs

    base = best_rate(raw)
    report(
        f"{args.robot}, {args.num_envs} envs, policy steps/s (decimation {cfg.decimation})",
        [("raw mujoco.batch stepping (baseline)", base, "steps/s"), ("MujocoVecEnv.step", best_rate(ours), "steps/s")],
        base,
    )


if __name__ == "__main__":
    main()
