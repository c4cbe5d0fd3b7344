"""The Isaac Lab task: a manager-based velocity task whose one reward term is our reward program.

Runs only in Isaac Lab's environment (``.venv-isaaclab``); ``isaaclab`` is imported inside the
functions, after :func:`isaaclab.app.launch_simulation` decided the runtime (kit-less here).

The task mirrors :class:`~lm_reward_learning.envs.mujoco_env.MujocoVecEnv` term for term, so a policy
trained here loads into the MuJoCo env (``lmrl play`` / ``lmrl export``) and the other way round:

* Scene: the robot USD made from our MJCF (:mod:`~.usd_assets`), a collision-plane ground, a contact
  sensor on every body (air/contact time tracked, threshold = ``contact_force_threshold``).
* Physics: Newton's MuJoCo-Warp solver, the MJCF's timestep, implicitfast integrator, pyramidal cone;
  ``decimation`` physics steps per policy step.
* Actuators: implicit PD per joint with the spec's kp, kd and torque limits (MuJoCo's position servos),
  armature from the MJCF.
* Actions: joint position targets ``default + action_scale * clip(action)``, policy joint order.
* Observations: groups ``policy`` and ``critic`` built from the launcher's observation layout
  (names, scales, noise: ``envs.mujoco_env.observation_layout``); Isaac Lab adds noise before scaling,
  so the noise widths are divided by the scale.
* Commands: uniform ``(v_x, v_y, yaw_rate)`` ranges, resampled every ``resampling_time_s``.
* Resets: base at ``init_base_height`` with a uniform random yaw, joints at default ± ``reset_joint_noise``.
* Domain randomization: the ``randomization:`` section as Isaac Lab event terms (:mod:`~.events`):
  ``physics_material``, ``add_base_mass``, ``base_com``, ``actuator_gains``, ``push_robot``,
  ``reset_base`` are Isaac Lab's own; motor strength, encoder offsets and action latency are ours.
* Terminations: time-out; fall (base below ``min_base_height`` or tilted past ``acos(max_tilt_cos)``);
  a non-finite state or a joint faster than ``max_joint_vel`` (MuJoCo's blow-up guard).
* Reward: one term, ``RewardProgramTerm`` (weight 1), an adapter of :class:`~.binding.RewardProgramBinding`:
  builds the ``RewardState`` (:mod:`~.state_mapping`), calls ``compute_reward`` and returns the total;
  the ``RewardManager`` multiplies it by ``dt`` as the MuJoCo env does. Components go to
  :class:`~.term_stats.TermStats`.

Sources: Isaac Lab 3.0 ``isaaclab_tasks/core/velocity/velocity_env_cfg.py`` (structure, Newton
settings) and ``config/go2`` (Go2 flat task); our ``envs/mujoco_env.py`` (every value).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from lm_reward_learning.isaaclab_backend.binding import COMMAND, CONTACTS, ROBOT, RewardProgramBinding
from lm_reward_learning.isaaclab_backend.events import (
    ACTION_TERM,
    curriculum_specs,
    event_specs,
    ground_friction,
    joint_position_action_classes,
    reset_velocity_range,
    resolve,
)
from lm_reward_learning.robots.spec import RobotSpec


def load_asset_info(assets_dir: Path, robot: str) -> dict[str, Any]:
    """``asset_info.json`` of ``robot`` (see :func:`~.usd_assets.asset_info`)."""
    return json.loads((Path(assets_dir) / robot / "asset_info.json").read_text())


# ----------------------------------------------------------------------------------- reward term
def _reward_term_class() -> type:
    """``RewardProgramTerm``: the Isaac Lab ``ManagerTermBase`` adapter of :class:`~.binding.RewardProgramBinding`."""
    from isaaclab.managers import ManagerTermBase

    class RewardProgramTerm(ManagerTermBase):
        """Isaac Lab reward term evaluating a reward program on our ``RewardState`` (weight 1).

        Params (``RewardTermCfg.params``) are :class:`~.binding.RewardProgramBinding`'s keyword
        arguments. Returns the program's total, shape ``(N,)``; the ``RewardManager`` multiplies it by
        ``dt``. The binding (statistics, blow-up count) is ``self.binding``.
        """

        def __init__(self, cfg: Any, env: Any) -> None:
            super().__init__(cfg, env)
            self.binding = RewardProgramBinding(env, **cfg.params)

        def reset(self, env_ids: Any = None) -> None:
            self.binding.reset(env_ids)

        def __call__(  # Isaac Lab checks the configured params against this signature
            self,
            env: Any,
            program_file: str,
            robot: str,
            foot_offsets_b: list[list[float]],
            contact_force_threshold: float,
            action_clip: float,
            gait_frequency_hz: float,
        ) -> torch.Tensor:
            return self.binding(env)

    return RewardProgramTerm


# ----------------------------------------------------------------------------------- mdp functions
def obs_base_lin_vel_b(env: Any) -> torch.Tensor:
    """Base (link origin) linear velocity in the base frame, m/s. Shape ``(N, 3)``."""
    return env.scene[ROBOT].data.root_link_lin_vel_b.torch


def obs_base_ang_vel_b(env: Any) -> torch.Tensor:
    """Base angular velocity in the base frame, rad/s. Shape ``(N, 3)``."""
    return env.scene[ROBOT].data.root_link_ang_vel_b.torch


def obs_projected_gravity_b(env: Any) -> torch.Tensor:
    """Unit gravity direction in the base frame. Shape ``(N, 3)``."""
    return env.scene[ROBOT].data.projected_gravity_b.torch


def obs_base_height(env: Any) -> torch.Tensor:
    """Base height above the env's floor, m. Shape ``(N, 1)``."""
    z = env.scene[ROBOT].data.root_link_pos_w.torch[:, 2] - env.scene.env_origins[:, 2]
    return z[:, None]


