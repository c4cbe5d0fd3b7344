"""Env steps/s of MujocoVecEnv vs raw ``mujoco.batch`` stepping, and the cost of domain randomization.

Usage: python benchmarks/bench_env.py [--robot go2] [--num-envs 256] [--steps 200]
The baseline is ``Batch.step(nstep=decimation)`` with constant controls: the physics alone. The ratio
is the fraction of raw physics throughput our env keeps after observations, rewards and resets. The
last line is the env with the robot's ``randomization:`` section (``config/train/<robot>.yaml``) over
the same env without it (issue 10 asks for >= 0.90); the two are measured alternately, best of 5
each, so that load from other processes hits both alike, in wall time and in CPU time (the process's
CPU seconds: what the randomization costs, whatever else runs on the machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

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

    train = load_train_config(args.robot, **{"env.num_envs": args.num_envs})
    reward = load_reward_fn(default_program(args.robot).source)
    env = MujocoVecEnv(spec, reward, cfg)
    # the full ranges (no curriculum ramp): what training runs at after its first iterations
    full = dataclasses.replace(train.randomization, curriculum_steps=0)
    env_dr = MujocoVecEnv(spec, reward, cfg, randomization=full)
    rng = np.random.default_rng(0)
    actions = torch.from_numpy(rng.normal(0, 0.3, (args.num_envs, env.num_actions)).astype(np.float32))

    def stepper(e: MujocoVecEnv):
        def run() -> int:
            for _ in range(args.steps):
                e.step(actions)
            return args.steps * args.num_envs

        return run

    base = best_rate(raw)
    nominal = randomized = nominal_cpu = randomized_cpu = 0.0
    for _ in range(5):  # alternate, so that other processes' load falls on both
        nominal = max(nominal, best_rate(stepper(env), repeats=1))
        randomized = max(randomized, best_rate(stepper(env_dr), repeats=1))
        nominal_cpu = max(nominal_cpu, best_rate(stepper(env), repeats=1, clock=time.process_time))
        randomized_cpu = max(randomized_cpu, best_rate(stepper(env_dr), repeats=1, clock=time.process_time))
    terms = ", ".join(train.randomization.active()) or "none"
    report(
        f"{args.robot}, {args.num_envs} envs, policy steps/s (decimation {cfg.decimation})",
        [
            ("raw mujoco.batch stepping (baseline)", base, "steps/s"),
            ("MujocoVecEnv.step", nominal, "steps/s"),
            ("MujocoVecEnv.step, domain randomization", randomized, "steps/s"),
        ],
        base,
    )
    print(f"  randomization: {terms}")
    wall, cpu = randomized / nominal, randomized_cpu / nominal_cpu
    print(f"  randomized / nominal env throughput: {wall:.3f} (wall), {cpu:.3f} (CPU time)")


if __name__ == "__main__":
    main()
