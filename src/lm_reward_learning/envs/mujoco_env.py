"""Legged-robot velocity task on MuJoCo, as an rsl-rl-lib 5.x ``VecEnv``.

Many simulations step on C++ threads through ``mujoco.batch.Batch``; the policy runs at
``1 / (timestep * decimation)`` Hz (50 Hz with the vendored 200 Hz models) and commands joint position
targets that MuJoCo's built-in position servos track (``kp``/``kd`` from the robot's constants), so no
Python runs between physics substeps.

Observations follow Isaac Lab's velocity task (``isaaclab_tasks.manager_based.locomotion.velocity``):
the actor group ``policy`` holds what a real robot measures (base angular velocity, projected gravity,
command, joint positions relative to default, joint velocities, last action, and with
``EnvConfig.gait_clock`` the gait clock, sin and cos of the gait phase); the critic group
``critic`` adds privileged terms (base linear velocity, base height, foot contacts). The exact layout,
with scales, is :func:`observation_layout`, which the ONNX export writes into ``deploy.yaml``.

Rewards come from a reward program (see :mod:`lm_reward_learning.reward.state`): the env builds a
:class:`RewardState` every step, calls ``compute_reward`` and multiplies the total by ``dt``.

Domain randomization (friction, payload, CoM, gains, motor strength, encoder offsets, pushes, reset
velocity, action latency, rough terrain) is :class:`~lm_reward_learning.envs.randomization.DomainRandomizer`,
configured by ``randomization=`` (:mod:`lm_reward_learning.randomization`); without it the physics is
the nominal model's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import mujoco.batch
import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from lm_reward_learning.config import EnvConfig
from lm_reward_learning.envs.randomization import DomainRandomizer, build_model
from lm_reward_learning.randomization import NOMINAL, RandomizationConfig
from lm_reward_learning.reward.state import RewardState
from lm_reward_learning.robots import (
    actuator_ids,
    foot_site_ids,
    foot_touch_adr,
    joint_dof_adr,
    joint_qpos_adr,
)
from lm_reward_learning.robots.spec import RobotSpec
from lm_reward_learning.rotations import quat_to_rotmat, rotate, rotate_inverse, yaw_quat

log = logging.getLogger(__name__)

RewardFn = Callable[[RewardState], "tuple[torch.Tensor, dict[str, torch.Tensor]]"]

# Observation scales (legged_gym / Isaac Lab conventions; written into deploy.yaml).
ANG_VEL_SCALE = 0.25
LIN_VEL_SCALE = 2.0
JOINT_VEL_SCALE = 0.05
COMMAND_SCALE = (2.0, 2.0, 0.25)


@dataclass(frozen=True)
class ObsTerm:
    """One slice of an observation vector.

    Attributes:
        name: Term name (Isaac Lab's): ``base_ang_vel``, ``projected_gravity``, ...
        size: Number of entries.
        scale: Multiplier applied to the physical quantity (per entry).
        noise: Half-width of uniform noise added after scaling during training (0: none).
        unit: Unit of the quantity before scaling.
    """

    name: str
    size: int
    scale: tuple[float, ...]
    noise: float
    unit: str


def observation_layout(spec: RobotSpec, *, gait_clock: bool = False) -> dict[str, list[ObsTerm]]:
    """Observation groups and their terms in order, for ``spec`` (its acting joints).

    Args:
        spec: The robot, as acted on (:meth:`RobotSpec.acting`): ``J`` is its ``num_joints``.
        gait_clock: Append ``gait_clock`` (``sin 2πφ, cos 2πφ`` of the gait phase ``φ``; unitree_rl_gym
            G1's ``sin_phase, cos_phase``) to the actor's terms. Without it the layout is the one every
            policy exported before the option had.

    Returns:
        ``{"policy": [...], "critic": [...]}``; the actor sees ``policy``, the critic ``policy`` then
        ``critic``. Noise widths are Isaac Lab's velocity-task values, scaled.
    """
    j, f = spec.num_joints, spec.num_feet
    policy = [
        ObsTerm("base_ang_vel", 3, (ANG_VEL_SCALE,) * 3, 0.2 * ANG_VEL_SCALE, "rad/s, base frame"),
        ObsTerm("projected_gravity", 3, (1.0,) * 3, 0.05, "unit vector, base frame"),
        ObsTerm("velocity_commands", 3, COMMAND_SCALE, 0.0, "m/s, m/s, rad/s, base frame"),
        ObsTerm("joint_pos_rel", j, (1.0,) * j, 0.01, "rad, minus default_joint_pos"),
        ObsTerm("joint_vel_rel", j, (JOINT_VEL_SCALE,) * j, 1.5 * JOINT_VEL_SCALE, "rad/s"),
        ObsTerm("last_action", j, (1.0,) * j, 0.0, "action units"),
    ]
    if gait_clock:
        policy.append(ObsTerm("gait_clock", 2, (1.0, 1.0), 0.0, "sin, cos of 2π gait phase"))
    critic = [
        ObsTerm("base_lin_vel", 3, (LIN_VEL_SCALE,) * 3, 0.0, "m/s, base frame"),
        ObsTerm("base_height", 1, (1.0,), 0.0, "m"),
        ObsTerm("foot_contact", f, (1.0,) * f, 0.0, "0/1"),
    ]
    return {"policy": policy, "critic": critic}


class MujocoVecEnv(VecEnv):
    """Velocity-tracking locomotion for one robot on flat ground, ``num_envs`` MuJoCo simulations.

    Args:
        spec: Robot constants (joint, foot and body names; gains; heights); the env acts on its joint
            group ``cfg.action_joints`` (:attr:`spec` is then that acting view; its other joints are
            welded at their default angles, :func:`~lm_reward_learning.robots.model.weld_held_joints`).
        reward_fn: A loaded, validated reward program (``load_reward_fn``).
        cfg: Environment settings.
        seed: Seed of the reset and command noise (and of the randomization's own draws).
        randomization: Domain randomization; default: none (nominal physics).

    Raises:
        lm_reward_learning.errors.LmrlError: if the robot model cannot be loaded or lacks a named
            joint, actuator, site or sensor.
        lm_reward_learning.errors.ConfigError: a randomization range outside its physical bounds.
        KeyError: ``cfg.action_joints`` is not a joint group of ``spec``.
    """

    def __init__(
        self,
        spec: RobotSpec,
        reward_fn: RewardFn,
        cfg: EnvConfig,
        *,
        seed: int = 0,
        randomization: RandomizationConfig = NOMINAL,
    ) -> None:
        spec = spec.acting(cfg.action_joints)
        self.spec = spec
        self.reward_fn = reward_fn
        self.cfg = cfg
        self.device = "cpu"
        self.num_envs = int(cfg.num_envs)
        self.num_actions = spec.num_joints
        self.model = build_model(spec, randomization)
        self.dt = float(self.model.opt.timestep * cfg.decimation)
        self.max_episode_length = math.ceil(cfg.episode_length_s / self.dt)
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long)
        self.rng = np.random.default_rng(seed)
        self.layout = observation_layout(spec, gait_clock=cfg.gait_clock)
        self._command_scale = torch.tensor(COMMAND_SCALE)
        self._noise_widths = self.cfg.obs_noise_scale * torch.cat(
            [torch.full((term.size,), term.noise) for term in self.layout["policy"]]
        )

        m = self.model
        self._act_ids = np.asarray(actuator_ids(m, spec))
        self._qadr = np.asarray(joint_qpos_adr(m, spec))
        self._dadr = np.asarray(joint_dof_adr(m, spec))
        base_id = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
        free_jnt = m.body_jntadr[base_id]
        self._base_q = int(m.jnt_qposadr[free_jnt])
        self._base_d = int(m.jnt_dofadr[free_jnt])
        self._foot_site_ids = foot_site_ids(m, spec)
        self._touch_adr = foot_touch_adr(m, spec)
        self._default_q = np.asarray(spec.per_joint(spec.default_joint_pos))
        self._torque_limit = np.asarray(spec.per_joint(spec.torque_limits))

        self.batch = mujoco.batch.Batch(m, nsim=self.num_envs, nthread=cfg.num_threads)
        self._qpos = self.batch.bind("qpos")
        self._qvel = self.batch.bind("qvel")
        self._ctrl = self.batch.bind("ctrl")
        self._act_force = self.batch.bind("actuator_force")
        self._site_xpos = self.batch.bind("site_xpos")
        self._sensordata = self.batch.bind("sensordata")
        self._time = self.batch.bind("time")
        self.randomizer = DomainRandomizer(
            randomization, spec, m, self.batch, self._act_ids, self._base_d, seed=seed, policy_dt=self.dt
        )
        self.common_step_counter = 0  # policy steps since start-up (the randomization curriculum)
        self.terrain = None
        if "terrain" in randomization.active():
            from lm_reward_learning.envs.terrain import TerrainCurriculum

            self.terrain = TerrainCurriculum(randomization.terrain, m, self.num_envs, seed=seed)

        n, j, f = self.num_envs, spec.num_joints, spec.num_feet
        self.actions = np.zeros((n, j))
        self.last_actions = np.zeros((n, j))
        self.commands = np.zeros((n, 3))
        self.feet_air_time = np.zeros((n, f))
        self.feet_contact_time = np.zeros((n, f))
        self.last_air_time = np.zeros((n, f))
        self._prev_foot_pos = np.zeros((n, f, 3))
        self._prev_contact = np.zeros((n, f), dtype=bool)
        self._stats: dict[str, list[float]] = {}
        self._explosions = 0
        self._fixed_command: np.ndarray | None = None
        self._fixed_yaw: float | None = None
        self.last_state: RewardState | None = None
        self.reset()

    # ------------------------------------------------------------------ VecEnv contract
    def get_observations(self) -> TensorDict:
        """Current observations: ``{"policy": (N, D_policy), "critic": (N, D_critic)}``, float32."""
        return self._obs

    def reset(self) -> TensorDict:
        """Reset every simulation; return the observations."""
        self._reset_ids(np.arange(self.num_envs))
        self._compute_state_and_obs(np.zeros(self.num_envs, dtype=bool))
        return self._obs

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """Advance one policy step.

        Args:
            actions: Shape ``(num_envs, num_actions)``; joint targets are
                ``default_joint_pos + action_scale * clip(actions)``.

        Returns:
            ``(obs, rewards (N,), dones (N,), extras)`` with ``extras["time_outs"]`` (N,) bool and
            ``extras["log"]`` (per-term reward means under ``/reward/``, terminations under
            ``/termination/``).
        """
        a = np.clip(actions.detach().cpu().numpy().astype(np.float64), -self.cfg.action_clip, self.cfg.action_clip)
        a = np.nan_to_num(a, nan=0.0)
        self.last_actions[:] = self.actions
        self.actions[:] = a
        self.common_step_counter += 1
        self.randomizer.set_progress(self.common_step_counter)
        self.randomizer.apply_pushes(self._qvel)
        # an encoder offset moves where the servo holds the joint: target - offset, true angle
        self._ctrl[:, self._act_ids] = self._default_q + self.spec.action_scale * a - self.randomizer.joint_offset
        exploded = np.zeros(self.num_envs, dtype=bool)
        try:
            self.batch.step(nstep=self.cfg.decimation, stage=mujoco.mjtStage.mjSTAGE_VEL)
        except mujoco.batch.SimulationError as exc:
            exploded[np.asarray(exc.ids, dtype=int)] = True
        self.episode_length_buf += 1
        # MuJoCo resets a simulation whose accelerations blow up (mj_checkAcc) and warns; the reset
        # shows as a clock behind the episode's: that episode is over.
        exploded |= self._time.reshape(-1) < self.episode_length_buf.numpy() * self.dt - 0.5 * self.model.opt.timestep
        exploded |= self._unstable()
        state = self._compute_state_and_obs(exploded)

        reward, components = self.reward_fn(state)
        reward = torch.as_tensor(reward, dtype=torch.float32).reshape(self.num_envs)
        bad = ~torch.isfinite(reward) | torch.from_numpy(exploded)
        reward = torch.where(bad, torch.zeros_like(reward), reward) * self.dt
        self._accumulate(components, torch.from_numpy(~exploded))

        fell = self._fell(state) | exploded
        time_outs = self.episode_length_buf >= self.max_episode_length
        dones = torch.from_numpy(fell) | time_outs
        self._explosions += int(exploded.sum())
        extras = {
            "time_outs": time_outs,
            "log": {
                **{f"/reward/{k}": v.float().mean() for k, v in components.items()},
                "/termination/fall": float(fell.mean()),
                "/termination/explosion": float(exploded.mean()),
                "/termination/time_out": float(time_outs.float().mean()),
                **({"/terrain/level": float(self.terrain.level.mean())} if self.terrain is not None else {}),
            },
        }
        done_ids = np.flatnonzero(dones.numpy())
        resample = np.flatnonzero(
            (self.episode_length_buf.numpy() % max(1, round(self.cfg.commands.resampling_time_s / self.dt))) == 0
        )
        if resample.size:
            self._sample_commands(resample)
        if done_ids.size:
            self._reset_ids(done_ids)
            self._compute_state_and_obs(np.zeros(self.num_envs, dtype=bool), only=done_ids)
        return self._obs, reward, dones.to(torch.long), extras

    def start_rollout(
        self, command: tuple[float, float, float], yaw: float = 0.0, duration_s: float = 10.0
    ) -> TensorDict:
        """Reset every env facing ``yaw`` (rad, world z) with ``command`` held fixed, for evaluation.

        Args:
            command: ``(v_x m/s, v_y m/s, yaw_rate rad/s)``, base frame, never resampled.
            yaw: Initial heading, rad.
            duration_s: No time-out happens before this, s.

        Returns:
            The observations after the reset.
        """
        self._fixed_command = np.asarray(command, dtype=np.float64)
        self._fixed_yaw = float(yaw)
        self.max_episode_length = math.ceil(duration_s / self.dt) + 1
        self.rng = np.random.default_rng(0)
        self.randomizer.reseed(0)
        return self.reset()

    def hold_command(self, command: tuple[float, float, float]) -> None:
        """Change the held evaluation command of every env now (a command sequence within a rollout).

        Args:
            command: ``(v_x m/s, v_y m/s, yaw_rate rad/s)``, base frame.
        """
        self._fixed_command = np.asarray(command, dtype=np.float64)
        self.commands[:] = self._fixed_command

    # ------------------------------------------------------------------ statistics
    def pop_reward_stats(self) -> dict[str, dict[str, float]]:
        """Per-term statistics since the last call, over all env steps: ``{term: {mean, min, max}}``.

        Values are per policy step, before the ``dt`` factor (the units the reward program returns).
        These are Eureka's "reward reflection" inputs.
        """
        out = {}
        for k, (s, lo, hi, cnt) in self._stats.items():
            out[k] = {"mean": s / max(cnt, 1.0), "min": lo, "max": hi}
        self._stats = {}
        return out

    def pop_explosions(self) -> int:
        """Number of simulation blow-ups (episodes ended by the guard) since the last call."""
        n, self._explosions = self._explosions, 0
        return n

    # ------------------------------------------------------------------ internals
    def _accumulate(self, components: dict[str, torch.Tensor], valid: torch.Tensor) -> None:
        all_valid = bool(valid.all())
        for k, v in components.items():
            v = torch.as_tensor(v, dtype=torch.float32).reshape(-1)
            keep = torch.isfinite(v)
            if not all_valid:
                keep &= valid
            if not bool(keep.all()):  # the same elements, in the same order, as valid-then-finite selection
                v = v[keep]
                if v.numel() == 0:
                    continue
            lo_v, hi_v = torch.aminmax(v)
            s, lo, hi, cnt = self._stats.get(k, (0.0, math.inf, -math.inf, 0.0))
            self._stats[k] = (s + float(v.sum()), min(lo, float(lo_v)), max(hi, float(hi_v)), cnt + v.numel())

    def _sample_commands(self, ids: np.ndarray) -> None:
        if self._fixed_command is not None:
            self.commands[ids] = self._fixed_command
            return
        c = self.cfg.commands
        n = ids.size
        self.commands[ids, 0] = self.rng.uniform(*c.lin_vel_x, size=n)
        self.commands[ids, 1] = self.rng.uniform(*c.lin_vel_y, size=n)
        self.commands[ids, 2] = self.rng.uniform(*c.ang_vel_z, size=n)

    def _reset_ids(self, ids: np.ndarray) -> None:
        if self.terrain is not None:  # curriculum on the episode that ends (before the state is reset)
            b = self._base_q
            elapsed = self.episode_length_buf.numpy()[ids] * self.dt
            self.terrain.update_levels(ids, self._qpos[ids, b : b + 2], self.commands[ids, :2], elapsed)
        self.randomizer.on_reset(ids)
        self.batch.reset(ids=ids, stage=mujoco.mjtStage.mjSTAGE_NONE)
        n = ids.size
        qpos = self._qpos[ids]
        qpos[:, self._base_q : self._base_q + 3] = [0.0, 0.0, self.spec.init_base_height]
        if self.terrain is not None:
            qpos[:, self._base_q : self._base_q + 3] = self.terrain.spawn(ids, self.spec.init_base_height)
        yaw = np.full(n, self._fixed_yaw) if self._fixed_yaw is not None else self.rng.uniform(-math.pi, math.pi, n)
        qpos[:, self._base_q + 3 : self._base_q + 7] = yaw_quat(yaw)
        noise = self.rng.uniform(-self.cfg.reset_joint_noise, self.cfg.reset_joint_noise, size=(n, self.num_actions))
        qpos[:, self._qadr] = self._default_q + noise
        self._qpos[ids] = qpos
        self._qvel[ids] = 0.0
        velocity = self.randomizer.reset_velocity(ids)
        if velocity is not None:
            qvel = self._qvel[ids]
            qvel[:, self._base_d : self._base_d + 6] = velocity
            self._qvel[ids] = qvel
        ctrl = self._ctrl[ids]
        ctrl[:, self._act_ids] = qpos[:, self._qadr]
        self._ctrl[ids] = ctrl
        self.randomizer.init_latency_history(ids, ctrl)
        self.batch.forward(ids=ids, stage=mujoco.mjtStage.mjSTAGE_VEL)
        self.actions[ids] = 0.0
        self.last_actions[ids] = 0.0
        self.feet_air_time[ids] = 0.0
        self.feet_contact_time[ids] = 0.0
        self.last_air_time[ids] = 0.0
        self._prev_contact[ids] = False
        self._prev_foot_pos[ids] = self._site_xpos[ids][:, self._foot_site_ids]
        self.episode_length_buf[torch.from_numpy(ids)] = 0
        self._sample_commands(ids)

    def _unstable(self) -> np.ndarray:
        qv = self._qvel
        finite = np.isfinite(self._qpos).all(axis=1) & np.isfinite(qv).all(axis=1)
        return ~finite | (np.abs(np.nan_to_num(qv, nan=np.inf)) > self.cfg.max_joint_vel).any(axis=1)

    def _fell(self, s: RewardState) -> np.ndarray:
        low = s.base_height.numpy() < self.spec.min_base_height
        tilted = s.projected_gravity_b[:, 2].numpy() > -self.cfg.max_tilt_cos
        return low | tilted

    def _compute_state_and_obs(self, exploded: np.ndarray, only: np.ndarray | None = None) -> RewardState:
        """Read the simulation, update contact timers, build the reward state and observations.

        With ``only`` set (just-reset envs), only those rows of the observations are refreshed and the
        contact timers are left as the reset set them.
        """
        qpos, qvel = self._qpos, self._qvel  # views of the simulation state: only read below, never written
        if exploded.any() or not (np.isfinite(qpos).all() and np.isfinite(qvel).all()):
            qpos = np.nan_to_num(qpos, nan=0.0, posinf=0.0, neginf=0.0)  # copies, fixed up below
            qvel = np.nan_to_num(qvel, nan=0.0, posinf=0.0, neginf=0.0)
            qpos[exploded] = 0.0
            qpos[exploded, self._base_q + 3] = 1.0
            qvel[exploded] = 0.0
        b = self._base_q
        quat = qpos[:, b + 3 : b + 7]
        quat = quat / np.maximum(np.linalg.norm(quat, axis=1, keepdims=True), 1e-9)
        rot = quat_to_rotmat(quat)
        lin_w = qvel[:, self._base_d : self._base_d + 3]
        ang_b = qvel[:, self._base_d + 3 : self._base_d + 6]
        lin_b = rotate_inverse(rot, lin_w)
        ang_w = rotate(rot, ang_b)
        grav_b = rotate_inverse(rot, np.broadcast_to([0.0, 0.0, -1.0], lin_w.shape))
        joint_pos = qpos[:, self._qadr]
        joint_vel = qvel[:, self._dadr]
        # fancy indexing copies, so the NaN fix-up can work in place
        torques = np.nan_to_num(self._act_force[:, self._act_ids], copy=False)
        foot_pos = np.nan_to_num(self._site_xpos[:, self._foot_site_ids], copy=False)
        force = np.nan_to_num(self._sensordata[:, self._touch_adr], copy=False)
        contact = force > self.cfg.contact_force_threshold
        if only is None:
            foot_vel = (foot_pos - self._prev_foot_pos) / self.dt
            first_contact = contact & ~self._prev_contact
            self.feet_air_time += self.dt
            self.feet_contact_time += self.dt
            self.last_air_time = np.where(first_contact, self.feet_air_time, self.last_air_time)
            self.feet_air_time[contact] = 0.0
            self.feet_contact_time[~contact] = 0.0
            self._prev_contact = contact
            self._prev_foot_pos = foot_pos
        else:
            foot_vel = np.zeros_like(foot_pos)
            first_contact = np.zeros_like(contact)
        time_s = self.episode_length_buf.numpy() * self.dt

        def t(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

        height = qpos[:, b + 2]
        if self.terrain is not None:  # height above the ground under the base
            height = height - self.terrain.height_at(qpos[:, b : b + 2])
        state = RewardState(
            base_pos_w=t(qpos[:, b : b + 3]),
            base_quat_w=t(quat),
            base_lin_vel_w=t(lin_w),
            base_ang_vel_w=t(ang_w),
            base_lin_vel_b=t(lin_b),
            base_ang_vel_b=t(ang_b),
            projected_gravity_b=t(grav_b),
            base_height=t(height),
            joint_pos=t(joint_pos),
            joint_vel=t(joint_vel),
            default_joint_pos=t(np.broadcast_to(self._default_q, joint_pos.shape)),
            joint_torques=t(torques),
            actions=t(self.actions),
            last_actions=t(self.last_actions),
            foot_pos_w=t(foot_pos),
            foot_vel_w=t(foot_vel),
            foot_contact=torch.from_numpy(contact.copy()),
            foot_contact_force=t(force),
            feet_air_time_s=t(self.feet_air_time),
            feet_contact_time_s=t(self.feet_contact_time),
            last_air_time_s=t(self.last_air_time),
            first_contact=torch.from_numpy(first_contact.copy()),
            commands=t(self.commands),
            time_s=t(time_s),
            gait_phase=t(np.mod(time_s * self.cfg.gait_frequency_hz, 1.0)),
            dt=self.dt,
        )
        terms = [
            state.base_ang_vel_b * ANG_VEL_SCALE,
            state.projected_gravity_b,
            state.commands * self._command_scale,
            state.joint_pos - state.default_joint_pos + t(self.randomizer.joint_offset),
            state.joint_vel * JOINT_VEL_SCALE,
            state.actions,
        ]
        if self.cfg.gait_clock:
            angle = 2.0 * math.pi * state.gait_phase[:, None]
            terms += [torch.sin(angle), torch.cos(angle)]
        policy = torch.cat(terms, dim=1)  # one copy into the observation, clock included
        if self.cfg.obs_noise:
            noise = torch.from_numpy(self.rng.uniform(-1.0, 1.0, size=policy.shape).astype(np.float32))
            policy = policy + noise * self._noise_widths
        critic = torch.cat(
            [state.base_lin_vel_b * LIN_VEL_SCALE, state.base_height[:, None], state.foot_contact.float()], dim=1
        )
        if only is None:
            self._obs = TensorDict({"policy": policy, "critic": critic}, batch_size=[self.num_envs])
            self.last_state = state
        else:
            idx = torch.from_numpy(only)
            self._obs["policy"][idx] = policy[idx]
            self._obs["critic"][idx] = critic[idx]
        return state
