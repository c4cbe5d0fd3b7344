"""The robustness battery's conditions and the metrics of one condition's episodes (engine-independent).

A condition is a fixed physical change: a :class:`~lm_reward_learning.randomization.RandomizationConfig`
whose ranges are points (``[v, v]``), plus the observation-noise factor. The battery
(:func:`battery`) tests the edges of the Go2 training ranges (``config/train/go2.yaml``) and the issue's
list: friction 0.3 and 1.25, payload -1 and +3 kg, motor strength 0.8 and 1.2, a 1 m/s push forward and
sideways, 10 and 20 ms latency, doubled sensor noise, ±0.02 rad encoder offsets, 4 cm rough ground.

Each episode follows one velocity-command sequence (:func:`command_sequence`): the lowest, highest and
middle forward speed of the policy's trained range, 4 s each (12 s), lateral speed and yaw rate at the
middles of theirs. Metrics per condition (:func:`metrics`), over its episodes:

* ``success_rate``: fraction of episodes without a fall (base too low or tilted, or a blow-up).
* ``vel_rms_mps``: root mean square of ``|v_xy - c_xy|`` (base-frame planar velocity minus command),
  over all steps of all episodes before any fall, except the first ``SETTLE_S`` after each command
  change (the step response is not tracking error). ``vel_rms_all_mps`` keeps those steps.
* ``cost_of_transport``: ``Σ_t Σ_j |τ_j q̇_j| Δt / (m g d)`` per surviving episode (mechanical power,
  absolute, over the robot's weight times the distance ``d`` walked), averaged (Tucker 1975's
  dimensionless cost of transport; ``m`` includes the payload).
* ``foot_slip_mps``: mean horizontal speed of the feet that are in contact at both ends of a policy
  step (a planted foot should not move).
* ``mean_speed_mps``: mean forward (base-frame) speed before any fall.

A metric with nothing to average (no surviving episode walked 0.5 m, no planted foot) is None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lm_reward_learning.randomization import (
    ActionLatency,
    AddBaseMass,
    JointCalibration,
    MotorStrength,
    PhysicsMaterial,
    PushRobot,
    RandomizationConfig,
    Terrain,
    VelocityRanges,
)

GRAVITY = 9.81
"""m/s^2."""

SEGMENT_S = 4.0
"""Length of each command of the sequence, s."""

SETTLE_S = 1.0
"""Steps this long after a command change (and after the start) are left out of ``vel_rms_mps``, s."""

PUSH_AT_S = 6.0
"""When the push conditions push (the middle of the fast segment), s."""

PUSH_MPS = 1.0
"""Push size, m/s: the edge of the Go2's training range (legged_gym's max_push_vel_xy)."""

NOMINAL = RandomizationConfig(enabled=False)


@dataclass(frozen=True)
class Condition:
    """One test condition.

    Attributes:
        name: Identifier (``--conditions`` takes these).
        description: What is changed, in words with units.
        randomization: The physical change (point ranges); ``NOMINAL`` for none.
        obs_noise_scale: Factor on the training observation noise (1 = as trained).
        engine: ``None`` = the battery's engine; ``mujoco`` or ``isaaclab`` = run in that engine
            (the cross-engine check).
    """

    name: str
    description: str
    randomization: RandomizationConfig = NOMINAL
    obs_noise_scale: float = 1.0
    engine: str | None = None


def _only(**terms: Any) -> RandomizationConfig:
    return replace(RandomizationConfig(), **terms)


def _push(x: float = 0.0, y: float = 0.0) -> RandomizationConfig:
    # the timer starts at reset: one push at PUSH_AT_S, the next after the episode
    return _only(push_robot=PushRobot((PUSH_AT_S, PUSH_AT_S), VelocityRanges(x=(x, x), y=(y, y))))


def battery(*, terrain: bool = True, cross_engine: str | None = None) -> list[Condition]:
    """The fixed battery (module docstring), in report order.

    Args:
        terrain: Include the rough-ground condition.
        cross_engine: Add the nominal condition run in this other engine (``isaaclab`` or ``mujoco``).
    """
    out = [
        Condition("nominal", "training physics, observation noise as trained"),
        Condition("low_friction", "friction 0.3", _only(physics_material=PhysicsMaterial((0.3, 0.3)))),
        Condition("high_friction", "friction 1.25", _only(physics_material=PhysicsMaterial((1.25, 1.25)))),
        Condition("payload_minus_1kg", "base 1 kg lighter", _only(add_base_mass=AddBaseMass((-1.0, -1.0)))),
        Condition("payload_plus_3kg", "3 kg on the base", _only(add_base_mass=AddBaseMass((3.0, 3.0)))),
        Condition("weak_motors", "torque limits x0.8", _only(motor_strength=MotorStrength((0.8, 0.8)))),
        Condition("strong_motors", "torque limits x1.2", _only(motor_strength=MotorStrength((1.2, 1.2)))),
        Condition("push_forward", f"+{PUSH_MPS} m/s forward at {PUSH_AT_S:.0f} s", _push(x=PUSH_MPS)),
        Condition("push_lateral", f"+{PUSH_MPS} m/s sideways at {PUSH_AT_S:.0f} s", _push(y=PUSH_MPS)),
        Condition("latency_10ms", "actions 10 ms late", _only(action_latency=ActionLatency((0.01, 0.01)))),
        Condition("latency_20ms", "actions 20 ms late", _only(action_latency=ActionLatency((0.02, 0.02)))),
        Condition("sensor_noise_x2", "observation noise x2", obs_noise_scale=2.0),
        Condition(
            "joint_offsets", "encoder offsets ±0.02 rad", _only(joint_calibration=JointCalibration((-0.02, 0.02)))
        ),
    ]
    if terrain:
        ground = Terrain(max_height_m=0.04, levels=1, tile_size_m=30.0, tiles_per_level=1, curriculum=False)
        out.append(Condition("rough_terrain", "bumps up to 4 cm", _only(terrain=ground)))
    if cross_engine is not None:
        out.append(Condition("cross_engine", f"nominal, simulated by {cross_engine}", engine=cross_engine))
    return out


def command_sequence(ranges: dict[str, tuple[float, float]]) -> list[tuple[float, tuple[float, float, float]]]:
    """``[(start_s, (v_x, v_y, yaw_rate)), ...]``: low, high, middle forward speed, 4 s each."""
    lo, hi = ranges["lin_vel_x"]
    vy = sum(ranges["lin_vel_y"]) / 2.0
    wz = sum(ranges["ang_vel_z"]) / 2.0
    return [(i * SEGMENT_S, (float(vx), float(vy), float(wz))) for i, vx in enumerate((lo, hi, (lo + hi) / 2.0))]


@dataclass
class EpisodeArrays:
    """What a rollout of one condition recorded, per policy step ``t`` and episode ``e``.

    Attributes:
        dt: Policy step, s.
        alive: ``(T, E)`` bool, the episode had not fallen before this step's end.
        vel_b: Base planar velocity, base frame, ``(T, E, 2)`` m/s.
        command: Command, ``(T, E, 3)``.
        power_w: ``Σ_j |τ_j q̇_j|``, ``(T, E)`` W.
        base_xy: Base position, ``(T, E, 2)`` m.
        foot_vel_xy: Foot horizontal velocity, ``(T, E, F, 2)`` m/s.
        foot_contact: ``(T, E, F)`` bool.
        mass_kg: Simulated robot mass per episode, ``(E,)`` kg.
    """

    dt: float
    alive: np.ndarray
    vel_b: np.ndarray
    command: np.ndarray
    power_w: np.ndarray
    base_xy: np.ndarray
    foot_vel_xy: np.ndarray
    foot_contact: np.ndarray
    mass_kg: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


def metrics(a: EpisodeArrays, changes_s: list[float]) -> dict[str, float | None]:
    """The module docstring's metrics of one condition. ``changes_s``: command change times, s."""
    steps, episodes = a.alive.shape
    t = (np.arange(steps) + 1) * a.dt
    settled = np.ones(steps, dtype=bool)
    for c in changes_s:
        settled &= ~((t > c) & (t <= c + SETTLE_S))
    err = np.linalg.norm(a.vel_b - a.command[..., :2], axis=-1)  # (T, E)
    alive = a.alive
    fell = ~alive[-1]
    use = alive & settled[:, None]
    rms = math.sqrt(float((err[use] ** 2).mean())) if use.any() else float("nan")
    rms_all = math.sqrt(float((err[alive] ** 2).mean())) if alive.any() else float("nan")
    cots = []
    for e in np.flatnonzero(~fell):
        d = float(np.linalg.norm(a.base_xy[-1, e] - a.base_xy[0, e]))
        if d > 0.5:
            cots.append(float(a.power_w[:, e].sum() * a.dt) / (a.mass_kg[e] * GRAVITY * d))
    planted = a.foot_contact[1:] & a.foot_contact[:-1] & alive[1:, :, None]
    slip = np.linalg.norm(a.foot_vel_xy[1:], axis=-1)[planted]
    out = {
        "episodes": int(episodes),
        "success_rate": float(1.0 - fell.mean()),
        "vel_rms_mps": rms,
        "vel_rms_all_mps": rms_all,
        "cost_of_transport": float(np.mean(cots)) if cots else float("nan"),
        "foot_slip_mps": float(slip.mean()) if slip.size else float("nan"),
        "mean_speed_mps": float(a.vel_b[..., 0][alive].mean()) if alive.any() else float("nan"),
    }
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}
