"""What ``lmrl evaluate`` can roll out: a training run, a learn run, or an exported ONNX policy.

* **training run** (``run.yaml``, :class:`~lm_reward_learning.training.run_dir.RunDir`): the latest
  checkpoint, rebuilt in torch (:func:`lm_reward_learning.export.load_policy`).
* **learn run** (``learn.yaml``, :class:`~lm_reward_learning.bilevel.store.LearnStore`): the best
  candidate, ``status.json`` ``best = [k, m]`` → ``iter_KK/cand_M/train``, rolled out like a training
  run.
* **exported policy** (``policy.onnx`` + ``deploy.yaml``, written by ``lmrl export``): run with
  onnxruntime in a one-env :class:`~lm_reward_learning.envs.mujoco_env.MujocoVecEnv` of the robot
  named in ``deploy.yaml``, which builds the observation exactly as in training
  (``get_observations()["policy"]``). The environment uses the robot's training defaults
  (``config/train/<robot>.yaml``) with ``deploy.yaml``'s ``decimation``, ``action_clip``, acting joint
  group (``action_joints``, ``all`` when absent) and gait clock (none when absent), observation noise
  off. Before any step, ``deploy.yaml`` is checked against this environment
  (robot, joint order, observation layout and size, action size, control period) and against the
  ONNX file's input and output widths; any mismatch is an :class:`EvaluationError` naming both sides.

Rollouts are deterministic: :meth:`MujocoVecEnv.start_rollout` reseeds the reset noise, and the
torch and onnxruntime paths give the same trajectory up to float rounding (≈1e-7 rad).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.rollout import RolloutResult

log = logging.getLogger(__name__)

KINDS = ("training run", "learn run", "exported policy")


class EvaluationError(LmrlError):
    """A target cannot be evaluated: not a run or policy, no trained candidate, a mismatched deploy.yaml."""


@dataclass(frozen=True)
class PolicyTarget:
    """A resolved evaluation target.

    Attributes:
        path: The directory given.
        kind: One of :data:`KINDS`.
        robot: Robot name.
        run: The training run rolled out (training and learn runs), or None (exported policy).
        command_ranges: Velocity command ranges the policy was trained on:
            ``{"lin_vel_x": (lo, hi) m/s, "lin_vel_y": (lo, hi) m/s, "ang_vel_z": (lo, hi) rad/s}``.
        deploy: ``deploy.yaml`` content (exported policy), else None.
    """

    path: Path
    kind: str
    robot: str
    run: Path | None
    command_ranges: dict[str, tuple[float, float]]
    deploy: dict[str, Any] | None = None

    def rollout(self, duration_s: float, command: tuple[float, float, float], arrays: Path) -> RolloutResult:
        """Roll the policy out without video and record its state into ``arrays`` (``rollout.npz``).

        Raises:
            EvaluationError: an exported policy that does not match this version's environment.
            lm_reward_learning.errors.CheckpointError: a run whose checkpoint cannot be loaded.
        """
        from lm_reward_learning.rollout import rollout

        if self.run is not None:
            from lm_reward_learning.export import load_policy
            from lm_reward_learning.training.run_dir import RunDir

            policy, _, _, env = load_policy(RunDir.open(self.run))
        else:
            policy, env = _onnx_policy(self.path, self.deploy or {})
        return rollout(policy, env, duration_s=duration_s, command=command, arrays=arrays)

    def load(self) -> tuple[Any, Any, Any, Any]:
        """The policy and what its environment must be, for rollouts of many envs.

        Returns:
            ``(policy, spec, env_cfg, check)``: ``policy(obs) -> actions`` (batched), the robot, the
            :class:`~lm_reward_learning.config.EnvConfig` it was trained with (exported policies: the
            robot's defaults with ``deploy.yaml``'s ``decimation`` and ``action_clip``), and
            ``check(env)``, which raises :class:`EvaluationError` when an exported policy does not
            match a built env (:func:`check_deploy`; a no-op for runs).

        Raises:
            EvaluationError: an unreadable ONNX file.
            lm_reward_learning.errors.CheckpointError: a run whose checkpoint cannot be loaded.
        """
        if self.run is not None:
            import yaml as _yaml

            from lm_reward_learning.config import TrainConfig, from_dict
            from lm_reward_learning.export import load_policy
            from lm_reward_learning.training.run_dir import RunDir

            policy, spec, _, _ = load_policy(RunDir.open(self.run))
            cfg = from_dict(TrainConfig, _yaml.safe_load((self.run / "config.yaml").read_text()), "config.yaml")
            return policy, spec, cfg.env, lambda env: None
        policy, spec, env_cfg, widths = _onnx_session(self.path, self.deploy or {})
        return policy, spec, env_cfg, lambda env: check_deploy(self.deploy or {}, env, *widths)


def resolve_target(path: Path | str) -> PolicyTarget:
    """Recognise a training run, a learn run or an exported policy directory.

    Raises:
        EvaluationError: ``path`` is none of the three, or a learn run has no trained candidate yet.
        lm_reward_learning.errors.RunDirError: a damaged ``run.yaml``.
    """
    from lm_reward_learning.training.run_dir import RunDir

    path = Path(path)
    if (path / "learn.yaml").is_file():
        from lm_reward_learning.bilevel.store import LearnStore

        store = LearnStore.open(path)
        best = store.status().get("best")
        run = path / f"iter_{int(best[0]):02d}" / f"cand_{int(best[1])}" / "train" if best else None
        if run is None or not (run / "checkpoints" / "latest.pt").is_file():
            raise EvaluationError(
                f"learn run {path} has no trained candidate yet (status.json has no 'best', or its checkpoint is "
                f"missing); finish it with `lmrl learn --resume {path}` first."
            )
        return _run_target(path, "learn run", RunDir.open(run))
    if (path / "run.yaml").is_file():
        return _run_target(path, "training run", RunDir.open(path))
    if (path / "policy.onnx").is_file() and (path / "deploy.yaml").is_file():
        deploy = _read_deploy(path / "deploy.yaml")
        ranges = deploy.get("command_ranges") or {}
        return PolicyTarget(path, "exported policy", str(deploy.get("robot")), None, _ranges(ranges), deploy)
    raise EvaluationError(
        f"{path} is neither a training run (run.yaml), a learn run (learn.yaml) nor an exported policy "
        f"(policy.onnx + deploy.yaml). Pass a directory made by `lmrl train`, `lmrl learn` or `lmrl export`."
    )


def _run_target(path: Path, kind: str, run) -> PolicyTarget:
    from lm_reward_learning.config import TrainConfig, from_dict

    cfg = from_dict(TrainConfig, yaml.safe_load((run.path / "config.yaml").read_text()), "config.yaml")
    c = cfg.env.commands
    ranges = {"lin_vel_x": c.lin_vel_x, "lin_vel_y": c.lin_vel_y, "ang_vel_z": c.ang_vel_z}
    return PolicyTarget(path, kind, str(run.meta()["robot"]), run.path, _ranges(ranges))


def _ranges(ranges: dict[str, Any]) -> dict[str, tuple[float, float]]:
    out = {}
    for key in ("lin_vel_x", "lin_vel_y", "ang_vel_z"):
        lo, hi = ranges.get(key, (0.0, 0.0))
        out[key] = (float(lo), float(hi))
    return out


def _read_deploy(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise EvaluationError(f"cannot read {path}: {exc}. Re-export the policy with `lmrl export --run RUN`.") from exc
    if not isinstance(data, dict) or "robot" not in data or "observation" not in data:
        raise EvaluationError(f"{path} is not a deploy.yaml written by `lmrl export` (no robot or observation).")
    return data


def check_deploy(deploy: dict[str, Any], env, onnx_input: int | None, onnx_output: int | None) -> None:
    """Check an exported policy's ``deploy.yaml`` (and ONNX widths) against ``env``.

    Args:
        deploy: ``deploy.yaml`` content.
        env: The one-env :class:`~lm_reward_learning.envs.mujoco_env.MujocoVecEnv` it will run in.
        onnx_input: The ONNX model's observation width ``D`` (input ``(B, D)``), if fixed.
        onnx_output: The ONNX model's action width ``J`` (output ``(B, J)``), if fixed.

    Raises:
        EvaluationError: on the first mismatch, naming what the file says and what the env builds.
    """
    spec = env.spec
    terms = env.layout["policy"]
    size = sum(t.size for t in terms)
    redo = "Re-export the policy with this version (`lmrl export --run RUN`) or evaluate its run directory."
    obs = deploy.get("observation") or {}
    if obs.get("size") != size:
        raise EvaluationError(
            f"deploy.yaml says the policy observes {obs.get('size')} values, but the {spec.name} environment of "
            f"this version builds {size} ({', '.join(f'{t.name}[{t.size}]' for t in terms)}). {redo}"
        )
    names = [t.get("name") for t in obs.get("terms", [])]
    if names and names != [t.name for t in terms]:
        raise EvaluationError(
            f"deploy.yaml's observation terms {names} differ from the environment's {[t.name for t in terms]}. {redo}"
        )
    if onnx_input is not None and onnx_input != size:
        raise EvaluationError(f"policy.onnx takes {onnx_input} observation values, deploy.yaml says {size}. {redo}")
    if list(deploy.get("joint_names", spec.joint_names)) != list(spec.joint_names):
        raise EvaluationError(
            f"deploy.yaml's joint order {deploy.get('joint_names')} differs from {spec.name}'s "
            f"{list(spec.joint_names)}. {redo}"
        )
    actions = (deploy.get("action") or {}).get("size", spec.num_joints)
    if actions != spec.num_joints or (onnx_output is not None and onnx_output != spec.num_joints):
        raise EvaluationError(
            f"the policy outputs {onnx_output or actions} actions; {spec.name} has {spec.num_joints} joints. {redo}"
        )
    dt = deploy.get("control_dt")
    if dt is not None and abs(float(dt) - env.dt) > 1e-9:
        raise EvaluationError(f"deploy.yaml's control_dt {dt} s differs from the environment's {env.dt} s. {redo}")


class OnnxPolicy:
    """An onnxruntime session behind the rsl-rl policy call: ``policy(obs) -> actions``.

    Args:
        session: ``onnxruntime.InferenceSession`` of ``policy.onnx`` (input ``(B, D)``, output ``(B, J)``).
        input_name, output_name: The ONNX input and output names.
    """

    def __init__(self, session, input_name: str, output_name: str) -> None:
        self.session, self.input_name, self.output_name = session, input_name, output_name

    def __call__(self, obs):
        """Actions for the ``policy`` group of ``obs``. Shape ``(num_envs, num_actions)``, float32 tensor."""
        import torch

        x = obs["policy"].detach().cpu().numpy().astype(np.float32)
        return torch.from_numpy(self.session.run([self.output_name], {self.input_name: x})[0])


def _onnx_policy(path: Path, deploy: dict[str, Any]) -> tuple[OnnxPolicy, Any]:
    """Load ``path/policy.onnx`` and build its checked one-env environment."""
    from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
    from lm_reward_learning.training.trainer import zero_reward

    policy, spec, env_cfg, widths = _onnx_session(path, deploy)
    # the reward is not used for the rollout's measurements (no reward program runs outside the sandbox)
    env = MujocoVecEnv(spec, zero_reward, env_cfg, seed=0)
    check_deploy(deploy, env, *widths)
    return policy, env


def _onnx_session(path: Path, deploy: dict[str, Any]) -> tuple[OnnxPolicy, Any, Any, tuple[int | None, int | None]]:
    """``(policy, spec, one-env EnvConfig without noise, (ONNX input width, output width))`` of an export.

    Raises:
        EvaluationError: onnxruntime cannot load the file.
        lm_reward_learning.errors.UnknownRobotError: ``deploy.yaml`` names an unknown robot.
    """
    import onnxruntime as ort

    from lm_reward_learning.config import load_train_config
    from lm_reward_learning.robots import get_robot

    spec = get_robot(str(deploy["robot"]))
    env_cfg = load_train_config(spec.name).env
    clock = deploy.get("gait_clock") or {}
    env_cfg = dataclasses.replace(
        env_cfg,
        num_envs=1,
        obs_noise=False,
        decimation=int(deploy.get("decimation", env_cfg.decimation)),
        action_clip=float(deploy.get("action_clip", env_cfg.action_clip)),
        # exports made before these options acted on every joint without a clock
        action_joints=str(deploy.get("action_joints", "all")),
        gait_clock=bool(clock),
        gait_frequency_hz=float(clock.get("frequency_hz", env_cfg.gait_frequency_hz)),
    )
    try:
        session = ort.InferenceSession(str(path / "policy.onnx"), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
        raise EvaluationError(f"onnxruntime cannot load {path / 'policy.onnx'}: {exc}") from exc
    inputs, outputs = session.get_inputs(), session.get_outputs()
    io_names = deploy.get("onnx") or {}
    in_name = io_names.get("input", inputs[0].name)
    out_name = io_names.get("output", outputs[0].name)
    width_in = inputs[0].shape[-1] if isinstance(inputs[0].shape[-1], int) else None
    width_out = outputs[0].shape[-1] if isinstance(outputs[0].shape[-1], int) else None
    return OnnxPolicy(session, in_name, out_name), spec, env_cfg, (width_in, width_out)
