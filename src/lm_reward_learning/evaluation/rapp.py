"""DrEureka's RAPP sweep: the range of each physical parameter in which a policy still works.

DrEureka (Ma et al., "DrEureka: Language Model Guided Sim-To-Real Transfer", RSS 2024, Sec. 3.2:
"Reward-Aware Physics Prior") sets one parameter at a time to each value of a grid, rolls the trained
policy out and keeps the lowest and highest value at which it succeeds; the LLM then proposes
randomization ranges with these bounds as priors. Here each value is a point condition of the
robustness battery (:func:`~lm_reward_learning.evaluation.robustness.run_mujoco`, the battery's
command sequence and metrics), and a value "works" when ``success_rate >= SUCCESS_MIN`` and the
tracking error ``vel_rms_mps <= RMS_MAX_MPS`` (DrEureka's forward-locomotion criterion is a mean
speed within 1 m/s of its 2 m/s target; ours asks more, on our slower command range).

Parameters and grids (:data:`SWEEP`) are named by the dotted range keys of
:mod:`lm_reward_learning.randomization`, so a RAPP row and a proposed range talk about the same thing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lm_reward_learning.evaluation.battery import PUSH_AT_S, Condition, command_sequence, metrics
from lm_reward_learning.evaluation.targets import PolicyTarget
from lm_reward_learning.randomization import (
    ActionLatency,
    ActuatorGains,
    AddBaseMass,
    AxisRanges,
    BaseCom,
    JointCalibration,
    MotorStrength,
    PhysicsMaterial,
    PushRobot,
    RandomizationConfig,
    VelocityRanges,
)

log = logging.getLogger(__name__)

SUCCESS_MIN = 0.75
"""A value works when at least this fraction of its episodes did not fall ..."""

RMS_MAX_MPS = 0.5
"""... and the velocity-tracking RMS error stayed below this, m/s."""


@dataclass(frozen=True)
class SweepParam:
    """One swept parameter.

    Attributes:
        key: Dotted range key (``physics_material.static_friction_range``).
        values: The grid, ascending; includes the nominal value.
        nominal: The simulator's own value (no randomization).
        unit: Unit of the values.
        condition: Value → the point randomization that sets it.
    """

    key: str
    values: tuple[float, ...]
    nominal: float
    unit: str
    condition: Callable[[float], RandomizationConfig]


def _only(**terms: Any) -> RandomizationConfig:
    return replace(RandomizationConfig(), **terms)


SWEEP: tuple[SweepParam, ...] = (
    SweepParam("physics_material.static_friction_range", (0.1, 0.2, 0.3, 0.5, 0.8, 1.25, 2.0), 0.8, "",
               lambda v: _only(physics_material=PhysicsMaterial((v, v)))),
    SweepParam("add_base_mass.mass_distribution_params", (-3.0, -2.0, -1.0, 0.0, 1.0, 3.0, 5.0, 8.0), 0.0, "kg",
               lambda v: _only(add_base_mass=AddBaseMass((v, v)))),
    SweepParam("base_com.com_range.x", (-0.1, -0.05, -0.02, 0.0, 0.02, 0.05, 0.1), 0.0, "m",
               lambda v: _only(base_com=BaseCom(AxisRanges(x=(v, v))))),
    SweepParam("actuator_gains.stiffness_distribution_params", (0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0), 1.0, "x kp",
               lambda v: _only(actuator_gains=ActuatorGains((v, v), (1.0, 1.0)))),
    SweepParam("actuator_gains.damping_distribution_params", (0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0), 1.0, "x kd",
               lambda v: _only(actuator_gains=ActuatorGains((1.0, 1.0), (v, v)))),
    SweepParam("motor_strength.torque_limit_scale_range", (0.5, 0.6, 0.7, 0.8, 1.0, 1.2, 1.5), 1.0, "x limit",
               lambda v: _only(motor_strength=MotorStrength((v, v)))),
    SweepParam("joint_calibration.offset_range_rad", (-0.1, -0.05, -0.02, 0.0, 0.02, 0.05, 0.1), 0.0, "rad",
               lambda v: _only(joint_calibration=JointCalibration((v, v)))),
    SweepParam("push_robot.velocity_range.y", (0.0, 0.5, 1.0, 1.5, 2.0), 0.0, "m/s",
               lambda v: _only(push_robot=PushRobot((PUSH_AT_S, PUSH_AT_S), VelocityRanges(y=(v, v))))),
    SweepParam("action_latency.latency_range_s", (0.0, 0.01, 0.02, 0.03, 0.04, 0.06, 0.1), 0.0, "s",
               lambda v: _only(action_latency=ActionLatency((v, v)))),
)  # fmt: skip
"""The swept parameters (DrEureka's list, as far as this simulator models it)."""


def rapp_sweep(
    tgt: PolicyTarget,
    *,
    episodes: int = 4,
    seed: int = 0,
    params: tuple[SweepParam, ...] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Sweep every parameter of ``params`` (default :data:`SWEEP`) over its grid (module docstring).

    Returns:
        ``{"episodes", "seed", "success_min", "rms_max_mps", "params": [{"key", "unit", "nominal",
        "values": [{"value", "success_rate", "vel_rms_mps", "works"}], "rapp": [low, high] | None}]}``;
        ``rapp`` is the lowest and highest working value (None when none works).
    """
    import torch

    from lm_reward_learning.evaluation.robustness import run_mujoco

    policy, spec, env_cfg, check = tgt.load()
    sequence = command_sequence(tgt.command_ranges)
    duration = sequence[-1][0] + (sequence[-1][0] - sequence[-2][0])
    changes = [t for t, _ in sequence]
    out = []
    params = SWEEP if params is None else params
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for p in params:
            rows = []
            for v in p.values:
                cond = Condition(f"{p.key}={v}", f"{p.key} = {v} {p.unit}".strip(), p.condition(v))
                m = metrics(run_mujoco(policy, spec, env_cfg, check, cond, episodes, duration, seed, sequence), changes)
                rms = m["vel_rms_mps"]
                works = m["success_rate"] >= SUCCESS_MIN and rms is not None and rms <= RMS_MAX_MPS
                rows.append({"value": v, "success_rate": m["success_rate"], "vel_rms_mps": rms, "works": works})
                if progress is not None:
                    progress(f"{p.key} = {v}: success {m['success_rate']:.2f}, rms {rms}")
            ok = [r["value"] for r in rows if r["works"]]
            out.append({"key": p.key, "unit": p.unit, "nominal": p.nominal, "values": rows,
                        "rapp": [min(ok), max(ok)] if ok else None})  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return {"episodes": episodes, "seed": seed, "success_min": SUCCESS_MIN, "rms_max_mps": RMS_MAX_MPS, "params": out}


def rapp_table(sweep: dict[str, Any]) -> str:
    """The sweep as text lines, one per parameter: ``key: works in [lo, hi] unit (tested ...)``."""
    lines = []
    for p in sweep["params"]:
        tested = ", ".join(f"{r['value']:g}{'' if r['works'] else ' (fails)'}" for r in p["values"])
        span = f"works in [{p['rapp'][0]:g}, {p['rapp'][1]:g}] {p['unit']}".rstrip() if p["rapp"] else "works nowhere"
        lines.append(f"{p['key']}: {span} (nominal {p['nominal']:g}; tested {tested})")
    return "\n".join(lines)
