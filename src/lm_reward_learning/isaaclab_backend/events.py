"""Domain randomization in the Isaac Lab task: the ``randomization:`` section as Isaac Lab ``EventTerm``s.

Where Isaac Lab 3.0 has the event, the task uses it (``isaaclab.envs.mdp``), with the parameters of
:mod:`lm_reward_learning.randomization` passed through unchanged:

==================  ===================================================================================
term                Isaac Lab
==================  ===================================================================================
physics_material    ``mdp.randomize_rigid_body_material`` on every robot shape (Newton: one ``mu`` per
                    shape); the ground's friction is set to the range's low end, so that MuJoCo-Warp's
                    contact friction (the larger of the two shapes', ``newton/_src/solvers/mujoco/
                    kernels.py``) is the robot's draw, as in the MuJoCo env
add_base_mass       ``mdp.randomize_rigid_body_mass(operation="add", recompute_inertia=True)`` on the base
base_com            ``mdp.randomize_rigid_body_com`` on the base
actuator_gains      ``mdp.randomize_actuator_gains(operation="scale")`` on the servos
push_robot          ``mdp.push_by_setting_velocity``, ``mode="interval"``
reset_base          ``mdp.reset_root_state_uniform``'s ``velocity_range``
==================  ===================================================================================

Isaac Lab has no event for the other three; they are here, with the MuJoCo env's semantics:

* ``motor_strength``: :func:`motor_strength_term` scales the joints' effort limits
  (``write_joint_effort_limit_to_sim_index``) per env and joint.
* ``joint_calibration`` and ``action_latency``: :func:`joint_position_action_classes` is Isaac Lab's
  ``JointPositionAction`` with per-env encoder offsets (targets ``- offset``; the observation reads
  ``q + offset``) and a delay of whole physics steps (``apply_actions`` runs once per physics step and
  keeps the previous targets for the first ``k``); :func:`set_joint_calibration` and
  :func:`set_action_latency` draw them at reset.

``terrain`` has no Isaac Lab counterpart here yet: a config with it is refused (:func:`event_specs`).

``curriculum_steps`` becomes Isaac Lab curriculum terms (``mdp.modify_term_cfg`` on each event's range
parameter, :func:`curriculum_specs`, :func:`ramp_param`): the ranges grow from the nominal point with
``env.common_step_counter`` as in the MuJoCo env, except ``physics_material``, whose Newton
implementation reads its range once at construction (it stays at its full range).

:func:`event_specs` is pure Python (tested in the main venv); the term classes import ``isaaclab``
and exist only in ``.venv-isaaclab``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

from lm_reward_learning.errors import ConfigError

ACTION_TERM = "joint_pos"
"""Name of the task's action term (read by the calibration observation and the draw events)."""


@dataclass(frozen=True)
class EventSpec:
    """One event term, before Isaac Lab is imported.

    Attributes:
        func: ``mdp.<name>`` (Isaac Lab's) or ``lmrl.<name>`` (this module's).
        mode: ``startup``, ``reset`` or ``interval``.
        params: The term's parameters (``asset_cfg`` is added by the task from ``asset``).
        asset: ``SceneEntityCfg`` keyword arguments for ``asset_cfg``, or None for none.
        interval_range_s: For ``interval`` events, s.
    """

    func: str
    mode: str
    params: dict[str, Any] = field(default_factory=dict)
    asset: dict[str, Any] | None = None
    interval_range_s: tuple[float, float] | None = None


def _r(v: Any) -> tuple[float, float]:
    return (float(v[0]), float(v[1]))


