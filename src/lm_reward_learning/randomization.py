"""Domain randomization settings: the ``randomization:`` section of ``config/train/<robot>.yaml``.

Pure Python (imported by both backends, the CLI and the Isaac Lab venv). Terms carry Isaac Lab's
event names and parameter names where Isaac Lab has the event (``isaaclab.envs.mdp.events``, 3.0):

==================  ======================================  ==============================================
term                Isaac Lab event                          what is drawn, per env
==================  ======================================  ==============================================
physics_material    ``randomize_rigid_body_material``       one Coulomb friction for every robot-floor
                                                            contact (MuJoCo has one sliding coefficient:
                                                            ``static_friction_range`` is it)
add_base_mass       ``randomize_rigid_body_mass``           kg added to the base (``operation="add"``,
                    (``operation="add"``)                   inertia scaled with the mass ratio as
                                                            ``recompute_inertia=True``)
base_com            ``randomize_rigid_body_com``            base centre-of-mass offset, base frame, m
actuator_gains      ``randomize_actuator_gains``            kp and kd factors per joint
                    (``operation="scale"``)
motor_strength      none (legged_gym ``motor_strength``)    torque-limit factor per joint
joint_calibration   none (DrEureka ``motor_offset``)        encoder offset per joint, rad: the policy
                                                            reads ``q + offset`` and the servo holds
                                                            ``target - offset``
push_robot          ``push_by_setting_velocity``            base velocity change every
                    (``mode="interval"``)                   ``interval_range_s``, world frame, m/s
reset_base          ``reset_root_state_uniform``            base velocity at reset (yaw stays uniform)
action_latency      none (mjlab ``delay_min/max_lag``)      delay of the joint targets, whole physics steps
terrain             ``TerrainImporterCfg`` (generator)      gentle heightfield with a level curriculum
==================  ======================================  ==============================================

A term left out (or ``null``) is off, as an Isaac Lab ``EventTerm`` that is not configured; with
``enabled: false`` every term is off. ``resample`` says when physics parameters are drawn: ``reset``
(every episode, Isaac Lab ``mode="reset"``) or ``startup`` (once per env).

Every range is checked against :data:`PHYSICAL_BOUNDS` (:func:`validate`): a range outside what a
real Go2-class robot on a real floor can meet is a :class:`~lm_reward_learning.errors.ConfigError`.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any

from lm_reward_learning.errors import ConfigError

Range = tuple[float, float]


@dataclass(frozen=True)
class AxisRanges:
    """Per-axis ranges, as Isaac Lab's ``com_range`` dict (a missing axis is ``(0, 0)``).

    Attributes:
        x, y, z: ``(low, high)`` per axis.
    """

    x: Range = (0.0, 0.0)
    y: Range = (0.0, 0.0)
    z: Range = (0.0, 0.0)


@dataclass(frozen=True)
class VelocityRanges:
    """Isaac Lab's ``velocity_range`` dict: linear ``x, y, z`` m/s (world frame), angular ``roll, pitch,
    yaw`` rad/s (base frame); a missing key is ``(0, 0)``."""

    x: Range = (0.0, 0.0)
    y: Range = (0.0, 0.0)
    z: Range = (0.0, 0.0)
    roll: Range = (0.0, 0.0)
    pitch: Range = (0.0, 0.0)
    yaw: Range = (0.0, 0.0)


@dataclass(frozen=True)
class PhysicsMaterial:
    """``physics_material``: friction of every robot-floor contact.

    Attributes:
        static_friction_range: Coulomb friction coefficient range (MuJoCo's sliding friction; the
            foot geoms and the floor get the same value, so the contact uses it whatever the geom
            priorities).
    """

    static_friction_range: Range = (0.8, 0.8)


@dataclass(frozen=True)
class AddBaseMass:
    """``add_base_mass``: payload on the base.

    Attributes:
        mass_distribution_params: Mass added to the base, kg (negative removes mass); the base
            inertia is scaled by the new/old mass ratio (Isaac Lab ``recompute_inertia=True``).
    """

    mass_distribution_params: Range = (0.0, 0.0)


@dataclass(frozen=True)
class BaseCom:
    """``base_com``: centre-of-mass offset of the base.

    Attributes:
        com_range: Offset added to the base CoM, base frame, m.
    """

    com_range: AxisRanges = field(default_factory=AxisRanges)


@dataclass(frozen=True)
class ActuatorGains:
    """``actuator_gains``: servo gain factors, drawn per env and joint.

    Attributes:
        stiffness_distribution_params: Factor on kp.
        damping_distribution_params: Factor on kd.
    """

    stiffness_distribution_params: Range = (1.0, 1.0)
    damping_distribution_params: Range = (1.0, 1.0)


@dataclass(frozen=True)
class MotorStrength:
    """``motor_strength``: torque-limit factor per env and joint (a weaker or stronger motor).

    Attributes:
        torque_limit_scale_range: Factor on the spec's torque limits.
    """

    torque_limit_scale_range: Range = (1.0, 1.0)


@dataclass(frozen=True)
class JointCalibration:
    """``joint_calibration``: encoder zero offsets per env and joint.

    Attributes:
        offset_range_rad: Offset, rad. The policy observes ``q + offset``; its target is reached at
            ``q = target - offset`` (the servo closes its loop on the offset encoder).
    """

    offset_range_rad: Range = (0.0, 0.0)


@dataclass(frozen=True)
class PushRobot:
    """``push_robot``: pushes, each env on its own timer.

    Attributes:
        interval_range_s: Time between pushes, drawn again after each push, s.
        velocity_range: Velocity added to the base, world frame (linear) / base frame (angular).
    """

    interval_range_s: Range = (10.0, 15.0)
    velocity_range: VelocityRanges = field(default_factory=VelocityRanges)


@dataclass(frozen=True)
class ResetBase:
    """``reset_base``: base velocity at reset (the heading stays uniform in ``[-pi, pi)``).

    Attributes:
        velocity_range: Initial base velocity.
    """

    velocity_range: VelocityRanges = field(default_factory=VelocityRanges)


@dataclass(frozen=True)
class ActionLatency:
    """``action_latency``: delay between the policy's action and the servos using it.

    Attributes:
        latency_range_s: Delay range, s; drawn per env as a whole number of physics steps
            ``k`` uniform in ``[ceil(low / dt), floor(high / dt)]`` (5 ms steps for the Go2).
    """

    latency_range_s: Range = (0.0, 0.0)


@dataclass(frozen=True)
class Terrain:
    """``terrain``: gentle rough ground (a heightfield) with a level curriculum (Isaac Lab's
    ``terrain_levels_vel``).

    Attributes:
        max_height_m: Bump height at the hardest level, m (a few cm).
        levels: Difficulty levels; level ``l`` has bumps up to ``max_height_m * (l + 1) / levels``.
        tile_size_m: Side of one square tile, m; the map is ``levels`` rows × ``tiles_per_level``.
        tiles_per_level: Tiles per level (envs of one level spread over them).
        cell_size_m: Heightfield resolution, m.
        curriculum: Move an env one level up when it walked farther than half a tile in its episode,
            down when it walked less than half the commanded distance; else keep its level.
        start_level: Level of every env at start-up (``curriculum: false``: a random level each reset).
    """

    max_height_m: float = 0.04
    levels: int = 5
    tile_size_m: float = 8.0
    tiles_per_level: int = 4
    cell_size_m: float = 0.1
    curriculum: bool = True
    start_level: int = 0


TERMS = (
    "physics_material",
    "add_base_mass",
    "base_com",
    "actuator_gains",
    "motor_strength",
    "joint_calibration",
    "push_robot",
    "reset_base",
    "action_latency",
    "terrain",
)
"""Term names, in the order they are applied and reported."""


@dataclass(frozen=True)
class RandomizationConfig:
    """The ``randomization:`` section (module docstring).

    Attributes:
        enabled: Master switch; false = nominal physics whatever the terms say.
        resample: ``reset`` (draw physics parameters at every episode reset) or ``startup`` (once).
        curriculum_steps: Policy steps (of each env) over which every range grows linearly from the
            nominal value to its full width; 0: full from the start.
        physics_material, add_base_mass, base_com, actuator_gains, motor_strength, joint_calibration,
            push_robot, reset_base, action_latency, terrain: The terms; None = off.
    """

    enabled: bool = True
    resample: str = "reset"
    curriculum_steps: int = 0
    physics_material: PhysicsMaterial | None = None
    add_base_mass: AddBaseMass | None = None
    base_com: BaseCom | None = None
    actuator_gains: ActuatorGains | None = None
    motor_strength: MotorStrength | None = None
    joint_calibration: JointCalibration | None = None
    push_robot: PushRobot | None = None
    reset_base: ResetBase | None = None
    action_latency: ActionLatency | None = None
    terrain: Terrain | None = None

    def active(self) -> dict[str, Any]:
        """The terms that are on: ``{name: term}`` (empty when ``enabled`` is false)."""
        if not self.enabled:
            return {}
        return {name: getattr(self, name) for name in TERMS if getattr(self, name) is not None}

    def max_latency_steps(self, physics_dt: float) -> int:
        """Largest action delay this config can draw, in physics steps of ``physics_dt`` s."""
        lat = self.active().get("action_latency")
        return math.floor(lat.latency_range_s[1] / physics_dt + 1e-9) if lat is not None else 0


NOMINAL = RandomizationConfig(enabled=False)
"""No randomization: the simulator's nominal physics."""


