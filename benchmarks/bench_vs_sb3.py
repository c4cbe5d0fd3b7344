"""Our trainer against Stable-Baselines3 PPO on the same Go2 task: env steps/s and time to walking.

Usage (needs the optional extra: ``pip install -e '.[bench]'``, i.e. stable-baselines3 and gymnasium)::

    python benchmarks/bench_vs_sb3.py [--quick] [--cap-minutes 30] [--num-envs 256] [--eval-every 25]

The task is the same for both: the Go2 MJCF model, the actor observation (45 values: Isaac Lab's
velocity-task ``policy`` group), 12 joint-position actions and the bundled reward program
(``default_program("go2")``), all from :class:`~lm_reward_learning.envs.mujoco_env.MujocoVecEnv`.

* **ours**: rsl-rl PPO (``LmrlRunner``, the settings of ``config/train/go2.yaml``) on one
  ``MujocoVecEnv`` of ``--num-envs`` robots stepped together by ``mujoco.batch`` (what ``lmrl train``
  runs; here in this process, without the training worker's sandbox).
* **SB3**: what a user would pick instead on a CPU: a gymnasium MuJoCo env of one robot
  (:class:`Go2Env`: a ``gymnasium.Env`` over a one-robot ``MujocoVecEnv``, so the observation,
  reward, termination and resets are exactly ours), ``--num-envs`` copies in SB3's ``DummyVecEnv``,
  observations normalised by ``VecNormalize`` (ours normalises too), and SB3's ``PPO`` with our PPO
  settings where SB3 has them (24 steps per env, 4 mini-batches, 5 epochs, learning rate 1e-3,
  gamma 0.99, lambda 0.95, clip 0.2, entropy 0.005, value coefficient 1.0, gradient norm 1.0,
  128-128-128 ELU actor and critic, initial std 0.5). SB3 has no adaptive learning-rate schedule: its
  ``target_kl`` 0.01 stops an update early instead. Its critic sees the actor's observation (SB3 has
  no asymmetric critic; ours also sees base velocity, height and contacts).

Walking criterion (issue 17): a 10 s rollout of the deterministic policy commanded at 0.75 m/s (the
middle of the trained ``lin_vel_x`` range), started level, without a fall and with a forward speed of at
least 0.5 m/s. Each trainer trains in chunks of ``--eval-every`` PPO iterations (``num_envs * 24`` env
steps each) and is evaluated after every chunk; evaluation time is not training time. A trainer stops
at the criterion or at the cap (``--cap-minutes`` of training wall time, and ``--cap-steps`` env
steps); one that hits a cap is reported as "not reached within" it. Wall time is inflated by other
processes' load (the load average is printed); CPU time (this process, all threads) is not.
``torch.set_num_threads(1)`` for both. ``--quick``: 64 envs, chunks of 5 iterations, 2 minutes each:
the plumbing, not the result.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lm_reward_learning.config import TrainConfig, load_train_config
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.reward.program import default_program, load_reward_fn
from lm_reward_learning.robots import get_robot

ROBOT = "go2"
EVAL_COMMAND_MPS = 0.75
EVAL_S = 10.0
MIN_SPEED_MPS = 0.5

try:
    import gymnasium as gym
except ImportError:  # reported in main(), with the install command
    gym = None


def walking(policy: Callable[[np.ndarray], np.ndarray], cfg: TrainConfig) -> tuple[bool, float, bool]:
    """The criterion: ``(met, forward speed m/s, fell)`` of a 10 s rollout of ``policy`` (observation (1, 45)
    float32 -> action (1, 12)) at 0.75 m/s, on a fresh one-robot env without observation noise."""
    env_cfg = dataclasses.replace(cfg.env, num_envs=1, obs_noise=False, num_threads=1)
    env = MujocoVecEnv(get_robot(ROBOT), load_reward_fn(default_program(ROBOT).source), env_cfg, seed=123)
    obs = env.start_rollout((EVAL_COMMAND_MPS, 0.0, 0.0), yaw=0.0, duration_s=EVAL_S)
    x0 = float(env.last_state.base_pos_w[0, 0])
    fell = False
    steps = round(EVAL_S / env.dt)
    for _ in range(steps):
        with torch.no_grad():
            action = policy(obs["policy"].numpy())
        obs, _, dones, _ = env.step(torch.as_tensor(action, dtype=torch.float32).reshape(1, -1))
        if bool(dones[0]):  # no time-out before EVAL_S: a fall (or a blow-up)
            fell = True
            break
    speed = (float(env.last_state.base_pos_w[0, 0]) - x0) / EVAL_S
    return (not fell and speed >= MIN_SPEED_MPS), speed, fell


class Trainer:
    """A trainer under test: ``train(iterations)`` then ``policy`` for the criterion."""

    name = ""

    def train(self, iterations: int) -> None:
        raise NotImplementedError

    def policy(self) -> Callable[[np.ndarray], np.ndarray]:
        raise NotImplementedError


class Ours(Trainer):
    """rsl-rl PPO on the batched ``MujocoVecEnv`` (``LmrlRunner``, as the training worker builds it)."""

    name = "ours (rsl-rl PPO, mujoco.batch)"

    def __init__(self, cfg: TrainConfig, tmp: Path) -> None:
        from lm_reward_learning.training.runner import LmrlRunner
        from lm_reward_learning.training.trainer import prepare_run, seed_everything

        seed_everything(cfg.seed)
        run = prepare_run(ROBOT, default_program(ROBOT), cfg, tmp)
        reward = load_reward_fn(default_program(ROBOT).source)
        self.env = MujocoVecEnv(get_robot(ROBOT), reward, cfg.env, seed=cfg.seed)
        self.runner = LmrlRunner(self.env, cfg.ppo.to_rsl_rl(), run)

    def train(self, iterations: int) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            self.runner.learn(num_learning_iterations=iterations)

    def policy(self) -> Callable[[np.ndarray], np.ndarray]:
        from tensordict import TensorDict

        net = self.runner.get_inference_policy()

        def act(obs: np.ndarray) -> np.ndarray:
            td = TensorDict({"policy": torch.from_numpy(obs)}, batch_size=[obs.shape[0]])
            return net(td).numpy()

        return act


if gym is not None:

    class Go2Env(gym.Env):
        """One Go2 as a gymnasium env: a one-robot ``MujocoVecEnv`` (our observation, reward, termination).

        ``terminated`` on a fall, ``truncated`` at the episode's time-out; the inner env resets itself, so
        :meth:`reset` after an episode end is the inner env's reset again (a new start state).
        """

        def __init__(self, cfg: TrainConfig, seed: int) -> None:
            env_cfg = dataclasses.replace(cfg.env, num_envs=1, num_threads=1)
            self.inner = MujocoVecEnv(
                get_robot(ROBOT), load_reward_fn(default_program(ROBOT).source), env_cfg, seed=seed
            )
            d = self.inner.get_observations()["policy"].shape[1]
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (d,), np.float32)
            clip = cfg.env.action_clip
            self.action_space = gym.spaces.Box(-clip, clip, (self.inner.num_actions,), np.float32)

        def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
            super().reset(seed=seed)
            return self.inner.reset()["policy"][0].numpy().copy(), {}

        def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
            obs, reward, dones, extras = self.inner.step(torch.as_tensor(action, dtype=torch.float32).reshape(1, -1))
            truncated = bool(extras["time_outs"][0])
            terminated = bool(dones[0]) and not truncated
            return obs["policy"][0].numpy().copy(), float(reward[0]), terminated, truncated, {}


class SB3(Trainer):
    """SB3 PPO on ``num_envs`` one-robot gymnasium envs in a ``DummyVecEnv`` with ``VecNormalize``."""

    name = "SB3 PPO (gymnasium env, DummyVecEnv)"

    def __init__(self, cfg: TrainConfig) -> None:
        from stable_baselines3 import PPO
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        p, n = cfg.ppo, cfg.env.num_envs
        torch.manual_seed(cfg.seed)
        venv = DummyVecEnv([lambda i=i: Go2Env(cfg, seed=cfg.seed + i) for i in range(n)])
        self.venv = VecNormalize(venv, norm_obs=True, norm_reward=False, gamma=p.gamma)
        self.steps_per_iteration = p.num_steps_per_env * n
        self.model = PPO(
            "MlpPolicy",
            self.venv,
            n_steps=p.num_steps_per_env,
            batch_size=self.steps_per_iteration // p.num_mini_batches,
            n_epochs=p.num_learning_epochs,
            learning_rate=p.learning_rate,
            gamma=p.gamma,
            gae_lambda=p.lam,
            clip_range=p.clip_param,
            ent_coef=p.entropy_coef,
            vf_coef=p.value_loss_coef,
            max_grad_norm=p.max_grad_norm,
            target_kl=p.desired_kl,
            policy_kwargs={
                "net_arch": {"pi": list(p.actor_hidden_dims), "vf": list(p.critic_hidden_dims)},
                "activation_fn": torch.nn.ELU,
                "log_std_init": math.log(p.init_noise_std),
            },
            seed=cfg.seed,
            device="cpu",
            verbose=0,
        )

    def train(self, iterations: int) -> None:
        self.model.learn(total_timesteps=iterations * self.steps_per_iteration, reset_num_timesteps=False)

    def policy(self) -> Callable[[np.ndarray], np.ndarray]:
        def act(obs: np.ndarray) -> np.ndarray:
            return self.model.predict(self.venv.normalize_obs(obs), deterministic=True)[0]

        return act


def race(trainer: Trainer, cfg: TrainConfig, args: argparse.Namespace) -> dict[str, Any]:
    """Train in chunks until the criterion or a cap; the training's wall and CPU time and env steps."""
    steps_per_it = cfg.ppo.num_steps_per_env * cfg.env.num_envs
    wall = cpu = 0.0
    its = 0
    history = []
    while True:
        w0, c0 = time.perf_counter(), time.process_time()
        trainer.train(args.eval_every)
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        its += args.eval_every
        met, speed, fell = walking(trainer.policy(), cfg)
        history.append((its, round(wall, 1), round(speed, 2), fell))
        print(
            f"  {trainer.name}: {its} iterations, {wall:.0f} s: {speed:.2f} m/s{', fell' if fell else ''}", flush=True
        )
        if met or wall >= args.cap_minutes * 60 or its * steps_per_it >= args.cap_steps:
            return {"met": met, "wall": wall, "cpu": cpu, "steps": its * steps_per_it, "history": history}