def _axes(d: dict[str, Any], keys: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    return {k: _r(d[k]) for k in keys if k in d and tuple(d[k]) != (0.0, 0.0)}


def event_specs(
    randomization: dict[str, Any], *, base_body: str, joints: list[str], physics_dt: float
) -> dict[str, EventSpec]:
    """The Isaac Lab events of a ``to_dict(RandomizationConfig)`` (module docstring), by Isaac Lab name.

    Args:
        randomization: The section as a dict (``{}`` or ``enabled: false``: none).
        base_body: The robot's base body name.
        joints: Actuated joints, policy order.
        physics_dt: Physics step, s (the latency is a whole number of them).

    Raises:
        ConfigError: ``terrain`` (not available in the Isaac Lab task), or a latency range holding no
            whole physics step.
    """
    r = randomization or {}
    if not r.get("enabled", True):
        return {}
    mode = "startup" if r.get("resample") == "startup" else "reset"
    robot_all = {"body_names": ".*"}
    base = {"body_names": [base_body]}
    servos = {"joint_names": list(joints), "preserve_order": True}
    out: dict[str, EventSpec] = {}
    if r.get("terrain"):
        raise ConfigError(
            "randomization.terrain is not available in the Isaac Lab task yet; train with --backend mujoco, or "
            "remove terrain: from the randomization section."
        )
    if r.get("physics_material"):
        mu = _r(r["physics_material"]["static_friction_range"])
        params = {"static_friction_range": mu, "dynamic_friction_range": mu, "restitution_range": (0.0, 0.0)}
        out["physics_material"] = EventSpec(
            "mdp.randomize_rigid_body_material", mode, {**params, "num_buckets": 64}, robot_all
        )
    if r.get("add_base_mass"):
        params = {"mass_distribution_params": _r(r["add_base_mass"]["mass_distribution_params"]), "operation": "add",
                  "distribution": "uniform", "recompute_inertia": True}  # fmt: skip
        out["add_base_mass"] = EventSpec("mdp.randomize_rigid_body_mass", mode, params, base)
    if r.get("base_com"):
        com = _axes(r["base_com"]["com_range"], ("x", "y", "z"))
        out["base_com"] = EventSpec("mdp.randomize_rigid_body_com", mode, {"com_range": com}, base)
    if r.get("actuator_gains"):
        g = r["actuator_gains"]
        params = {"stiffness_distribution_params": _r(g["stiffness_distribution_params"]),
                  "damping_distribution_params": _r(g["damping_distribution_params"]),
                  "operation": "scale", "distribution": "uniform"}  # fmt: skip
        out["actuator_gains"] = EventSpec("mdp.randomize_actuator_gains", mode, params, servos)
    if r.get("motor_strength"):
        params = {"scale_range": _r(r["motor_strength"]["torque_limit_scale_range"])}
        out["motor_strength"] = EventSpec("lmrl.motor_strength_term", mode, params, servos)
    if r.get("joint_calibration"):
        params = {"offset_range_rad": _r(r["joint_calibration"]["offset_range_rad"])}
        out["joint_calibration"] = EventSpec("lmrl.set_joint_calibration", mode, params)
    if r.get("action_latency"):
        lo, hi = _r(r["action_latency"]["latency_range_s"])
        k = (math.ceil(lo / physics_dt - 1e-9), math.floor(hi / physics_dt + 1e-9))
        if k[1] < k[0]:
            raise ConfigError(f"randomization.action_latency.latency_range_s [{lo}, {hi}] holds no whole physics step.")
        out["action_latency"] = EventSpec("lmrl.set_action_latency", mode, {"steps_range": k})
    if r.get("push_robot"):
        p = r["push_robot"]
        vel = _axes(p["velocity_range"], ("x", "y", "z", "roll", "pitch", "yaw"))
        out["push_robot"] = EventSpec(
            "mdp.push_by_setting_velocity", "interval", {"velocity_range": vel}, {}, _r(p["interval_range_s"])
        )
    return out


def ground_friction(randomization: dict[str, Any], default: float) -> float:
    """The ground's friction: the low end of ``physics_material`` when it is randomized, else ``default``."""
    r = randomization or {}
    if r.get("enabled", True) and r.get("physics_material"):
        return float(r["physics_material"]["static_friction_range"][0])
    return default


def reset_velocity_range(randomization: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """``reset_base``'s ``velocity_range`` for ``mdp.reset_root_state_uniform`` (``{}``: at rest)."""
    r = randomization or {}
    if not r.get("enabled", True) or not r.get("reset_base"):
        return {}
    return _axes(r["reset_base"]["velocity_range"], ("x", "y", "z", "roll", "pitch", "yaw"))


# ------------------------------------------------------------------------------ Isaac Lab side
@functools.cache
def joint_position_action_classes() -> tuple[type, type]:
    """``(LmrlJointPositionAction, LmrlJointPositionActionCfg)``: Isaac Lab's joint position action with
    per-env encoder offsets and whole-physics-step latency (module docstring)."""
    import torch
    from isaaclab.envs.mdp.actions.actions_cfg import JointPositionActionCfg
    from isaaclab.envs.mdp.actions.joint_actions import JointPositionAction
    from isaaclab.utils import configclass

    class LmrlJointPositionAction(JointPositionAction):
        """Joint position targets ``default + scale * action - offset``, each env's new targets applied
        from its ``latency_steps``-th physics step of the policy step on (the previous ones before)."""

        def __init__(self, cfg: Any, env: Any) -> None:
            super().__init__(cfg, env)
            self.offset_rad = torch.zeros(self.num_envs, self._num_joints, device=self.device)
            self.latency_steps = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
            self._previous = self._asset.data.default_joint_pos.torch[:, self._joint_ids].clone()
            self._current = self._previous.clone()
            self._substep = 0
            # with physics-owned decimation (CUDA graphs) apply_actions runs once per policy step
            self._one_apply_per_step = bool(getattr(env, "_physics_handles_decimation", False))

        def process_actions(self, actions: torch.Tensor) -> None:
            self._previous = self._current.clone()
            super().process_actions(actions)
            self._current = self.processed_actions - self.offset_rad
            self._substep = 0

        def apply_actions(self) -> None:
            if self._one_apply_per_step and bool((self.latency_steps > 0).any()):
                raise RuntimeError("action latency needs one apply_actions call per physics step (no CUDA graph)")
            late = (self._substep < self.latency_steps)[:, None]
            target = torch.where(late, self._previous, self._current)
            self._asset.set_joint_position_target_index(target=target, joint_ids=self._joint_ids)
            self._substep += 1

        def reset(self, env_ids: Any = None) -> None:
            super().reset(env_ids)
            ids = slice(None) if env_ids is None else env_ids
            q = self._asset.data.joint_pos.torch[:, self._joint_ids]
            # a delayed servo holds the reset pose (the MuJoCo env fills its control history the same way)
            self._previous[ids] = q[ids]
            self._current[ids] = q[ids]

    @configclass
    class LmrlJointPositionActionCfg(JointPositionActionCfg):
        class_type: type = LmrlJointPositionAction

    return LmrlJointPositionAction, LmrlJointPositionActionCfg


def _ids(env: Any, env_ids: Any) -> Any:
    import torch

    if env_ids is None or isinstance(env_ids, slice):
        return torch.arange(env.num_envs, device=env.device)
    return env_ids


def set_joint_calibration(env: Any, env_ids: Any, offset_range_rad: tuple[float, float]) -> None:
    """Event: draw encoder offsets per env and joint, uniform in ``offset_range_rad``, rad."""
    import torch

    term = env.action_manager.get_term(ACTION_TERM)
    ids = _ids(env, env_ids)
    lo, hi = offset_range_rad
    term.offset_rad[ids] = lo + (hi - lo) * torch.rand(len(ids), term.offset_rad.shape[1], device=term.device)


def set_action_latency(env: Any, env_ids: Any, steps_range: tuple[int, int]) -> None:
    """Event: draw each env's action delay, whole physics steps uniform in ``steps_range`` (inclusive)."""
    import torch

    term = env.action_manager.get_term(ACTION_TERM)
    ids = _ids(env, env_ids)
    term.latency_steps[ids] = torch.randint(
        int(steps_range[0]), int(steps_range[1]) + 1, (len(ids),), device=term.device
    )


@functools.cache
def motor_strength_term() -> type:
    """The ``motor_strength`` event: effort limits ``= default x U(scale_range)`` per env and joint."""
    import torch
    from isaaclab.managers import ManagerTermBase

    class randomize_motor_strength(ManagerTermBase):  # noqa: N801 - Isaac Lab names event terms in snake case
        def __init__(self, cfg: Any, env: Any) -> None:
            super().__init__(cfg, env)
            self.asset_cfg = cfg.params["asset_cfg"]
            self.asset = env.scene[self.asset_cfg.name]
            self.default = self.asset.data.joint_effort_limits.torch.clone()

        def __call__(self, env: Any, env_ids: Any, scale_range: tuple[float, float], asset_cfg: Any) -> None:
            ids = _ids(env, env_ids)
            joints = asset_cfg.joint_ids
            lo, hi = scale_range
            default = self.default[ids][:, joints]
            scale = lo + (hi - lo) * torch.rand(default.shape, device=default.device)
            self.asset.write_joint_effort_limit_to_sim_index(limits=default * scale, joint_ids=joints, env_ids=ids)

    return randomize_motor_strength


def resolve(func: str) -> Any:
    """The callable of an :class:`EventSpec` ``func`` (imports ``isaaclab``)."""
    kind, name = func.split(".", 1)
    if kind == "mdp":
        import isaaclab.envs.mdp as mdp

        return getattr(mdp, name)
    obj = globals()[name]
    return obj() if name.endswith("_term") else obj


# ------------------------------------------------------------------------------ curriculum
_RAMPED = {
    "add_base_mass": (("mass_distribution_params", 0.0),),
    "base_com": (("com_range", 0.0),),
    "actuator_gains": (("stiffness_distribution_params", 1.0), ("damping_distribution_params", 1.0)),
    "motor_strength": (("scale_range", 1.0),),
    "joint_calibration": (("offset_range_rad", 0.0),),
    "action_latency": (("steps_range", None),),  # None: from the range's low end
    "push_robot": (("velocity_range", 0.0),),
}
"""Event term → its range parameters and their nominal values (the curriculum's start)."""


def curriculum_specs(randomization: dict[str, Any], events: dict[str, EventSpec]) -> dict[str, dict[str, Any]]:
    """``mdp.modify_term_cfg`` parameters per curriculum term (name → params), ``{}`` without a curriculum."""
    steps = int((randomization or {}).get("curriculum_steps") or 0)
    if steps <= 0 or not events:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, ev in events.items():
        for key, nominal in _RAMPED.get(name, ()):
            out[f"{name}_{key}"] = {
                "address": f"events.{name}.params.{key}",
                "modify_params": {"final": ev.params[key], "nominal": nominal, "steps": steps},
            }
    velocity = reset_velocity_range(randomization)
    if velocity:
        out["reset_base_velocity_range"] = {
            "address": "events.reset_base.params.velocity_range",
            "modify_params": {"final": velocity, "nominal": 0.0, "steps": steps},
        }
    return out


def _interp(final: Any, nominal: float | None, frac: float) -> Any:
    if isinstance(final, dict):
        return {k: _interp(v, nominal, frac) for k, v in final.items()}
    lo, hi = final
    if nominal is None:  # integer steps from the low end
        return (int(lo), math.floor(lo + frac * (hi - lo) + 1e-9))
    return (nominal + frac * (lo - nominal), nominal + frac * (hi - nominal))


def ramp_param(env: Any, env_ids: Any, data: Any, final: Any, nominal: float | None, steps: int) -> Any:
    """``modify_fn`` of ``mdp.modify_term_cfg``: ``final`` shrunk toward ``nominal`` by
    ``min(1, env.common_step_counter / steps)``."""
    return _interp(final, nominal, min(1.0, float(env.common_step_counter) / steps))