# --------------------------------------------------------------------------------------- bounds
PHYSICAL_BOUNDS: dict[str, tuple[float, float, str]] = {
    "physics_material.static_friction_range": (
        0.05, 2.0, "rubber feet reach ~0.1 on wet ice-like tiles and ~1.3 on dry concrete (legged_gym uses 0.1-1.25)",
    ),
    "base_com.com_range": (-0.1, 0.1, "a CoM more than 10 cm off the trunk centre is outside the Go2/G1 trunk"),
    "actuator_gains.stiffness_distribution_params": (0.5, 2.0, "servo gains are known to within a factor of 2"),
    "actuator_gains.damping_distribution_params": (0.5, 2.0, "servo gains are known to within a factor of 2"),
    "motor_strength.torque_limit_scale_range": (0.5, 1.5, "torque varies by tens of percent with heat and battery"),
    "joint_calibration.offset_range_rad": (-0.1, 0.1, "calibration errors beyond ~6 degrees are visible by eye"),
    "push_robot.interval_range_s": (1.0, 120.0, "pushes closer than 1 s apart leave no time to recover"),
    "push_robot.velocity_range": (-2.0, 2.0, "a shove larger than 2 m/s knocks over any robot of this size"),
    "reset_base.velocity_range": (-2.0, 2.0, "a robot is not dropped moving faster than 2 m/s"),
    "action_latency.latency_range_s": (0.0, 0.1, "beyond 100 ms of latency no controller balances a legged robot"),
    "terrain.max_height_m": (0.0, 0.1, "the terrain here is gentle roughness, not steps or stairs"),
}  # fmt: skip
"""``dotted.name: (low, high, why)``: the physical bounds every range must lie within. The added
base mass is bounded per robot in :func:`validate` (at least half the base mass must remain; at most
the whole robot's mass can be added)."""


