"""``lmrl robustness``: a fixed, seeded battery of physical conditions, per condition N episodes.

For each policy (training run, learn run or exported ONNX, as ``lmrl evaluate`` takes) and each
condition of :func:`~lm_reward_learning.evaluation.battery.battery`, ``episodes`` simulations run the
same command sequence in parallel (one :class:`~lm_reward_learning.envs.mujoco_env.MujocoVecEnv` of
``episodes`` envs per condition, the policy's deterministic action, observation noise as trained);
the metrics are :func:`~lm_reward_learning.evaluation.battery.metrics`. Several policies are measured
in the same call, side by side. The same call gives the same numbers (seeded resets and draws).

The sweep is also DrEureka's RAPP (Ma et al., RSS 2024): :func:`lm_reward_learning.evaluation.rapp.rapp_sweep`
measures success over a grid of values of one parameter at a time with the same rollouts.

Outputs, in ``out_dir`` (default ``<first target>/robustness/``), written only after every condition
ran: ``robustness.json``, ``robustness.png`` (success rate and tracking error per condition) and
``robustness.md`` (the table). ``robustness.json``::

    {"lmrl_version", "engine", "quick", "episodes", "duration_s", "seed", "settle_s",
     "command_sequence": [[start_s, [v_x, v_y, yaw_rate]], ...],
     "conditions": [{"name", "description"}, ...],
     "policies": [{"target", "label", "kind", "robot", "wall_s",
                   "results": {condition: {"episodes", "success_rate", "vel_rms_mps", "vel_rms_all_mps",
                                           "cost_of_transport", "foot_slip_mps", "mean_speed_mps"}}}]}
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lm_reward_learning import __version__
from lm_reward_learning.evaluation.battery import (
    SETTLE_S,
    Condition,
    EpisodeArrays,
    battery,
    command_sequence,
    metrics,
)
from lm_reward_learning.evaluation.targets import EvaluationError, PolicyTarget, resolve_target
from lm_reward_learning.io import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

JSON_NAME = "robustness.json"
PLOT_NAME = "robustness.png"
TABLE_NAME = "robustness.md"

QUICK_EPISODES = 4
"""Episodes per condition with ``--quick`` (the whole battery in well under a minute on 2 cores)."""

FULL_EPISODES = 20
"""Episodes per condition otherwise (one fall = 95 % success)."""

ENGINES = ("mujoco", "isaaclab")


@dataclass(frozen=True)
class RobustnessResult:
    """What :func:`robustness` measured and wrote.

    Attributes:
        report: The ``robustness.json`` content.
        json_path, plot_path, table_path: The files.
    """

    report: dict[str, Any]
    json_path: Path
    plot_path: Path
    table_path: Path

    def table(self) -> str:
        """The Markdown table (as in ``robustness.md``)."""
        return render_table(self.report)


def run_mujoco(
    policy: Any, spec: Any, env_cfg: Any, check: Any, cond: Condition, episodes: int, duration_s: float, seed: int,
    sequence: list[tuple[float, tuple[float, float, float]]],
) -> EpisodeArrays:  # fmt: skip
    """Roll ``policy`` out under ``cond`` in ``episodes`` MuJoCo envs; record what the metrics need.

    Raises:
        EvaluationError: an exported policy that does not match the env (``check``).
    """
    from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
    from lm_reward_learning.training.trainer import zero_reward

    cfg = dataclasses.replace(env_cfg, num_envs=episodes, obs_noise=True, obs_noise_scale=cond.obs_noise_scale)
    env = MujocoVecEnv(spec, zero_reward, cfg, seed=seed, randomization=cond.randomization)
    check(env)
    steps = round(duration_s / env.dt)
    obs = env.start_rollout(sequence[0][1], yaw=0.0, duration_s=duration_s)
    changes = {round(t / env.dt): c for t, c in sequence[1:]}
    rec: dict[str, list[np.ndarray]] = {k: [] for k in ("alive", "vel", "cmd", "power", "xy", "fvel", "contact")}
    alive = np.ones(episodes, dtype=bool)
    with torch.no_grad():
        for k in range(steps):
            if k in changes:
                env.hold_command(changes[k])
            obs, _, dones, extras = env.step(policy(obs))
            s = env.last_state
            alive &= ~(dones.numpy().astype(bool) & ~extras["time_outs"].numpy())
            rec["alive"].append(alive.copy())
            rec["vel"].append(s.base_lin_vel_b[:, :2].numpy())
            rec["cmd"].append(s.commands.numpy())
            rec["power"].append((s.joint_torques * s.joint_vel).abs().sum(1).numpy())
            rec["xy"].append(s.base_pos_w[:, :2].numpy())
            rec["fvel"].append(s.foot_vel_w[..., :2].numpy())
            rec["contact"].append(s.foot_contact.numpy())
    return EpisodeArrays(
        dt=env.dt,
        alive=np.stack(rec["alive"]),
        vel_b=np.stack(rec["vel"]),
        command=np.stack(rec["cmd"]),
        power_w=np.stack(rec["power"]),
        base_xy=np.stack(rec["xy"]),
        foot_vel_xy=np.stack(rec["fvel"]),
        foot_contact=np.stack(rec["contact"]),
        mass_kg=float(env.model.body_mass.sum()) + env.randomizer.draw.added_mass_kg.copy(),
    )


def select_conditions(
    names: list[str] | None, *, terrain: bool = True, cross_engine: str | None = None
) -> list[Condition]:
    """The battery, or the conditions ``names`` of it (in battery order).

    Raises:
        EvaluationError: an unknown name (the message lists the known ones).
    """
    conds = battery(terrain=terrain, cross_engine=cross_engine)
    if not names:
        return conds
    known = {c.name for c in battery(terrain=True, cross_engine="isaaclab")}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise EvaluationError(
            f"unknown robustness condition(s) {unknown}; the battery has {sorted(known)}. Pass a comma-separated "
            f"subset to --conditions, or leave it out for all."
        )
    return [c for c in conds if c.name in names]


def robustness(
    targets: list[Path | str],
    *,
    quick: bool = False,
    engine: str = "mujoco",
    out_dir: Path | None = None,
    json_out: Path | None = None,
    conditions: list[str] | None = None,
    episodes: int | None = None,
    seed: int = 0,
    cross_engine: bool | None = None,
    labels: list[str] | None = None,
) -> RobustnessResult:
    """Run the battery on every target and write the report (module docstring).

    Args:
        targets: Policies to measure side by side (one robot).
        quick: :data:`QUICK_EPISODES` episodes per condition instead of :data:`FULL_EPISODES`.
        engine: ``mujoco`` or ``isaaclab`` (Isaac Lab 3 in ``.venv-isaaclab``).
        out_dir: Output folder; default ``<first target>/robustness/``.
        json_out: Also write ``robustness.json`` here (e.g. beside a policy's ``deploy.yaml``).
        conditions: Subset of condition names; default: all.
        episodes: Episodes per condition (overrides ``quick``).
        seed: Seed of the resets and draws.
        labels: Column names of the policies (default: their directory names).
        cross_engine: Add the other engine's nominal run; default: when ``.venv-isaaclab`` exists and
            not ``quick`` (one Isaac Lab start per condition: ~80 s each on 2 cores).

    Raises:
        EvaluationError: a target that is no run or policy, policies of different robots, an unknown
            condition or engine.
        lm_reward_learning.isaaclab_backend.launcher.IsaacLabError: the Isaac Lab engine is missing or failed.
    """
    if engine not in ENGINES:
        raise EvaluationError(f"unknown engine {engine!r}; choose one of {ENGINES}.")
    if not targets:
        raise EvaluationError("give at least one training run, learn run or exported policy directory.")
    resolved = [resolve_target(t) for t in targets]  # bad paths fail before anything runs
    robots = {t.robot for t in resolved}
    if len(robots) > 1:
        raise EvaluationError(
            f"the policies are for different robots ({', '.join(f'{t.path}: {t.robot}' for t in resolved)}); "
            f"measure policies of one robot side by side, or run lmrl robustness once per robot."
        )
    other = "isaaclab" if engine == "mujoco" else "mujoco"
    if cross_engine is None:
        cross_engine = not quick and (engine == "isaaclab" or _isaaclab_available(resolved[0].robot))
    # the Isaac Lab task has no rough terrain (isaaclab_backend/events.py)
    conds = select_conditions(conditions, terrain=engine == "mujoco", cross_engine=other if cross_engine else None)
    n = int(episodes or (QUICK_EPISODES if quick else FULL_EPISODES))
    if n < 1:
        raise EvaluationError(f"episodes must be at least 1; got {n}.")
    sequence = command_sequence(resolved[0].command_ranges)
    duration = sequence[-1][0] + (sequence[-1][0] - sequence[-2][0])
    policies = [_measure(t, conds, engine, n, duration, seed) for t in resolved]
    for i, p in enumerate(policies):
        p["label"] = labels[i] if labels and i < len(labels) else resolved[i].path.name
    report = {
        "lmrl_version": __version__,
        "engine": engine,
        "quick": bool(quick),
        "episodes": n,
        "duration_s": duration,
        "seed": seed,
        "settle_s": SETTLE_S,
        "command_sequence": [[t, list(c)] for t, c in sequence],
        "conditions": [{"name": c.name, "description": c.description} for c in conds],
        "policies": policies,
    }
    out = Path(out_dir) if out_dir is not None else resolved[0].path / "robustness"
    from lm_reward_learning.evaluation.plots import plot_robustness

    plot = plot_robustness(out / PLOT_NAME, report)
    atomic_write_text(out / TABLE_NAME, render_table(report) + "\n")
    atomic_write_json(out / JSON_NAME, report)
    if json_out is not None:
        atomic_write_json(Path(json_out), report)
    return RobustnessResult(report, out / JSON_NAME, plot, out / TABLE_NAME)


def _isaaclab_available(robot: str) -> bool:
    import importlib.util

    if importlib.util.find_spec("lm_reward_learning.isaaclab_backend.robustness") is None:
        return False
    try:
        from lm_reward_learning.isaaclab_backend.launcher import check_available

        check_available(robot)
    except Exception:  # any reason it cannot run means: no cross-engine row
        return False
    return True


def _measure(
    tgt: PolicyTarget, conds: list[Condition], engine: str, episodes: int, duration: float, seed: int
) -> dict[str, Any]:
    t0 = time.perf_counter()
    policy, spec, env_cfg, check = tgt.load()
    sequence = command_sequence(tgt.command_ranges)
    changes = [t for t, _ in sequence]
    results: dict[str, Any] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: extra threads only contend on 2 cores
    try:
        for cond in conds:
            run_engine = cond.engine or engine
            log.info("robustness %s: %s (%s, %d episodes)", tgt.path.name, cond.name, run_engine, episodes)
            if run_engine == "mujoco":
                arrays = run_mujoco(policy, spec, env_cfg, check, cond, episodes, duration, seed, sequence)
            else:
                from lm_reward_learning.isaaclab_backend.robustness import run_isaaclab

                arrays = run_isaaclab(tgt, cond, episodes, duration, seed, sequence)
            results[cond.name] = metrics(arrays, changes)
    finally:
        torch.set_num_threads(threads)
    return {
        "target": str(tgt.path),
        "kind": tgt.kind,
        "robot": tgt.robot,
        "wall_s": round(time.perf_counter() - t0, 2),
        "results": results,
    }


def render_table(report: dict[str, Any]) -> str:
    """Markdown table: one row per condition, per policy success %, RMS, CoT and slip."""
    pols = report["policies"]
    head = ["condition"]
    for i, p in enumerate(pols):
        tag = p.get("label") or Path(p["target"]).name or f"policy {i}"
        head += [f"{tag} success", "vel RMS m/s", "CoT", "slip m/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in report["conditions"]:
        row = [f"{c['name']} ({c['description']})"]
        for p in pols:
            r = p["results"][c["name"]]
            row += [
                f"{100 * r['success_rate']:.0f} %",
                _fmt(r["vel_rms_mps"]),
                _fmt(r["cost_of_transport"]),
                _fmt(r["foot_slip_mps"]),
            ]
        lines.append("| " + " | ".join(row) + " |")
    seq = ", ".join(f"{c[0]:.2f} m/s from {t:.0f} s" for t, c in report["command_sequence"])
    lines.append("")
    lines.append(
        f"{report['episodes']} episodes x {report['duration_s']:.0f} s per condition, engine {report['engine']}, "
        f"seed {report['seed']}; forward command {seq}; RMS leaves out {report['settle_s']:.0f} s after each change."
    )
    return "\n".join(lines)


def _fmt(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.3f}"


def robustness_html(folder: Path) -> str:
    """An HTML section (table and chart) of ``folder/robustness.json``, or ``""`` when there is none.

    The learn report (:func:`lm_reward_learning.report.render_report`) shows ``<learn run>/robustness/``:
    ``lmrl robustness LEARN_RUN`` writes there by default, ``lmrl learn --randomization propose`` too.
    """
    import base64
    import html
    import json

    path = Path(folder) / JSON_NAME
    if not path.is_file():
        return ""
    try:
        report = json.loads(path.read_text())
        rows = render_table(report).splitlines()
    except (OSError, ValueError, KeyError, TypeError):
        return f"<h2>Robustness</h2><p><i>{html.escape(str(path))} cannot be read.</i></p>"
    table, note = [r for r in rows if r.startswith("|")], [r for r in rows if r and not r.startswith("|")]
    cells = [[c.strip() for c in r.strip("|").split("|")] for r in table if not r.startswith("|---")]
    body = "".join(
        "<tr>"
        + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c)}</{'th' if i == 0 else 'td'}>" for c in row)
        + "</tr>"
        for i, row in enumerate(cells)
    )
    png = Path(folder) / PLOT_NAME
    img = f'<img src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}">' if png.is_file() else ""
    return f"<h2>Robustness</h2><table>{body}</table><p>{html.escape(' '.join(note))}</p>{img}"