def obs_foot_contact(env: Any, sensor_cfg: Any, threshold: float) -> torch.Tensor:
    """1 where a foot's normal force (world z of the net contact force) exceeds ``threshold``. ``(N, F)``.

    ``sensor_cfg``: ``SceneEntityCfg`` of the contact sensor with the foot bodies, spec order.
    """
    fz = env.scene.sensors[CONTACTS].data.net_forces_w.torch[:, sensor_cfg.body_ids, 2]
    return (fz > threshold).float()


def obs_joint_pos_rel(env: Any, asset_cfg: Any) -> torch.Tensor:
    """Joint angles as the encoders read them (plus the calibration offsets of
    :mod:`~.events`) minus the default pose, rad, policy order (``asset_cfg.joint_ids``). ``(N, J)``."""
    d = env.scene[ROBOT].data
    ids = asset_cfg.joint_ids
    rel = d.joint_pos.torch[:, ids] - d.default_joint_pos.torch[:, ids]
    offset = getattr(env.action_manager.get_term(ACTION_TERM), "offset_rad", None)
    return rel if offset is None else rel + offset


def obs_joint_vel(env: Any, asset_cfg: Any) -> torch.Tensor:
    """Joint velocities, rad/s, policy order (``asset_cfg.joint_ids``). Shape ``(N, J)``."""
    return env.scene[ROBOT].data.joint_vel.torch[:, asset_cfg.joint_ids]


def obs_commands(env: Any) -> torch.Tensor:
    """The velocity command ``(v_x, v_y, yaw_rate)``, base frame. Shape ``(N, 3)``."""
    return env.command_manager.get_command(COMMAND)


def obs_last_action(env: Any, clip: float) -> torch.Tensor:
    """This step's action, clipped as the MuJoCo env clips it. Shape ``(N, J)``."""
    return env.action_manager.action.clamp(-clip, clip)