def _ranges(value: Any, where: str) -> list[tuple[str, Range]]:
    """``(dotted name, (lo, hi))`` for a range or a dataclass of ranges."""
    if dataclasses.is_dataclass(value):
        return [(f"{where}.{f.name}", getattr(value, f.name)) for f in dataclasses.fields(value)]
    return [(where, value)]


def validate(
    cfg: RandomizationConfig, *, base_mass_kg: float | None = None, total_mass_kg: float | None = None
) -> None:
    """Check every range: numbers, ``low <= high``, inside :data:`PHYSICAL_BOUNDS`.

    Args:
        cfg: The configuration.
        base_mass_kg: The robot's base mass, kg; bounds ``add_base_mass`` below (-half of it).
        total_mass_kg: The robot's total mass, kg; bounds ``add_base_mass`` above.

    Raises:
        ConfigError: naming the first bad value, its bounds and why, and what to do.
    """
    if cfg.resample not in ("reset", "startup"):
        raise ConfigError(f"randomization.resample is {cfg.resample!r}; choose reset or startup.")
    if cfg.curriculum_steps < 0:
        raise ConfigError(f"randomization.curriculum_steps must be >= 0 (0: none), got {cfg.curriculum_steps}.")
    fix = "Change the randomization: section of config/train/<robot>.yaml (or the proposed ranges)."
    for name, term in ((n, getattr(cfg, n)) for n in TERMS):
        if term is None:
            continue
        for f in dataclasses.fields(term):
            value = getattr(term, f.name)
            key = f"{name}.{f.name}"
            if not (isinstance(value, tuple) or dataclasses.is_dataclass(value)):
                continue
            for dotted, rng in _ranges(value, key):
                lo, hi = (float(v) for v in rng)
                if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
                    raise ConfigError(f"randomization.{dotted} = [{lo}, {hi}] is not a range [low <= high]. {fix}")
                bound = PHYSICAL_BOUNDS.get(key)
                if bound is not None and (lo < bound[0] or hi > bound[1]):
                    raise ConfigError(
                        f"randomization.{dotted} = [{lo}, {hi}] is outside the physical bounds "
                        f"[{bound[0]}, {bound[1]}] ({bound[2]}). {fix}"
                    )
    mass = cfg.add_base_mass
    if mass is not None and base_mass_kg is not None and total_mass_kg is not None:
        lo, hi = mass.mass_distribution_params
        if lo < -0.5 * base_mass_kg or hi > total_mass_kg:
            raise ConfigError(
                f"randomization.add_base_mass.mass_distribution_params = [{lo}, {hi}] kg is outside the physical "
                f"bounds [{-0.5 * base_mass_kg:.2f}, {total_mass_kg:.2f}] kg for this robot (at least half the "
                f"base's {base_mass_kg:.2f} kg must remain; a payload heavier than the robot's {total_mass_kg:.2f} kg "
                f"is not carried). {fix}"
            )
    terrain = cfg.terrain
    if terrain is not None and (terrain.levels < 1 or not 0 <= terrain.start_level < terrain.levels):
        raise ConfigError(
            f"randomization.terrain: levels {terrain.levels} and start_level {terrain.start_level} must satisfy "
            f"levels >= 1 and 0 <= start_level < levels. {fix}"
        )
    if terrain is not None and (terrain.cell_size_m <= 0 or terrain.tile_size_m < 10 * terrain.cell_size_m):
        raise ConfigError(
            f"randomization.terrain: tile_size_m {terrain.tile_size_m} must be at least 10 cells of "
            f"cell_size_m {terrain.cell_size_m} (> 0). {fix}"
        )
    if terrain is not None and terrain.tiles_per_level < 1:
        raise ConfigError(f"randomization.terrain.tiles_per_level must be >= 1. {fix}")


