"""Robustness rollouts in Isaac Lab: ``python -m lm_reward_learning.isaaclab_backend.rollout_worker --request R.json``.

Runs in ``.venv-isaaclab``, started by :func:`lm_reward_learning.isaaclab_backend.robustness.run_isaaclab`.
Builds the task (:func:`~.task.build_env_cfg`) with the condition's randomization as event terms, one
env per episode, every env heading +x (``reset_yaw = (0, 0)``), runs an exported ONNX policy
(onnxruntime) through the command sequence and writes what
:func:`lm_reward_learning.evaluation.battery.metrics` needs into an ``.npz``. The reward term is the
robot's bundled program (a trusted, shipped program; only its ``RewardState`` is read: the same state
mapping training uses). No untrusted code runs here.

Request (JSON): ``robot``, ``onnx``, ``onnx_input``, ``onnx_output``, ``env`` (``to_dict(EnvConfig)``),
``observation_layout``, ``physics_dt``, ``assets_dir``, ``randomization``, ``seed``, ``duration_s``,
``sequence`` (``[[start_s, [v_x, v_y, yaw_rate]], ...]``), ``program_file``, ``out``.

Exit codes: 0 done, 1 error (message on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch


def rollout(req: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run the request's episodes; return the recorded arrays (as
    :class:`~lm_reward_learning.evaluation.battery.EpisodeArrays` names them, plus summed foot forces)."""
    import onnxruntime as ort
    from isaaclab.app import launch_simulation

    from lm_reward_learning.isaaclab_backend.binding import COMMAND, ROBOT
    from lm_reward_learning.isaaclab_backend.task import build_env_cfg
    from lm_reward_learning.robots import get_robot

    torch.manual_seed(int(req["seed"]))
    spec = get_robot(req["robot"])
    sequence = [(float(t), tuple(float(v) for v in c)) for t, c in req["sequence"]]
    env_dict = dict(req["env"])
    first = sequence[0][1]
    env_dict["commands"] = {
        "lin_vel_x": [first[0]] * 2,
        "lin_vel_y": [first[1]] * 2,
        "ang_vel_z": [first[2]] * 2,
        "resampling_time_s": float(req["duration_s"]) + 10.0,
    }
    env_dict["episode_length_s"] = float(req["duration_s"]) + 1.0
    cfg = build_env_cfg(
        spec,
        env=env_dict,
        observation_layout=req["observation_layout"],
        physics_dt=float(req["physics_dt"]),
        assets_dir=Path(req["assets_dir"]),
        program_file=Path(req["program_file"]),
        device="cpu",
        seed=int(req["seed"]),
        randomization=req["randomization"],
        reset_yaw=(0.0, 0.0),
    )
    session = ort.InferenceSession(req["onnx"], providers=["CPUExecutionProvider"])
    rec: dict[str, list[np.ndarray]] = {k: [] for k in ("alive", "vel", "cmd", "power", "xy", "fvel", "contact", "fz")}
    with launch_simulation(cfg, {"device": "cpu"}):
        from isaaclab.envs import ManagerBasedRLEnv

        with contextlib.redirect_stdout(sys.stderr):
            env = ManagerBasedRLEnv(cfg=cfg)
        binding = env.reward_manager.get_term_cfg("reward_program").func.binding
        term = env.command_manager.get_term(COMMAND)
        dt = float(env.step_dt)
        changes = {round(t / dt): c for t, c in sequence[1:]}
        obs, _ = env.reset()
        alive = np.ones(env.num_envs, dtype=bool)
        for k in range(round(float(req["duration_s"]) / dt)):
            if k in changes:
                term.vel_command_b[:] = torch.tensor(changes[k], dtype=term.vel_command_b.dtype)
            x = obs["policy"].detach().cpu().numpy().astype(np.float32)
            actions = session.run([req["onnx_output"]], {req["onnx_input"]: x})[0]
            obs, _, terminated, _, _ = env.step(torch.from_numpy(actions))
            s = binding.last_state
            alive &= ~terminated.cpu().numpy().astype(bool)
            rec["alive"].append(alive.copy())
            rec["vel"].append(s.base_lin_vel_b[:, :2].cpu().numpy())
            rec["cmd"].append(s.commands.cpu().numpy())
            rec["power"].append((s.joint_torques * s.joint_vel).abs().sum(1).cpu().numpy())
            rec["xy"].append(s.base_pos_w[:, :2].cpu().numpy())
            rec["fvel"].append(s.foot_vel_w[..., :2].cpu().numpy())
            rec["contact"].append(s.foot_contact.cpu().numpy())
            rec["fz"].append(s.foot_contact_force.sum(1).cpu().numpy())
        mass = env.scene[ROBOT].data.body_mass.torch.sum(1).cpu().numpy()
        env.close()
    return {**{k: np.stack(v) for k, v in rec.items()}, "dt": np.asarray(dt), "mass_kg": mass}


def main(argv: list[str] | None = None) -> int:
    """Entry point (exit codes in the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--request", type=Path, required=True)
    args = ap.parse_args(argv)
    req = json.loads(args.request.read_text())
    arrays = rollout(req)
    out = Path(req["out"])
    tmp = out.with_suffix(".partial.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