def main() -> None:
    """Race both trainers; print env steps/s, time to the criterion and the ratios."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="64 envs, chunks of 5 iterations, 2 min caps")
    ap.add_argument("--num-envs", type=int, default=256)
    ap.add_argument("--eval-every", type=int, default=25, help="PPO iterations between evaluations")
    ap.add_argument("--cap-minutes", type=float, default=30.0, help="training wall time cap per trainer")
    ap.add_argument("--cap-steps", type=float, default=50e6, help="env steps cap per trainer")
    args = ap.parse_args()
    if args.quick:
        args.num_envs, args.eval_every, args.cap_minutes = 64, 5, 2.0
    if args.num_envs < 1 or args.eval_every < 1 or args.cap_minutes <= 0 or args.cap_steps <= 0:
        print("bench_vs_sb3: --num-envs, --eval-every, --cap-minutes and --cap-steps must be positive", file=sys.stderr)
        raise SystemExit(2)
    if gym is None:
        print("bench_vs_sb3: needs stable-baselines3 and gymnasium: pip install -e '.[bench]'", file=sys.stderr)
        raise SystemExit(2)
    torch.set_num_threads(1)
    cfg = load_train_config(ROBOT, **{"env.num_envs": args.num_envs})
    load0 = os.getloadavg()[0]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for make in (lambda: Ours(cfg, Path(tmp)), lambda: SB3(cfg)):
            trainer = make()
            results[trainer.name] = race(trainer, cfg, args)
            del trainer
    ours, sb3 = results.values()
    print(
        f"{ROBOT}, {args.num_envs} envs, criterion: no fall and >= {MIN_SPEED_MPS} m/s in a {EVAL_S:g} s rollout at "
        f"{EVAL_COMMAND_MPS} m/s; caps {args.cap_minutes:g} min, {args.cap_steps:.3g} env steps; {os.cpu_count()} "
        f"CPUs, load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    )
    for name, r in results.items():
        reached = "reached" if r["met"] else "NOT reached"
        print(
            f"  {name:<40} {r['steps'] / r['wall']:9.0f} env steps/s (wall), {r['steps'] / r['cpu']:9.0f} per CPU s; "
            f"criterion {reached} after {r['steps']:.3g} steps, {r['wall'] / 60:.1f} min wall, "
            f"{r['cpu'] / 60:.1f} min CPU"
        )
    print(
        f"  throughput ours / SB3: {(ours['steps'] / ours['wall']) / (sb3['steps'] / sb3['wall']):.2f} (wall), "
        f"{(ours['steps'] / ours['cpu']) / (sb3['steps'] / sb3['cpu']):.2f} (CPU time)"
    )
    if ours["met"] and sb3["met"]:
        print(
            f"  time to the criterion SB3 / ours: {sb3['wall'] / ours['wall']:.2f} (wall), "
            f"{sb3['cpu'] / ours['cpu']:.2f} (CPU)"
        )
    elif ours["met"]:
        print(
            f"  time to the criterion SB3 / ours: > {sb3['wall'] / ours['wall']:.2f} (wall), > "
            f"{sb3['cpu'] / ours['cpu']:.2f} (CPU): SB3 did not reach it within its cap"
        )
    else:
        print("  time to the criterion: ours did not reach it within the cap; no ratio")


if __name__ == "__main__":
    main()