def describe(cfg: RandomizationConfig) -> dict[str, Any]:
    """The ranges in force, YAML-ready: ``{"enabled", "resample", <term>: {...}}`` with only active terms.

    Written into ``run.yaml``, ``deploy.yaml`` and the ONNX metadata (key ``randomization``).
    """
    from lm_reward_learning.config import to_dict

    out: dict[str, Any] = {"enabled": bool(cfg.enabled and cfg.active()), "resample": cfg.resample}
    if cfg.curriculum_steps and out["enabled"]:
        out["curriculum_steps"] = cfg.curriculum_steps
    for name, term in cfg.active().items():
        out[name] = to_dict(term)
    return out


_UNITS = {
    "static_friction_range": "Coulomb friction coefficient",
    "mass_distribution_params": "kg added to the base",
    "com_range": "m, base frame",
    "stiffness_distribution_params": "factor on kp",
    "damping_distribution_params": "factor on kd",
    "torque_limit_scale_range": "factor on the torque limits",
    "offset_range_rad": "rad, per joint",
    "interval_range_s": "s between pushes",
    "velocity_range": "m/s (x, y, z, world) and rad/s (roll, pitch, yaw)",
    "latency_range_s": "s, whole 5 ms physics steps",
}


def schema_text() -> str:
    """The ``randomization:`` section's keys as text lines (``term.field: [low, high] (unit)``), for prompts.

    ``terrain`` is left out (not a proposable range); ``enabled`` and ``resample`` are listed first.
    """
    lines = ["enabled: true | false", "resample: reset | startup", "curriculum_steps: integer >= 0 (policy steps)"]
    for name in TERMS:
        if name == "terrain":
            continue
        term_cls = typing.get_type_hints(RandomizationConfig)[name]
        cls = next(a for a in typing.get_args(term_cls) if a is not type(None))
        for f in dataclasses.fields(cls):
            unit = _UNITS.get(f.name, "")
            inner = typing.get_type_hints(cls)[f.name]
            if dataclasses.is_dataclass(inner):
                axes = ", ".join(g.name for g in dataclasses.fields(inner))
                lines.append(f"{name}.{f.name}: {{{axes}: [low, high]}} ({unit}; a missing axis is [0, 0])")
            else:
                lines.append(f"{name}.{f.name}: [low, high] ({unit})")
    return "\n".join(lines)
