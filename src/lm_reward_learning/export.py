"""Export a trained policy to ONNX with its deployment facts (mjlab's convention).

``lmrl export --run RUN`` writes ``policies/<robot>/<name>/policy.onnx`` (one file, any batch size)
and ``deploy.yaml`` beside it. The same facts (joint names in order, default joint positions, kp/kd,
action scale and clip, observation layout with scales, control ``dt``, robot, reward program hash, the
domain-randomization ranges it was trained with; for a policy that acts on a joint group, the held
joints with their pose and gains; with a gait clock, its frequency) go into the ONNX file's
``metadata_props``, so a
controller can refuse a policy that does not match its robot even without the YAML. Every export runs
a parity check: onnxruntime against torch on random observations; the maximum absolute error is
returned and must stay below ``PARITY_TOL``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from lm_reward_learning import __version__
from lm_reward_learning.config import TrainConfig, from_dict
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.io import atomic_write_bytes, atomic_write_yaml
from lm_reward_learning.randomization import describe as describe_randomization
from lm_reward_learning.robots.spec import RobotSpec
from lm_reward_learning.training.run_dir import RunDir

log = logging.getLogger(__name__)

PARITY_TOL = 1e-4
"""Largest accepted |onnxruntime - torch| on the parity check."""

INPUT_NAME = "obs"
OUTPUT_NAME = "actions"


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_run` wrote.

    Attributes:
        onnx_path: The ONNX policy (single file, input ``obs`` (B, D), output ``actions`` (B, J)).
        deploy_path: The ``deploy.yaml`` sidecar.
        parity_max_abs_err: Max |onnxruntime - torch| over the parity batch.
    """

    onnx_path: Path
    deploy_path: Path
    parity_max_abs_err: float


def deploy_info(spec: RobotSpec, cfg: TrainConfig, dt: float, physics_dt: float, meta: dict[str, Any]) -> dict:
    """Build the ``deploy.yaml`` content for a policy of ``spec`` trained with ``cfg``.

    Args:
        spec: The robot as the policy acts on it (:meth:`RobotSpec.acting` of ``cfg.env.action_joints``).
        cfg: The training config.
        dt: Control period, s.
        physics_dt: Physics step, s.
        meta: The run's ``run.yaml`` (reward hash, iterations).

    Returns:
        A YAML-ready dict. Joint-indexed lists are in ``joint_names`` order (the policy's action order).
        A policy on a joint group adds ``action_joints`` (the group) and ``held_joints`` (``names``,
        ``default_joint_pos`` rad, ``kp``, ``kd``: the servos that hold the other joints); a policy with
        a gait clock adds ``gait_clock: {frequency_hz}`` (its phase is ``(t * frequency_hz) mod 1``, ``t``
        the time since the policy started, s). Policies without them get neither key, as before.
    """
    from lm_reward_learning.envs.mujoco_env import observation_layout

    offset = 0
    terms = []
    for term in observation_layout(spec, gait_clock=cfg.env.gait_clock)["policy"]:
        terms.append(
            {"name": term.name, "offset": offset, "size": term.size, "scale": list(term.scale), "unit": term.unit}
        )
        offset += term.size
    return {
        "robot": spec.name,
        "joint_names": list(spec.joint_names),
        "foot_sites": list(spec.foot_sites),
        "default_joint_pos": spec.per_joint(spec.default_joint_pos),
        "kp": spec.per_joint(spec.kp),
        "kd": spec.per_joint(spec.kd),
        "torque_limits": spec.per_joint(spec.torque_limits),
        "action_scale": spec.action_scale,
        "action_clip": cfg.env.action_clip,
        "control_dt": dt,
        "physics_dt": physics_dt,
        "decimation": cfg.env.decimation,
        "observation": {"size": offset, "terms": terms},
        "action": {"size": spec.num_joints, "target": "joint_pos = default_joint_pos + action_scale * action"},
        "command_ranges": {
            "lin_vel_x": list(cfg.env.commands.lin_vel_x),
            "lin_vel_y": list(cfg.env.commands.lin_vel_y),
            "ang_vel_z": list(cfg.env.commands.ang_vel_z),
        },
        "onnx": {"input": INPUT_NAME, "output": OUTPUT_NAME},
        "randomization": describe_randomization(cfg.randomization),
        "reward_sha256": meta.get("reward_sha256"),
        "trained_iterations": meta.get("iterations_done"),
        "lmrl_version": __version__,
        **_held_info(spec, cfg),
        **({"gait_clock": {"frequency_hz": cfg.env.gait_frequency_hz}} if cfg.env.gait_clock else {}),
    }


def _held_info(spec: RobotSpec, cfg: TrainConfig) -> dict[str, Any]:
    """``action_joints`` and ``held_joints`` of ``deploy.yaml`` for a policy on a joint group, else ``{}``."""
    if not spec.held_joints:
        return {}
    held = spec.held_joints
    return {
        "action_joints": cfg.env.action_joints,
        "held_joints": {
            "names": list(held),
            "default_joint_pos": [float(spec.default_joint_pos[j]) for j in held],
            "kp": [float(spec.kp[j]) for j in held],
            "kd": [float(spec.kd[j]) for j in held],
        },
    }


