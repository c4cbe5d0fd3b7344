"""The robustness battery's Isaac Lab engine (main venv side): one rollout worker per condition.

:func:`run_isaaclab` exports a run's policy to ONNX when needed, writes a request and runs
:mod:`~.rollout_worker` with ``.venv-isaaclab``'s interpreter (Isaac Lab 3, kit-less, Newton
MuJoCo-Warp on Warp's CPU device), then reads the recorded arrays back. The worker runs no untrusted
code (an exported network and the robot's bundled reward program), so it is not sandboxed; it gets a
time limit. This is also unitree_rl_gym's sim-to-sim check: a MuJoCo-trained policy in another engine.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from lm_reward_learning.config import to_dict
from lm_reward_learning.evaluation.battery import Condition, EpisodeArrays
from lm_reward_learning.isaaclab_backend.launcher import (
    IsaacLabWorkerError,
    assets_dir,
    check_available,
    isaaclab_python,
)

log = logging.getLogger(__name__)

ROLLOUT_TIMEOUT_S = 1800.0
"""Time limit of one condition's worker, s (a cold Warp kernel cache costs minutes at the first start)."""


def run_isaaclab(
    tgt: Any, cond: Condition, episodes: int, duration_s: float, seed: int, sequence: list[tuple[float, tuple]]
) -> EpisodeArrays:
    """Roll ``tgt``'s policy out under ``cond`` in Isaac Lab (module docstring).

    Raises:
        lm_reward_learning.isaaclab_backend.launcher.IsaacLabUnavailableError: no ``.venv-isaaclab`` or asset.
        IsaacLabWorkerError: the worker failed or ran past :data:`ROLLOUT_TIMEOUT_S` (its log is named).
    """
    from lm_reward_learning.envs.mujoco_env import observation_layout
    from lm_reward_learning.reward.program import default_program
    from lm_reward_learning.robots import get_robot, load_model

    check_available(tgt.robot)
    spec = get_robot(tgt.robot)
    _, _, env_cfg, _ = tgt.load()
    env = dataclasses.replace(
        env_cfg, num_envs=episodes, obs_noise=True, obs_noise_scale=cond.obs_noise_scale, num_threads=0
    )
    with tempfile.TemporaryDirectory(prefix="lmrl_isaaclab_rollout_") as tmp:
        d = Path(tmp)
        onnx, names = _onnx_of(tgt, d)
        (d / "program.py").write_text(default_program(spec.name).source)
        layout = {g: [dataclasses.asdict(t) for t in terms] for g, terms in observation_layout(spec).items()}
        request = {
            "robot": spec.name,
            "onnx": str(onnx),
            "onnx_input": names[0],
            "onnx_output": names[1],
            "env": _env_dict(env),
            "observation_layout": layout,
            "physics_dt": float(load_model(spec).opt.timestep),
            "assets_dir": str(assets_dir().resolve()),
            "randomization": to_dict(cond.randomization),
            "seed": int(seed),
            "duration_s": float(duration_s),
            "sequence": [[t, list(c)] for t, c in sequence],
            "program_file": str(d / "program.py"),
            "out": str(d / "arrays.npz"),
        }
        (d / "request.json").write_text(json.dumps(request))
        log_file = d / "worker.log"
        _run_worker(d / "request.json", log_file)
        with np.load(d / "arrays.npz") as a:
            return EpisodeArrays(
                dt=float(a["dt"]),
                alive=a["alive"],
                vel_b=a["vel"].astype(np.float64),
                command=a["cmd"].astype(np.float64),
                power_w=a["power"].astype(np.float64),
                base_xy=a["xy"].astype(np.float64),
                foot_vel_xy=a["fvel"].astype(np.float64),
                foot_contact=a["contact"].astype(bool),
                mass_kg=a["mass_kg"].astype(np.float64),
                extra={"foot_force_sum_n": a["fz"].astype(np.float64)},
            )


def _env_dict(env: Any) -> dict[str, Any]:
    return to_dict(env)


def _onnx_of(tgt: Any, tmp: Path) -> tuple[Path, tuple[str, str]]:
    """The target's ONNX file (a run is exported into ``tmp``) and its input/output names."""
    if tgt.run is not None:
        from lm_reward_learning.export import INPUT_NAME, OUTPUT_NAME, export_run
        from lm_reward_learning.training.run_dir import RunDir

        return export_run(RunDir.open(tgt.run), tmp / "export", name="policy").onnx_path, (INPUT_NAME, OUTPUT_NAME)
    names = (tgt.deploy or {}).get("onnx") or {}
    return tgt.path / "policy.onnx", (names.get("input", "obs"), names.get("output", "actions"))


def _run_worker(request: Path, log_file: Path) -> None:
    src = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    if src.name == "src":
        env["PYTHONPATH"] = str(src)
    module = "lm_reward_learning.isaaclab_backend.rollout_worker"
    cmd = [str(isaaclab_python()), "-m", module, "--request", str(request)]
    with log_file.open("w") as out:
        try:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=ROLLOUT_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise IsaacLabWorkerError(f"the Isaac Lab rollout ran past {ROLLOUT_TIMEOUT_S:.0f} s") from exc
    if proc.returncode != 0:
        tail = log_file.read_text(errors="replace")[-3000:]
        raise IsaacLabWorkerError(f"the Isaac Lab rollout worker failed (exit {proc.returncode}):\n{tail}")