def term_sim_unstable(env: Any, max_joint_vel: float) -> torch.Tensor:
    """A non-finite state or a joint faster than ``max_joint_vel`` rad/s (MuJoCo's blow-up guard). ``(N,)``."""
    d = env.scene[ROBOT].data
    q, qd = d.joint_pos.torch, d.joint_vel.torch
    root = d.root_link_pos_w.torch
    finite = torch.isfinite(q).all(1) & torch.isfinite(qd).all(1) & torch.isfinite(root).all(1)
    return ~finite | (qd.nan_to_num(nan=math.inf).abs() > max_joint_vel).any(1)


# ----------------------------------------------------------------------------------- config
_OBS_FUNCS = {
    "base_ang_vel": obs_base_ang_vel_b,
    "projected_gravity": obs_projected_gravity_b,
    "velocity_commands": obs_commands,
    "joint_pos_rel": obs_joint_pos_rel,
    "joint_vel_rel": obs_joint_vel,
    "last_action": obs_last_action,
    "base_lin_vel": obs_base_lin_vel_b,
    "base_height": obs_base_height,
    "foot_contact": obs_foot_contact,
}
"""Observation term name (``observation_layout``) → function. An unknown name is an error, so the
two backends cannot drift apart silently."""


def build_env_cfg(
    spec: RobotSpec,
    *,
    env: dict[str, Any],
    observation_layout: dict[str, list[dict[str, Any]]],
    physics_dt: float,
    assets_dir: Path,
    program_file: Path,
    device: str,
    seed: int,
    randomization: dict[str, Any] | None = None,
    reset_yaw: tuple[float, float] = (-math.pi, math.pi),
) -> Any:
    """Build the ``ManagerBasedRLEnvCfg`` described in the module docstring.

    Args:
        spec: The robot.
        env: ``to_dict(EnvConfig)`` (num_envs, decimation, commands, ...).
        observation_layout: ``{"policy": [...], "critic": [...]}`` term dicts.
        physics_dt: Physics step, s.
        assets_dir: Folder of ``ground.usda`` and ``<robot>/robot.usdc`` + ``asset_info.json``.
        program_file: The reward program.
        device: ``cpu`` or ``cuda:N``.
        seed: Environment seed.
        randomization: ``to_dict(RandomizationConfig)``: Isaac Lab event terms (:mod:`~.events`); None: none.
        reset_yaw: Range of the heading at reset, rad (evaluation rollouts use ``(0, 0)``).

    Raises:
        ValueError: on an observation term this task does not know.
        lm_reward_learning.errors.ConfigError: a randomization term the task cannot apply.
    """
    import isaaclab.envs.mdp as mdp
    import isaaclab.sim as sim_utils
    from isaaclab.actuators import ImplicitActuatorCfg
    from isaaclab.assets import ArticulationCfg, AssetBaseCfg
    from isaaclab.envs import ManagerBasedRLEnvCfg
    from isaaclab.managers import EventTermCfg, ObservationGroupCfg, ObservationTermCfg, RewardTermCfg, SceneEntityCfg
    from isaaclab.managers import TerminationTermCfg as DoneTerm
    from isaaclab.scene import InteractiveSceneCfg
    from isaaclab.sensors import ContactSensorCfg
    from isaaclab.sim import SimulationCfg
    from isaaclab.utils import configclass
    from isaaclab.utils.noise import UniformNoiseCfg
    from isaaclab_newton.physics import MJWarpSolverCfg, NewtonCfg

    info = load_asset_info(assets_dir, spec.name)
    joints = list(spec.joint_names)
    cmd = env["commands"]
    decimation = int(env["decimation"])
    # Contact and constraint-row budgets per world: Isaac Lab's Go2 flat task uses 35 / 65; the G1's
    # foot and limb capsules make up to ~30 contacts (measured), 4 rows each with the pyramidal cone.
    nconmax, njmax = (35, 65) if spec.kind == "quadruped" else (64, 256)
    randomization = randomization or {}
    events = event_specs(randomization, base_body=spec.base_body, joints=joints, physics_dt=physics_dt)
    mu_ground = ground_friction(randomization, 0.8)
    _, action_cfg_class = joint_position_action_classes()

    robot_cfg = ArticulationCfg(
        prim_path="{ENV_REGEX_NS}/Robot",
        spawn=sim_utils.UsdFileCfg(
            usd_path=str(Path(assets_dir) / spec.name / "robot.usdc"),
            activate_contact_sensors=True,
        ),
        init_state=ArticulationCfg.InitialStateCfg(
            pos=(0.0, 0.0, spec.init_base_height),
            joint_pos=dict(spec.default_joint_pos),
            joint_vel={".*": 0.0},
        ),
        soft_joint_pos_limit_factor=1.0,
        actuators={
            "servos": ImplicitActuatorCfg(
                joint_names_expr=joints,
                stiffness=dict(spec.kp),
                damping=dict(spec.kd),
                effort_limit_sim=dict(spec.torque_limits),
                armature=dict(info["armature"]),
            )
        },
    )

    @configclass
    class SceneCfg(InteractiveSceneCfg):
        ground = AssetBaseCfg(
            prim_path="/World/ground",
            spawn=sim_utils.GroundPlaneCfg(
                usd_path=str(Path(assets_dir) / "ground.usda"),
                physics_material=sim_utils.RigidBodyMaterialCfg(static_friction=mu_ground, dynamic_friction=mu_ground),
            ),
        )
        robot = robot_cfg
        contact_forces = ContactSensorCfg(
            prim_path="{ENV_REGEX_NS}/Robot/.*",
            history_length=3,
            track_air_time=True,
            force_threshold=float(env["contact_force_threshold"]),
        )

    def obs_group(terms: list[dict[str, Any]], noisy: bool) -> Any:
        group = ObservationGroupCfg()
        group.concatenate_terms = True
        group.enable_corruption = noisy
        for t in terms:
            func = _OBS_FUNCS.get(t["name"])
            if func is None:
                raise ValueError(
                    f"observation term {t['name']!r} has no Isaac Lab counterpart in isaaclab_backend/task.py; "
                    f"add it to _OBS_FUNCS (known: {sorted(_OBS_FUNCS)})"
                )
            params: dict[str, Any] = {}
            if t["name"] in ("joint_pos_rel", "joint_vel_rel"):
                params = {"asset_cfg": SceneEntityCfg(ROBOT, joint_names=joints, preserve_order=True)}
            elif t["name"] == "foot_contact":
                params = {
                    "sensor_cfg": SceneEntityCfg(CONTACTS, body_names=list(spec.foot_bodies), preserve_order=True),
                    "threshold": float(env["contact_force_threshold"]),
                }
            elif t["name"] == "last_action":
                params = {"clip": float(env["action_clip"])}
            scale = tuple(float(s) for s in t["scale"])
            noise = None
            if noisy and t["noise"] > 0:
                width = float(t["noise"]) / scale[0]  # Isaac Lab adds noise before scaling
                noise = UniformNoiseCfg(n_min=-width, n_max=width)
            setattr(group, t["name"], ObservationTermCfg(func=func, params=params, noise=noise, scale=scale))
        return group

    @configclass
    class ObservationsCfg:
        policy = obs_group(observation_layout["policy"], bool(env["obs_noise"]))
        critic = obs_group(observation_layout["critic"], False)

    @configclass
    class ActionsCfg:
        joint_pos = action_cfg_class(
            asset_name=ROBOT,
            joint_names=joints,
            preserve_order=True,
            scale=spec.action_scale,
            use_default_offset=True,
            clip={".*": (-float(env["action_clip"]), float(env["action_clip"]))},
        )

    @configclass
    class CommandsCfg:
        base_velocity = mdp.UniformVelocityCommandCfg(
            asset_name=ROBOT,
            resampling_time_range=(float(cmd["resampling_time_s"]),) * 2,
            rel_standing_envs=0.0,
            heading_command=False,
            debug_vis=False,
            ranges=mdp.UniformVelocityCommandCfg.Ranges(
                lin_vel_x=tuple(cmd["lin_vel_x"]), lin_vel_y=tuple(cmd["lin_vel_y"]), ang_vel_z=tuple(cmd["ang_vel_z"])
            ),
        )

    @configclass
    class EventsCfg:
        reset_base = EventTermCfg(
            func=mdp.reset_root_state_uniform,
            mode="reset",
            params={"pose_range": {"yaw": tuple(reset_yaw)}, "velocity_range": reset_velocity_range(randomization)},
        )
        reset_joints = EventTermCfg(
            func=mdp.reset_joints_by_offset,
            mode="reset",
            params={
                "position_range": (-float(env["reset_joint_noise"]), float(env["reset_joint_noise"])),
                "velocity_range": (0.0, 0.0),
            },
        )

    @configclass
    class RewardsCfg:
        reward_program = RewardTermCfg(
            func=_reward_term_class(),
            weight=1.0,
            params={
                "program_file": str(program_file),
                "robot": spec.name,
                "foot_offsets_b": [list(map(float, o)) for o in info["foot_offsets_b"]],
                "contact_force_threshold": float(env["contact_force_threshold"]),
                "action_clip": float(env["action_clip"]),
                "gait_frequency_hz": float(env["gait_frequency_hz"]),
            },
        )

    @configclass
    class TerminationsCfg:
        time_out = DoneTerm(func=mdp.time_out, time_out=True)
        fall_height = DoneTerm(func=mdp.root_height_below_minimum, params={"minimum_height": spec.min_base_height})
        fall_tilt = DoneTerm(func=mdp.bad_orientation, params={"limit_angle": math.acos(float(env["max_tilt_cos"]))})
        sim_unstable = DoneTerm(func=term_sim_unstable, params={"max_joint_vel": float(env["max_joint_vel"])})

    @configclass
    class TaskCfg(ManagerBasedRLEnvCfg):
        scene = SceneCfg(num_envs=int(env["num_envs"]), env_spacing=2.5)
        observations = ObservationsCfg()
        actions = ActionsCfg()
        commands = CommandsCfg()
        rewards = RewardsCfg()
        terminations = TerminationsCfg()
        events = EventsCfg()

        def __post_init__(self) -> None:
            self.decimation = decimation
            self.episode_length_s = float(env["episode_length_s"])
            self.seed = seed
            self.sim = SimulationCfg(
                dt=float(physics_dt),
                render_interval=decimation,
                device=device,
                physics=NewtonCfg(
                    solver_cfg=MJWarpSolverCfg(
                        njmax=njmax,
                        nconmax=nconmax,
                        cone="pyramidal",
                        impratio=1.0,
                        integrator="implicitfast",
                        use_mujoco_contacts=False,
                    ),
                    num_substeps=1,
                    debug_mode=False,
                    use_cuda_graph=device.startswith("cuda"),
                ),
            )
            self.scene.contact_forces.update_period = self.sim.dt

    cfg = TaskCfg()
    for name, ev in events.items():  # the randomization terms, by their Isaac Lab names
        params = dict(ev.params)
        if ev.asset is not None:
            params["asset_cfg"] = SceneEntityCfg(ROBOT, **ev.asset)
        term = EventTermCfg(func=resolve(ev.func), mode=ev.mode, params=params)
        if ev.interval_range_s is not None:
            term.interval_range_s = ev.interval_range_s
        setattr(cfg.events, name, term)
    ramps = curriculum_specs(randomization, events)
    if ramps:
        from isaaclab.managers import CurriculumTermCfg

        from lm_reward_learning.isaaclab_backend.events import ramp_param

        @configclass
        class CurriculumCfg:
            pass

        cfg.curriculum = CurriculumCfg()
        for name, params in ramps.items():
            term = CurriculumTermCfg(func=mdp.modify_term_cfg, params={**params, "modify_fn": ramp_param})
            setattr(cfg.curriculum, name, term)
    return cfg
