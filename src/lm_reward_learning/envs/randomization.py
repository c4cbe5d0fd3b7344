"""Domain randomization of :class:`~lm_reward_learning.envs.mujoco_env.MujocoVecEnv` on ``mujoco.batch``.

How per-environment physics is varied: ``mujoco.batch.Batch.expand(field)`` gives a model field
per-simulation values (a live ``(nsim, ...)`` array); after writing a field that ``mj_setConst``
reads (``body_mass``, ``body_inertia``, ``body_ipos``) ``Batch.set_const(ids)`` recomputes the derived
constants of those simulations. No model is copied per env. Measured cost on 2 cores (256 envs,
``benchmarks/bench_env.py``): see the README's "Domain randomization" section.

Terms (:mod:`lm_reward_learning.randomization` has their meaning and sources):

* ``physics_material``: ``geom_friction[:, 0]`` of every robot collision geom and the floor.
* ``add_base_mass``: ``body_mass`` of the base plus the draw; ``body_inertia`` scaled by the ratio.
* ``base_com``: ``body_ipos`` of the base plus the draw.
* ``actuator_gains``: ``actuator_gainprm[:, 0] = kp·s`` and ``actuator_biasprm[:, 1:3] = (-kp·s, -kd·s')``
  (MuJoCo's affine position servo, :func:`~lm_reward_learning.robots.model.apply_servo_gains`).
* ``motor_strength``: ``actuator_forcerange = ±torque_limit·s``.
* ``joint_calibration``: offsets the env adds to the observed joint angles and subtracts from the
  servo targets (:attr:`DomainRandomizer.joint_offset`).
* ``action_latency``: MuJoCo's native actuator delay (``actuator_delay``, per simulation, reading
  a ``nsample``-long control history that :func:`build_model` adds to every servo): the servos use
  the previous action for the first ``k`` physics steps of each policy step.
* ``push_robot``, ``reset_base``: writes to the base's free-joint velocity (world-frame linear part).
* ``terrain``: :mod:`lm_reward_learning.envs.terrain`.

With ``curriculum_steps`` the ranges grow linearly from the nominal point (the model's foot friction,
no payload or offset, unit factors, no push, no delay) to their full width over that many policy steps
of each env (:meth:`DomainRandomizer.set_progress`; legged_gym/humanoid-gym ramp pushes the same way).

Draws use their own generator (seeded from the env's seed), so turning randomization on does not
change the reset and command noise, and the same seed gives the same parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import mujoco.batch
import numpy as np

from lm_reward_learning.errors import ConfigError
from lm_reward_learning.randomization import RandomizationConfig, validate
from lm_reward_learning.robots.model import apply_servo_gains, load_model, weld_held_joints
from lm_reward_learning.robots.spec import RobotSpec

LATENCY_HISTORY_EXTRA = 1
"""Control-history samples kept beyond the longest delay (MuJoCo reads at ``time - delay``)."""

HISTORY_HEADER = 2
"""Entries before the timestamps in each actuator's block of ``mjData.history`` (measured on MuJoCo
4.0.1: ``[cursor, count, t_1..t_n, u_1..u_n]``; ``tests/envs/test_randomization.py`` checks it)."""


def build_model(spec: RobotSpec, cfg: RandomizationConfig) -> mujoco.MjModel:
    """The robot's model, with a control history on every servo when ``action_latency`` is on.

    A spec acting on a joint group (``spec.held_joints``) gets those joints welded at their default
    angles (:func:`~lm_reward_learning.robots.model.weld_held_joints`).

    Raises:
        lm_reward_learning.robots.RobotModelError: the MJCF is missing or does not match the spec.
        ConfigError: a range outside its physical bounds (:func:`~lm_reward_learning.randomization.validate`).
    """
    model = load_model(spec)
    validate(cfg, base_mass_kg=base_mass(model, spec), total_mass_kg=float(model.body_mass.sum()))
    steps = cfg.max_latency_steps(float(model.opt.timestep))
    terrain = cfg.active().get("terrain")
    if steps == 0 and terrain is None and not spec.held_joints:
        return model
    mjspec = mujoco.MjSpec.from_file(str(spec.mjcf_path))
    weld_held_joints(mjspec, spec)
    if steps:
        for act in mjspec.actuators:
            act.nsample = steps + LATENCY_HISTORY_EXTRA  # interp stays zero-order hold (the default)
    if terrain is not None:
        from lm_reward_learning.envs.terrain import add_heightfield

        add_heightfield(mjspec, terrain)
    model = mjspec.compile()
    apply_servo_gains(model, spec)
    return model


def base_mass(model: mujoco.MjModel, spec: RobotSpec) -> float:
    """Mass of the spec's base body, kg."""
    return float(model.body_mass[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)])


