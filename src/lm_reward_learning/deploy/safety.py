"""Safety layer between a policy and a robot: a state machine of time and inputs, without ROS.

Modes (:class:`Mode`) and what the robot is commanded in each:

``idle``
    Not active (the lifecycle node is unconfigured or inactive); nothing is commanded.
``soft_start``
    After activation (inputs may take up to ``sensor_timeout_s`` to arrive; until then the command is
    damping): joint targets ramp (smoothstep) from the pose measured at the first tick to the
    policy's default pose over ``soft_start_s``, with the policy's kp/kd; then ``running``.
``running``
    Targets are ``default + action_scale * clip(action, ±action_clip)`` (as in training), clamped to
    the joint limits and rate-limited (``max_target_rate_rad_s``), with the policy's kp/kd.
``hold``
    A non-finite joint state, IMU reading, observation or action: the last target is held with the
    policy's gains and the cause reported; finite inputs resume the previous mode, and a hold longer
    than ``hold_timeout_s`` becomes ``damping``.
``damping``
    Latched fault (stale joint states or IMU beyond ``sensor_timeout_s``, checked on every control tick
    and between ticks by :meth:`SafetySupervisor.watchdog`; roll or pitch beyond their
    limits, or a hold that lasted too long), and on deactivation: ``kp = 0``, ``kd = damping_kd``,
    zero target velocity, so the joints only resist motion. Leaving it takes a deactivate/activate
    cycle (an operator's decision, never automatic).

Every function takes the time ``now`` (s, monotonic) as an argument, so tests drive it with a fake
clock. Joint arrays are in the policy's joint order. The rules follow common practice in legged-robot
deployment stacks (e.g. Unitree's ``unitree_rl_gym`` deploy scripts and legged_control: damping mode on
faults, a ramp to the default pose before the policy, clamps on targets).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np

from lm_reward_learning.deploy.observation import roll_pitch
from lm_reward_learning.deploy.policy import DeployFacts

log = logging.getLogger(__name__)


class Mode(str, Enum):
    """Safety mode of the controller (see the module docstring)."""

    IDLE = "idle"
    SOFT_START = "soft_start"
    RUNNING = "running"
    HOLD = "hold"
    DAMPING = "damping"


@dataclass(frozen=True)
class SafetyConfig:
    """Limits of the safety layer.

    Attributes:
        soft_start_s: Duration of the ramp from the measured pose to the default pose, s (0: one step,
            still rate-limited).
        sensor_timeout_s: Joint states or IMU older than this (time since the last message arrived)
            switch to damping, s.
        max_roll_rad: ``|roll|`` above this switches to damping, rad.
        max_pitch_rad: ``|pitch|`` above this switches to damping, rad.
        max_target_rate_rad_s: Largest change of a joint target per second, rad/s; applied per control
            period as ``rate * control_dt``. The shipped Go2 walk changes targets by at most 23 rad/s
            at 0.8 m/s (measured over a 10 s rollout), so the default 40 rad/s never limits it.
        hold_timeout_s: A hold (non-finite input) longer than this becomes damping, s.
        damping_kd: Joint damping of the damping command, N·m·s/rad.
        joint_lower: Lowest joint targets, rad, policy order (None: no clamp). Shape: (J,).
        joint_upper: Highest joint targets, rad, policy order (None: no clamp). Shape: (J,).
    """

    soft_start_s: float = 2.0
    sensor_timeout_s: float = 0.1
    max_roll_rad: float = 0.7
    max_pitch_rad: float = 0.7
    max_target_rate_rad_s: float = 40.0
    hold_timeout_s: float = 0.5
    damping_kd: float = 1.0
    joint_lower: tuple[float, ...] | None = None
    joint_upper: tuple[float, ...] | None = None


@dataclass
class Sensors:
    """The latest measurements, in policy joint order, with the times they arrived.

    Attributes:
        joint_pos: Joint positions, rad. Shape: (J,). None before the first message.
        joint_vel: Joint velocities, rad/s. Shape: (J,).
        joint_stamp: When the last joint state arrived, s (monotonic); None before the first.
        quat_xyzw: Base orientation in the world (IMU), x, y, z, w. Shape: (4,).
        ang_vel_b: Base angular velocity, base frame, rad/s (IMU). Shape: (3,).
        imu_stamp: When the last IMU message arrived, s (monotonic); None before the first.
    """

    joint_pos: np.ndarray | None = None
    joint_vel: np.ndarray | None = None
    joint_stamp: float | None = None
    quat_xyzw: np.ndarray | None = None
    ang_vel_b: np.ndarray | None = None
    imu_stamp: float | None = None


@dataclass(frozen=True)
class JointCommand:
    """Joint position targets with PD gains, policy joint order.

    The joint controller applies ``tau = kp (positions - q) + kd (velocities - q_dot)``.

    Attributes:
        positions: Target positions, rad. Shape: (J,).
        velocities: Target velocities, rad/s (always zero here). Shape: (J,).
        kp: Position gains, N·m/rad. Shape: (J,).
        kd: Damping gains, N·m·s/rad. Shape: (J,).
        mode: The safety mode that produced it.
    """

    positions: np.ndarray
    velocities: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    mode: Mode


@dataclass(frozen=True)
class SafetyEvent:
    """A mode change: at ``time`` (s), from ``old`` to ``new``, because of ``reason``."""

    time: float
    old: Mode
    new: Mode
    reason: str


PolicyFn = Callable[[], "tuple[np.ndarray, np.ndarray]"]
"""Runs the policy on the current inputs and returns ``(observation (D,), action (J,))``."""


def _smoothstep(a: float) -> float:
    """3a² − 2a³ on [0, 1]: zero slope at both ends, so the ramp starts and ends without a jerk."""
    a = min(max(a, 0.0), 1.0)
    return a * a * (3.0 - 2.0 * a)


class SafetySupervisor:
    """The safety state machine of one controller.

    Args:
        facts: The policy's deployment facts (joint names, default pose, gains, action scale and clip,
            control period).
        cfg: The limits.

    Attributes:
        mode: The current :class:`Mode`.
        reason: Why the last mode change happened.
        applied_action: The clipped action applied on the last :meth:`step`, or None if the policy's
            output was not applied (soft start, hold, damping). Shape: (J,).
        counters: Totals since construction: ``clamped`` (joint targets clamped to a limit),
            ``rate_limited`` (targets slowed down), ``holds``, ``faults``.
    """

    def __init__(self, facts: DeployFacts, cfg: SafetyConfig) -> None:
        self.facts = facts
        self.cfg = cfg
        j = facts.num_joints
        self._names = facts.joint_names
        self._default = np.asarray(facts.default_joint_pos, dtype=np.float64)
        self._kp = np.asarray(facts.kp, dtype=np.float64)
        self._kd = np.asarray(facts.kd, dtype=np.float64)
        self._zeros = np.zeros(j)
        self._damping_kd = np.full(j, float(cfg.damping_kd))
        self._lower = np.asarray(cfg.joint_lower, dtype=np.float64) if cfg.joint_lower is not None else None
        self._upper = np.asarray(cfg.joint_upper, dtype=np.float64) if cfg.joint_upper is not None else None
        for name, lim in (("joint_lower", self._lower), ("joint_upper", self._upper)):
            if lim is not None and lim.shape != (j,):
                raise ValueError(f"SafetyConfig.{name} has {lim.shape[0]} values for {j} joints")
        self._max_step = cfg.max_target_rate_rad_s * facts.control_dt
        self.mode = Mode.IDLE
        self.reason = "not activated"
        self.applied_action: np.ndarray | None = None
        self.counters = {"clamped": 0, "rate_limited": 0, "holds": 0, "faults": 0}
        self.events: deque[SafetyEvent] = deque(maxlen=100)
        self._last_target: np.ndarray | None = None
        self._last_measured: np.ndarray | None = None
        self._ramp_start: np.ndarray | None = None
        self._ramp_t0 = 0.0
        self._t_activated = 0.0
        self._hold_since = 0.0
        self._resume: Mode = Mode.RUNNING

    # ------------------------------------------------------------------ lifecycle
    def activate(self, now: float) -> None:
        """Start commanding: the next :meth:`step` begins the soft start from the measured pose."""
        self._last_target = None
        self._ramp_start = None
        self.applied_action = None
        self._t_activated = now
        self._set_mode(now, Mode.SOFT_START, "activated")

    def deactivate(self, now: float, sensors: Sensors) -> JointCommand:
        """Stop commanding; return the damping command to send last."""
        self._note_measured(sensors)
        cmd = self._damping()
        self._set_mode(now, Mode.IDLE, "deactivated")
        return cmd

    # ------------------------------------------------------------------ one control tick
    def step(self, now: float, sensors: Sensors, policy: PolicyFn) -> JointCommand:
        """Decide this tick's command; run ``policy`` only when the rules allow it.

        Args:
            now: Current time, s (the clock of the sensor stamps).
            sensors: The latest measurements.
            policy: Called in ``running`` mode to get ``(observation, action)``.

        Returns:
            The command to send.

        Raises:
            RuntimeError: if called while ``idle`` (not activated).
        """
        if self.mode is Mode.IDLE:
            raise RuntimeError("SafetySupervisor.step() called before activate()")
        self.applied_action = None
        self._note_measured(sensors)
        if self.mode is Mode.DAMPING:
            return self._damping()
        stale = self._stale(now, sensors)
        if stale:
            if self._waiting_for_first_inputs(now):
                return self._damping()  # just activated: fresh inputs may still be on their way
            return self.fault(now, stale)
        bad = self._nonfinite_sensors(sensors)
        if bad:
            return self._hold(now, bad)
        assert sensors.quat_xyzw is not None and sensors.joint_pos is not None
        roll, pitch = roll_pitch(sensors.quat_xyzw)
        if abs(roll) > self.cfg.max_roll_rad:
            return self.fault(now, f"base tilted: roll {roll:+.2f} rad beyond ±{self.cfg.max_roll_rad:.2f} rad")
        if abs(pitch) > self.cfg.max_pitch_rad:
            return self.fault(now, f"base tilted: pitch {pitch:+.2f} rad beyond ±{self.cfg.max_pitch_rad:.2f} rad")
        if self.mode is Mode.HOLD:
            resume = self._resume
            if resume is Mode.SOFT_START:
                self._ramp_start = None  # restart the ramp from where the joints are now
            self._set_mode(now, resume, "inputs finite again")
        if self.mode is Mode.SOFT_START:
            return self._soft_start(now, sensors.joint_pos)
        obs, action = policy()
        if not np.all(np.isfinite(obs)):
            return self._hold(now, f"non-finite observation ({self._obs_terms_at(obs)})")
        if not np.all(np.isfinite(action)):
            idx = [self._names[i] for i in np.flatnonzero(~np.isfinite(action))]
            return self._hold(now, f"non-finite action for {idx}")
        a = np.clip(np.asarray(action, dtype=np.float64), -self.facts.action_clip, self.facts.action_clip)
        target = self._limit(self._default + self.facts.action_scale * a)
        self.applied_action = a
        return JointCommand(target, self._zeros, self._kp, self._kd, Mode.RUNNING)

    def watchdog(self, now: float, sensors: Sensors) -> JointCommand | None:
        """The input watchdog between control ticks: latch damping as soon as an input is stale.

        Called on a timer of its own (``policy_controller``: every ``watchdog_period_s``), so damping
        starts within ``sensor_timeout_s`` + that period of the last message, not at the next control
        tick. The control tick applies the same rule (:meth:`step`).

        Args:
            now: Current time, s (the clock of the sensor stamps).
            sensors: The latest measurements.

        Returns:
            The damping command to send at once if this call latched the fault, else None (nothing
            stale, already damping, not commanding, or just activated and waiting for the first inputs).
        """
        if self.mode not in (Mode.SOFT_START, Mode.RUNNING, Mode.HOLD):
            return None
        stale = self._stale(now, sensors)
        if stale is None or self._waiting_for_first_inputs(now):
            return None
        self._note_measured(sensors)
        return self.fault(now, stale)

    # ------------------------------------------------------------------ rules
    def _stale(self, now: float, s: Sensors) -> str | None:
        """Why the inputs are too old for control (the watchdog), or None."""
        limit = self.cfg.sensor_timeout_s
        for what, stamp in (("joint_states", s.joint_stamp), ("IMU", s.imu_stamp)):
            if stamp is None:
                return f"no {what} received"
            age = now - stamp
            if age > limit:
                return f"{what} stale: last message {age * 1e3:.0f} ms ago > sensor_timeout_s {limit * 1e3:.0f} ms"
        return None

    def _waiting_for_first_inputs(self, now: float) -> bool:
        """Within ``sensor_timeout_s`` of activation, before the ramp has started: stale inputs are not yet a fault."""
        return (
            self.mode is Mode.SOFT_START
            and self._ramp_start is None
            and now - self._t_activated <= self.cfg.sensor_timeout_s
        )

    def _nonfinite_sensors(self, s: Sensors) -> str | None:
        """Which measurement is non-finite (or absent), or None."""
        for what, v in (("joint_states position", s.joint_pos), ("joint_states velocity", s.joint_vel)):
            if v is None:
                return f"no {what}"
            bad = ~np.isfinite(v)
            if bad.any():
                return f"non-finite {what} of {[self._names[i] for i in np.flatnonzero(bad)]}"
        for what, v in (("IMU orientation", s.quat_xyzw), ("IMU angular velocity", s.ang_vel_b)):
            if v is None or not np.all(np.isfinite(v)):
                return f"non-finite {what}"
        q = s.quat_xyzw
        assert q is not None
        if not 0.5 < float(np.dot(q, q)) < 1.5:
            return f"IMU orientation is not a unit quaternion (|q|^2 = {float(np.dot(q, q)):.3f})"
        return None

    def _obs_terms_at(self, obs: np.ndarray) -> str:
        bad = set(np.flatnonzero(~np.isfinite(obs)).tolist())
        return ", ".join(t.name for t in self.facts.obs_terms if bad & set(range(t.offset, t.offset + t.size)))

    def _limit(self, target: np.ndarray) -> np.ndarray:
        """Clamp ``target`` to the joint limits, then limit its change since the last target."""
        if self._lower is not None or self._upper is not None:
            clamped = np.clip(target, self._lower, self._upper)
            self.counters["clamped"] += int(np.count_nonzero(clamped != target))
            target = clamped
        if self._last_target is not None:
            delta = target - self._last_target
            limited = np.clip(delta, -self._max_step, self._max_step)
            self.counters["rate_limited"] += int(np.count_nonzero(limited != delta))
            target = self._last_target + limited
        self._last_target = target
        return target

    def _soft_start(self, now: float, measured: np.ndarray) -> JointCommand:
        if self._ramp_start is None:
            self._ramp_start = (self._last_target if self._last_target is not None else measured).copy()
            self._ramp_t0 = now
        duration = self.cfg.soft_start_s
        alpha = 1.0 if duration <= 0 else (now - self._ramp_t0) / duration
        target = self._limit(self._ramp_start + (self._default - self._ramp_start) * _smoothstep(alpha))
        if alpha >= 1.0 and np.allclose(target, self._default, atol=1e-9):
            self._set_mode(now, Mode.RUNNING, f"soft start done after {now - self._ramp_t0:.2f} s; policy running")
        return JointCommand(target, self._zeros, self._kp, self._kd, Mode.SOFT_START)

    def _hold(self, now: float, why: str) -> JointCommand:
        if self.mode is not Mode.HOLD:
            self._resume = self.mode
            self._hold_since = now
            self.counters["holds"] += 1
            self._set_mode(now, Mode.HOLD, why)
        elif now - self._hold_since > self.cfg.hold_timeout_s:
            return self.fault(
                now, f"held for {now - self._hold_since:.2f} s > hold_timeout_s {self.cfg.hold_timeout_s} s: {why}"
            )
        if self._last_target is None:
            return self._damping()  # nothing safe to hold yet
        return JointCommand(self._last_target, self._zeros, self._kp, self._kd, Mode.HOLD)

    def fault(self, now: float, why: str) -> JointCommand:
        """Latch damping because of ``why`` (also for faults found outside the supervisor); return its command."""
        self.counters["faults"] += 1
        self._set_mode(now, Mode.DAMPING, why)
        return self._damping()

    def _damping(self) -> JointCommand:
        """kp = 0, kd = damping_kd, zero target velocity; positions: the last measured pose (unused at kp 0)."""
        if self._last_measured is not None:
            pos = self._last_measured
        elif self._last_target is not None:
            pos = self._last_target
        else:
            pos = self._default
        self._last_target = None
        return JointCommand(pos.copy(), self._zeros, self._zeros, self._damping_kd, Mode.DAMPING)

    # ------------------------------------------------------------------ bookkeeping
    def _note_measured(self, s: Sensors) -> None:
        if s.joint_pos is not None and np.all(np.isfinite(s.joint_pos)):
            self._last_measured = np.array(s.joint_pos, dtype=np.float64)

    def _set_mode(self, now: float, mode: Mode, reason: str) -> None:
        if mode is self.mode and reason == self.reason:
            return
        event = SafetyEvent(now, self.mode, mode, reason)
        self.events.append(event)
        level = logging.WARNING if mode in (Mode.HOLD, Mode.DAMPING) and reason != "deactivated" else logging.INFO
        log.log(level, "safety: %s -> %s: %s", self.mode.value, mode.value, reason)
        self.mode, self.reason = mode, reason


def is_finite_command(cmd: JointCommand) -> bool:
    """Whether every number of ``cmd`` is finite (a last check before anything is published)."""
    return all(math.isfinite(x) for arr in (cmd.positions, cmd.velocities, cmd.kp, cmd.kd) for x in arr)