def load_policy(run: RunDir, checkpoint: Path | None = None) -> tuple[Any, RobotSpec, TrainConfig, Any]:
    """Rebuild the trained actor of ``run``.

    Returns:
        ``(policy, spec, cfg, env)``: the rsl-rl ``MLPModel`` actor (eval mode), the robot as the policy
        acts on it (:meth:`RobotSpec.acting`), the
        training config and a one-env :class:`MujocoVecEnv` (for rollouts).

    Raises:
        RunDirError: if ``run`` is not a run directory.
        CheckpointError: if the checkpoint cannot be loaded.
    """
    import yaml

    from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
    from lm_reward_learning.robots import get_robot
    from lm_reward_learning.training.runner import LmrlRunner
    from lm_reward_learning.training.trainer import zero_reward

    meta = run.meta()
    spec = get_robot(meta["robot"])
    cfg = from_dict(TrainConfig, yaml.safe_load((run.path / "config.yaml").read_text()), "config.yaml")
    env_cfg = dataclasses.replace(cfg.env, num_envs=1, obs_noise=False)
    # rollouts never run the run's reward program (untrusted code runs only in the sandboxed worker)
    env = MujocoVecEnv(spec, zero_reward, env_cfg, seed=cfg.seed)
    runner = LmrlRunner(env, cfg.ppo.to_rsl_rl(), run)
    runner.load_checkpoint(checkpoint or run.latest_checkpoint())
    runner.alg.eval_mode()
    return runner.alg.get_policy(), env.spec, dataclasses.replace(cfg, env=env_cfg), env


def export_run(
    run: RunDir,
    out_root: Path = Path("policies"),
    name: str | None = None,
    checkpoint: Path | None = None,
    provenance: dict[str, Any] | None = None,
) -> ExportResult:
    """Export ``run``'s policy to ``out_root/<robot>/<name>/`` and check parity with onnxruntime.

    Beside ``deploy.yaml`` go the reward program it was trained with (``reward.py``) and
    ``provenance.yaml``: the training seed, the program's SHA-256, the source run, and what
    ``provenance`` adds (``lmrl learn`` adds the models, prompts and programs of the loop).

    Args:
        run: The trained run.
        out_root: Root of the exported policies.
        name: Sub-directory name; default: the run directory's name.
        checkpoint: A specific checkpoint; default: the latest.
        provenance: More entries for ``provenance.yaml``.

    Raises:
        LmrlError: if the parity error exceeds :data:`PARITY_TOL` (nothing is written then).
    """
    import onnxruntime as ort

    policy, spec, cfg, env = load_policy(run, checkpoint)
    meta = run.meta()
    info = deploy_info(spec, cfg, env.dt, float(env.model.opt.timestep), meta)
    info["source_run"] = str(run.path)
    module = policy.as_onnx(verbose=False).to("cpu").eval()
    obs_dim = info["observation"]["size"]
    dummy = torch.zeros(1, obs_dim)
    with contextlib.redirect_stdout(io.StringIO()), torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter writes one self-contained file with a dynamic batch axis
        warnings.simplefilter("ignore", DeprecationWarning)
        buf = io.BytesIO()
        torch.onnx.export(
            module,
            (dummy,),
            buf,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=18,
            dynamo=False,
        )
    model = onnx.load_from_string(buf.getvalue())
    for key, value in info.items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = json.dumps(value)
    data = model.SerializeToString()

    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = torch.randn(256, obs_dim, generator=torch.Generator().manual_seed(0)) * 2.0
    with torch.no_grad():
        ref = module(x).numpy()
    got = sess.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    err = float(np.max(np.abs(ref - got)))
    if not err < PARITY_TOL:
        raise LmrlError(
            f"ONNX parity check failed: max |onnxruntime - torch| = {err:.2e} > {PARITY_TOL:.0e}. Nothing was "
            f"written. Report this with your torch and onnxruntime versions."
        )
    out_dir = Path(out_root) / spec.name / (name or run.path.name)
    info["parity_max_abs_err"] = err
    atomic_write_bytes(out_dir / "policy.onnx", data)
    atomic_write_yaml(out_dir / "deploy.yaml", info)
    program = run.reward_dir / "program.py"
    if program.is_file():
        atomic_write_bytes(out_dir / "reward.py", program.read_bytes())
    trained = {"seed": cfg.seed, "reward_sha256": meta.get("reward_sha256"), "source_run": str(run.path)}
    atomic_write_yaml(out_dir / "provenance.yaml", {"training": trained, **(provenance or {})})
    log.info("exported %s (parity max abs err %.2e)", out_dir / "policy.onnx", err)
    return ExportResult(out_dir / "policy.onnx", out_dir / "deploy.yaml", err)
