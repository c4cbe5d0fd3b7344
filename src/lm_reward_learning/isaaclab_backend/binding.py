"""The reward-term binding: Isaac Lab env objects → ``RewardState`` → reward program → reward.

Pure torch, no ``isaaclab`` import: it reads an Isaac Lab ``ManagerBasedRLEnv`` only through
attributes (``env.scene["robot"].data.<field>.torch``, ``env.scene.sensors["contact_forces"]``, the
command, action and termination managers), so it is tested against stub objects without a simulator
(``tests/isaaclab/test_binding.py``). The Isaac Lab reward term (``task.RewardProgramTerm``) is a thin
adapter around :class:`RewardProgramBinding`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from lm_reward_learning.isaaclab_backend.state_mapping import IsaacLabFrame, RewardStateBuilder, StateLayout
from lm_reward_learning.isaaclab_backend.term_stats import TermStats
from lm_reward_learning.reward.state import RewardState

ROBOT = "robot"
"""Scene name of the robot articulation."""
CONTACTS = "contact_forces"
"""Scene name of the contact sensor (every robot body)."""
COMMAND = "base_velocity"
"""Command-manager name of the velocity command."""
UNSTABLE_TERM = "sim_unstable"
"""Termination term flagging a blown-up simulation (its reward is zeroed, its step not counted)."""


def sensor_body_names(sensor: Any) -> list[str]:
    """Body names of a contact sensor (Isaac Lab 3 ``sensor_names``; ``body_names`` before 3.0)."""
    names = getattr(sensor, "sensor_names", None)
    return list(names if names is not None else sensor.body_names)


def read_frame(env: Any) -> IsaacLabFrame:
    """Copy this step's asset, sensor, command and action tensors into an :class:`IsaacLabFrame`.

    Args:
        env: An Isaac Lab 3 ``ManagerBasedRLEnv`` (or an object with the same attributes).
    """
    asset = env.scene[ROBOT]
    d, s = asset.data, env.scene.sensors[CONTACTS].data
    return IsaacLabFrame(
        root_pos_w=d.root_link_pos_w.torch,
        root_quat_w=d.root_link_quat_w.torch,
        root_lin_vel_w=d.root_link_lin_vel_w.torch,
        root_ang_vel_w=d.root_link_ang_vel_w.torch,
        joint_pos=d.joint_pos.torch,
        joint_vel=d.joint_vel.torch,
        applied_torque=d.applied_torque.torch,
        body_pos_w=d.body_link_pos_w.torch,
        body_quat_w=d.body_link_quat_w.torch,
        net_forces_w=s.net_forces_w.torch,
        current_air_time=s.current_air_time.torch,
        current_contact_time=s.current_contact_time.torch,
        last_air_time=s.last_air_time.torch,
        env_origins=env.scene.env_origins,
        commands=env.command_manager.get_command(COMMAND),
        actions=env.action_manager.action,
        prev_actions=env.action_manager.prev_action,
        episode_length=env.episode_length_buf,
        quat_order="xyzw",
    )


class RewardProgramBinding:
    """Evaluates a reward program on an Isaac Lab env, step by step.

    Args:
        env: The Isaac Lab env (read for joint, body and sensor names, ``step_dt``, ``num_envs``).
        program_file: The run's ``reward/program.py`` (validated by ``prepare_run``).
        robot: Robot name.
        foot_offsets_b: Foot site positions in their bodies' frames, m. Shape ``(F, 3)``.
        contact_force_threshold: Foot contact threshold, N.
        action_clip: Action clip, action units.
        gait_frequency_hz: Gait frequency for ``gait_phase``, Hz.

    Attributes:
        stats: Per-term statistics (popped by the worker after every iteration).
        explosions: Steps of envs whose simulation blew up since the worker last read it.
        last_state: The ``RewardState`` of the last call.
        cross_check: At the first call, the largest |ours − Isaac Lab's own| of the base-frame
            quantities Isaac Lab also computes (``root_link_lin_vel_b``, ``root_link_ang_vel_b``,
            ``projected_gravity_b``): a check of the quaternion convention in the real simulator.
            None until then, or when the env does not expose them.

    Raises:
        StateMappingError: if the asset or sensor lacks a joint or foot body of the spec.
    """

    def __init__(
        self,
        env: Any,
        *,
        program_file: str | Path,
        robot: str,
        foot_offsets_b: Sequence[Sequence[float]],
        contact_force_threshold: float,
        action_clip: float,
        gait_frequency_hz: float,
    ) -> None:
        from lm_reward_learning.robots import get_robot

        self.spec = get_robot(robot)
        self.program_file = Path(program_file)
        self.fn: Any = None  # compiled by load_program(), after the worker sealed itself
        asset, sensor = env.scene[ROBOT], env.scene.sensors[CONTACTS]
        layout = StateLayout.from_names(
            self.spec,
            list(asset.joint_names),
            list(asset.body_names),
            sensor_body_names(sensor),
            foot_offsets_b,
            dt=float(env.step_dt),
            contact_force_threshold=contact_force_threshold,
            action_clip=action_clip,
            gait_frequency_hz=gait_frequency_hz,
        )
        self.builder = RewardStateBuilder(layout, int(env.num_envs))
        self.stats = TermStats()
        self.explosions = 0
        self.last_state: RewardState | None = None
        self.cross_check: dict[str, float] | None = None

    def load_program(
        self,
        *,
        call_timeout_s: float = 1.0,
        hard_timeout_s: float = 30.0,
        hard_timeout_file: Path | None = None,
        trusted: bool = False,
    ) -> None:
        """Compile the program (language sandbox) with its train-time limits (:class:`RewardCallGuard`).

        The worker calls this after :func:`lm_reward_learning.isolation.seal`; a first reward call
        before that compiles with the defaults. ``trusted=True`` compiles outside a sandbox process
        (tests; see :func:`~lm_reward_learning.reward.sandbox.compile_reward_fn`).

        Raises:
            RewardValidationError: if the program does not compile.
        """
        from lm_reward_learning.reward.program import RewardProgram, load_reward_fn
        from lm_reward_learning.reward.runtime import RewardCallGuard

        program = RewardProgram.from_file(self.program_file)
        self.fn = RewardCallGuard(
            load_reward_fn(program.source, trusted=trusted),
            program.source,
            call_timeout_s=call_timeout_s,
            hard_timeout_s=hard_timeout_s,
            hard_timeout_file=hard_timeout_file,
        )

    def reset(self, env_ids: Any = None) -> None:
        """The envs ``env_ids`` (a tensor, a sequence, a slice or None: all) were reset."""
        if env_ids is None or isinstance(env_ids, slice):
            self.builder.reset(None)
        else:
            self.builder.reset(torch.as_tensor(env_ids).cpu())

    def __call__(self, env: Any) -> torch.Tensor:
        """The program's total reward this step, 0 where not finite or blown up. Shape ``(N,)``, float32."""
        state = self.builder.build(read_frame(env))
        self.last_state = state
        if self.cross_check is None:
            self.cross_check = _cross_check(env, state)
        if self.fn is None:
            self.load_program()
        reward, components = self.fn(state)
        reward = torch.as_tensor(reward, dtype=torch.float32).reshape(env.num_envs).to(state.base_pos_w.device)
        unstable = torch.as_tensor(env.termination_manager.get_term(UNSTABLE_TERM), dtype=torch.bool)
        unstable = unstable.to(reward.device)
        self.explosions += int(unstable.sum())
        self.stats.add(components, ~unstable.cpu())
        return torch.where(torch.isfinite(reward) & ~unstable, reward, torch.zeros_like(reward))


def _cross_check(env: Any, state: RewardState) -> dict[str, float] | None:
    """Largest |ours − Isaac Lab's| of the base-frame velocities and gravity (None if not exposed)."""
    d = env.scene[ROBOT].data
    pairs = {
        "base_lin_vel_b": "root_link_lin_vel_b",
        "base_ang_vel_b": "root_link_ang_vel_b",
        "projected_gravity_b": "projected_gravity_b",
    }
    out = {}
    for ours, theirs in pairs.items():
        proxy = getattr(d, theirs, None)
        if proxy is None:
            return None
        ref = proxy.torch.to(dtype=torch.float32, device=state.base_pos_w.device)
        out[ours] = float((getattr(state, ours) - ref).abs().max())
    return out