@dataclass
class PhysicsDraw:
    """The physics parameters in force, per env (what tests and the robustness battery read).

    Attributes:
        friction: Contact friction, shape ``(N,)``.
        added_mass_kg: Mass added to the base, kg, ``(N,)``.
        com_offset_m: Base CoM offset, base frame, m, ``(N, 3)``.
        kp_scale, kd_scale, torque_scale: Factors per joint, ``(N, J)``.
        joint_offset_rad: Encoder offsets, rad, ``(N, J)``.
        latency_steps: Action delay in physics steps, ``(N,)`` int.
    """

    friction: np.ndarray
    added_mass_kg: np.ndarray
    com_offset_m: np.ndarray
    kp_scale: np.ndarray
    kd_scale: np.ndarray
    torque_scale: np.ndarray
    joint_offset_rad: np.ndarray
    latency_steps: np.ndarray


class DomainRandomizer:
    """Draws and applies the randomization of one ``mujoco.batch.Batch`` (module docstring).

    Args:
        cfg: The ranges (already validated by :func:`build_model`).
        spec: The robot.
        model: The batch's model (from :func:`build_model`).
        batch: The batch whose fields are expanded.
        act_ids: Actuator ids in policy joint order, ``(J,)``.
        base_dof: Address of the base free joint in ``qvel``.
        seed: Seed of the draws.
        policy_dt: Policy step, s (push timers).
    """

    def __init__(
        self,
        cfg: RandomizationConfig,
        spec: RobotSpec,
        model: mujoco.MjModel,
        batch: mujoco.batch.Batch,
        act_ids: np.ndarray,
        base_dof: int,
        *,
        seed: int,
        policy_dt: float,
    ) -> None:
        self.cfg = cfg
        self.terms = cfg.active()
        self.batch = batch
        self.n = batch.nsim
        self.j = len(act_ids)
        self.policy_dt = policy_dt
        self.physics_dt = float(model.opt.timestep)
        self._act = np.asarray(act_ids)
        self._base_dof = base_dof
        self._base = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
        robot_geoms = np.flatnonzero((model.geom_bodyid != 0) & ((model.geom_contype | model.geom_conaffinity) != 0))
        world_geoms = np.flatnonzero((model.geom_bodyid == 0) & ((model.geom_contype | model.geom_conaffinity) != 0))
        self._contact_geoms = np.concatenate([robot_geoms, world_geoms])
        self._mass0 = float(model.body_mass[self._base])
        self._inertia0 = model.body_inertia[self._base].copy()
        self._ipos0 = model.body_ipos[self._base].copy()
        self._kp0 = model.actuator_gainprm[self._act, 0].copy()
        self._kd0 = -model.actuator_biasprm[self._act, 2].copy()
        self._tau0 = model.actuator_forcerange[self._act, 1].copy()
        self._hist_adr = model.actuator_historyadr[self._act].copy() if model.nhistory else None
        self._nsample = int(model.actuator_history[self._act[0], 0]) if model.nhistory else 0
        self._seed = seed
        self.rng = np.random.default_rng((seed, 0xD0))
        ones_j = np.ones((self.n, self.j))
        self.draw = PhysicsDraw(
            friction=np.full(self.n, np.nan),
            added_mass_kg=np.zeros(self.n),
            com_offset_m=np.zeros((self.n, 3)),
            kp_scale=ones_j.copy(),
            kd_scale=ones_j.copy(),
            torque_scale=ones_j.copy(),
            joint_offset_rad=np.zeros((self.n, self.j)),
            latency_steps=np.zeros(self.n, dtype=np.int64),
        )
        self._fields = {}
        for name, fields in (
            ("physics_material", ("geom_friction",)),
            ("add_base_mass", ("body_mass", "body_inertia")),
            ("base_com", ("body_ipos",)),
            ("actuator_gains", ("actuator_gainprm", "actuator_biasprm")),
            ("motor_strength", ("actuator_forcerange",)),
            ("action_latency", ("actuator_delay",)),
        ):
            if name in self.terms:
                for f in fields:
                    self._fields[f] = batch.expand(f)
        self.push_time_left = np.full(self.n, np.inf)
        self._drawn = np.zeros(self.n, dtype=bool)
        # the friction the robot's feet have in the model: where the curriculum starts from
        self._mu0 = float(model.geom_friction[robot_geoms, 0].max()) if robot_geoms.size else 1.0
        self.scale = 1.0 if cfg.curriculum_steps <= 0 else 0.0

    def set_progress(self, policy_steps: int) -> None:
        """Curriculum: ranges at ``min(1, policy_steps / curriculum_steps)`` of their width around the
        nominal value (Isaac Lab's ``common_step_counter``, policy steps of one env since start-up)."""
        steps = self.cfg.curriculum_steps
        self.scale = 1.0 if steps <= 0 else min(1.0, policy_steps / steps)

    def _ramp(self, rng: tuple[float, float], nominal: float) -> tuple[float, float]:
        """``rng`` shrunk toward ``nominal`` by the curriculum (the full range once it is done)."""
        return (nominal + self.scale * (rng[0] - nominal), nominal + self.scale * (rng[1] - nominal))

    # ------------------------------------------------------------------ public
    @property
    def joint_offset(self) -> np.ndarray:
        """Encoder offsets in force, rad, shape ``(N, J)`` (zeros without ``joint_calibration``)."""
        return self.draw.joint_offset_rad

    def reseed(self, seed: int) -> None:
        """Restart the draws from ``seed`` (evaluation rollouts are reproducible)."""
        self.rng = np.random.default_rng((seed, 0xD0))
        self._drawn[:] = False

    def on_reset(self, ids: np.ndarray) -> None:
        """Draw the physics parameters of the reset envs ``ids`` (every reset, or once with
        ``resample: startup``) and restart their push timers. Call before ``Batch.reset(ids)``."""
        ids = np.asarray(ids)
        ids_draw = ids[~self._drawn[ids]] if self.cfg.resample == "startup" else ids
        if ids_draw.size:
            self._draw_physics(ids_draw)
            self._drawn[ids_draw] = True
        push = self.terms.get("push_robot")
        if push is not None:
            self.push_time_left[ids] = self.rng.uniform(*push.interval_range_s, size=ids.size)

    def reset_velocity(self, ids: np.ndarray) -> np.ndarray | None:
        """``reset_base`` draw: base velocities ``(len(ids), 6)`` (world linear, base angular), or None."""
        reset = self.terms.get("reset_base")
        if reset is None:
            return None
        return self._sample_velocity(reset.velocity_range, ids.size)

    def init_latency_history(self, ids: np.ndarray, ctrl: np.ndarray) -> None:
        """Fill the control history of the reset envs with their reset controls ``ctrl`` (``(len(ids), nu)``),
        so a delayed servo holds the reset pose instead of reading zeros. Call after the reset's writes."""
        if self._hist_adr is None or not ids.size:
            return
        history = self.batch.bind("history")
        rows = history[ids]
        for k, a in enumerate(self._act):
            start = self._hist_adr[k] + HISTORY_HEADER + self._nsample
            rows[:, start : start + self._nsample] = ctrl[:, a : a + 1]
        history[ids] = rows

    def apply_pushes(self, qvel: np.ndarray) -> np.ndarray:
        """Advance the push timers by one policy step; push the envs whose timer ran out.

        Args:
            qvel: The batch's bound ``qvel`` (``(N, nv)``), written in place.

        Returns:
            The pushed envs' ids.
        """
        push = self.terms.get("push_robot")
        if push is None:
            return np.zeros(0, dtype=np.int64)
        self.push_time_left -= self.policy_dt
        ids = np.flatnonzero(self.push_time_left <= 0.0)
        if ids.size:
            dv = self._sample_velocity(push.velocity_range, ids.size)
            d = self._base_dof
            rows = qvel[ids]
            rows[:, d : d + 6] += dv
            qvel[ids] = rows
            self.push_time_left[ids] = self.rng.uniform(*push.interval_range_s, size=ids.size)
        return ids

    # ------------------------------------------------------------------ internals
    def _sample_velocity(self, ranges, n: int) -> np.ndarray:
        cols = [ranges.x, ranges.y, ranges.z, ranges.roll, ranges.pitch, ranges.yaw]
        return np.stack([self.rng.uniform(*self._ramp(c, 0.0), size=n) for c in cols], axis=1)

    def _draw_physics(self, ids: np.ndarray) -> None:
        t, n, f, d = self.terms, ids.size, self._fields, self.draw
        const = False
        if "physics_material" in t:
            mu = self.rng.uniform(*self._ramp(t["physics_material"].static_friction_range, self._mu0), size=n)
            d.friction[ids] = mu
            rows = f["geom_friction"][ids]
            rows[:, self._contact_geoms, 0] = mu[:, None]
            f["geom_friction"][ids] = rows
        if "add_base_mass" in t:
            dm = self.rng.uniform(*self._ramp(t["add_base_mass"].mass_distribution_params, 0.0), size=n)
            d.added_mass_kg[ids] = dm
            mass = self._mass0 + dm
            f["body_mass"][ids, self._base] = mass
            f["body_inertia"][ids, self._base] = self._inertia0[None] * (mass / self._mass0)[:, None]
            const = True
        if "base_com" in t:
            r = t["base_com"].com_range
            off = np.stack([self.rng.uniform(*self._ramp(a, 0.0), size=n) for a in (r.x, r.y, r.z)], axis=1)
            d.com_offset_m[ids] = off
            f["body_ipos"][ids, self._base] = self._ipos0[None] + off
            const = True
        if "actuator_gains" in t:
            g = t["actuator_gains"]
            kp = self.rng.uniform(*self._ramp(g.stiffness_distribution_params, 1.0), size=(n, self.j))
            kd = self.rng.uniform(*self._ramp(g.damping_distribution_params, 1.0), size=(n, self.j))
            d.kp_scale[ids], d.kd_scale[ids] = kp, kd
            gain, bias = f["actuator_gainprm"][ids], f["actuator_biasprm"][ids]
            gain[:, self._act, 0] = self._kp0 * kp
            bias[:, self._act, 1] = -self._kp0 * kp
            bias[:, self._act, 2] = -self._kd0 * kd
            f["actuator_gainprm"][ids], f["actuator_biasprm"][ids] = gain, bias
        if "motor_strength" in t:
            s = self.rng.uniform(*self._ramp(t["motor_strength"].torque_limit_scale_range, 1.0), size=(n, self.j))
            d.torque_scale[ids] = s
            rows = f["actuator_forcerange"][ids]
            rows[:, self._act, 0] = -self._tau0 * s
            rows[:, self._act, 1] = self._tau0 * s
            f["actuator_forcerange"][ids] = rows
        if "joint_calibration" in t:
            offsets = self._ramp(t["joint_calibration"].offset_range_rad, 0.0)
            d.joint_offset_rad[ids] = self.rng.uniform(*offsets, size=(n, self.j))
        if "action_latency" in t:
            lo, hi = t["action_latency"].latency_range_s
            k_lo = math.ceil(lo / self.physics_dt - 1e-9)
            k_hi = math.floor(hi / self.physics_dt + 1e-9)
            if k_hi >= k_lo:  # curriculum: from the low end
                k_hi = math.floor(k_lo + self.scale * (k_hi - k_lo) + 1e-9)
            if k_hi < k_lo:
                raise ConfigError(
                    f"randomization.action_latency.latency_range_s [{lo}, {hi}] holds no whole physics step of "
                    f"{self.physics_dt} s; widen it or set both ends to a multiple of the step."
                )
            k = self.rng.integers(k_lo, k_hi + 1, size=n)
            d.latency_steps[ids] = k
            rows = f["actuator_delay"][ids]
            rows[:, self._act] = (k * self.physics_dt)[:, None]
            f["actuator_delay"][ids] = rows
        if const:
            self.batch.set_const(ids)
