"""Where a G1 walking iteration's CPU time goes: env steps/s for 29 joints vs the 12 legs (upper body welded),
and one PPO update with and without symmetry augmentation.

Usage: python benchmarks/bench_g1_walk.py [--num-envs 256] [--steps 48]
All rates are per CPU second of this process (``time.process_time``), so the other jobs on a shared
machine do not inflate them; the baseline is the env acting on all 29 joints (the G1's previous task).
The PPO rows time one ``update()`` of ``config/train/g1.yaml``'s PPO on a collected rollout
(num_envs x num_steps_per_env samples), with the mirrored copy of each mini-batch (symmetry) and without.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch
from _common import best_rate, report

from lm_reward_learning.config import load_train_config
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.reward.program import default_program, load_reward_fn
from lm_reward_learning.robots import get_robot


def main() -> None:
    """Measure and print."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--num-envs", type=int, default=256)
    ap.add_argument("--steps", type=int, default=48)
    args = ap.parse_args()
    torch.set_num_threads(1)
    spec = get_robot("g1")
    train = load_train_config("g1", **{"env.num_envs": args.num_envs, "env.num_threads": 1})
    reward = load_reward_fn(default_program("g1").source)
    envs = {
        "all": MujocoVecEnv(spec, reward, dataclasses.replace(train.env, action_joints="all", gait_clock=False)),
        "legs": MujocoVecEnv(spec, reward, train.env),
    }

    def stepper(env: MujocoVecEnv):
        def run() -> int:
            gen = torch.Generator().manual_seed(0)
            for _ in range(args.steps):
                env.step(0.3 * torch.randn(args.num_envs, env.num_actions, generator=gen))
            return args.steps * args.num_envs

        return run

    rates = {k: 0.0 for k in envs}
    for _ in range(3):  # alternate, so that other processes' load falls on both
        for k, env in envs.items():
            rates[k] = max(rates[k], best_rate(stepper(env), repeats=1, clock=time.process_time))

    ppo = {}
    for symmetry in (False, True):
        ppo[symmetry] = _update_rate(envs["legs"], dataclasses.replace(train.ppo, symmetry=symmetry))
    samples = args.num_envs * train.ppo.num_steps_per_env
    report(
        f"G1, {args.num_envs} envs, policy steps per CPU second (decimation {train.env.decimation})",
        [
            ("MujocoVecEnv, all 29 joints (baseline)", rates["all"], "steps/s"),
            ("MujocoVecEnv, legs (17 joints welded)", rates["legs"], "steps/s"),
            (f"PPO update, {samples} samples", ppo[False] * samples, "samples/s"),
            (f"PPO update, {samples} samples + mirrored", ppo[True] * samples, "samples/s"),
        ],
        rates["all"],
    )
    per_iter = samples / rates["legs"]
    print(
        f"  one iteration (legs, symmetry): env {per_iter:.2f} CPU s + PPO {1 / ppo[True]:.2f} CPU s "
        f"= {per_iter + 1 / ppo[True]:.2f} CPU s"
    )


def _update_rate(env: MujocoVecEnv, ppo_cfg) -> float:
    """PPO updates per CPU second on one collected rollout of ``env``."""
    from rsl_rl.runners import OnPolicyRunner

    runner = OnPolicyRunner(env, ppo_cfg.to_rsl_rl(), log_dir=None, device="cpu")
    alg = runner.alg
    obs = env.get_observations()
    with torch.inference_mode():
        for _ in range(ppo_cfg.num_steps_per_env):
            actions = alg.act(obs)
            obs, rewards, dones, extras = env.step(actions)
            alg.process_env_step(obs, rewards, dones, extras)
        alg.compute_returns(obs)
    t0 = time.process_time()
    alg.update()
    return 1.0 / (time.process_time() - t0)


if __name__ == "__main__":
    main()
