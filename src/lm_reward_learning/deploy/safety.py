"""Safety layer between a policy and a robot: the mode machine with its fault rules, without ROS.

:class:`SafetySupervisor` runs the modes of :mod:`lm_reward_learning.deploy.modes` (``passive`` →
``stand_up`` → ``policy`` → ``sit_down`` → ``passive``; ``hold``; ``damping``) and decides the joint
command of each control tick. The operator asks for modes (:meth:`SafetySupervisor.request`, from
a service or a joystick); the e-stop (:meth:`SafetySupervisor.e_stop`) and faults latch
``damping``. Rules in the energized modes (``stand_up``, ``policy``, ``sit_down``, ``hold``):

* **Watchdogs** — joint states or IMU older than ``sensor_timeout_s``, or no operator heartbeat for
  ``heartbeat_timeout_s``: ``damping``; checked on every control tick and between ticks by
  :meth:`SafetySupervisor.watchdog` (its own timer in ``policy_controller``).
* **Tilt** — ``|roll|`` or ``|pitch|`` beyond their limits: ``damping``.
* **Non-finite** joint state, IMU reading, observation or action: ``hold`` the last target, the
  previous mode resumes with finite inputs; a hold longer than ``hold_timeout_s``: ``damping``.
* **Targets** — policy targets are ``default + action_scale * clip(action, ±action_clip)`` (as in
  training); every target (ramps too) is clamped to the joint limits and rate-limited
  (``max_target_rate_rad_s``), with the policy's kp/kd.

``passive`` and ``damping`` command ``kp = 0``, ``kd = damping_kd``, zero target velocity, so the
joints only resist motion. Standing up needs fresh inputs, the heartbeat, a level base and the
e-stop released. Every function takes the time ``now`` (s, monotonic) as an argument, so tests
drive it with a fake clock. Joint arrays are in the controller's joint order
(:attr:`DeployFacts.command_joint_names`: the policy's joints, then the joints it holds at their
default angles, if any); the policy's action moves the first J. The rules follow
legged-robot deployment stacks (Unitree's ``unitree_rl_gym`` deploy scripts, rl_sar,
unitree_rl_lab, legged_control: damping on faults, a ramp to the default pose before the policy,
clamps on targets).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import numpy as np

from lm_reward_learning.deploy.modes import (
    ALLOWED,
    ENERGIZED,
    REQUESTABLE,
    Mode,
    Ramp,
    TransitionRefusedError,
    sit_pose,
)
from lm_reward_learning.deploy.observation import roll_pitch
from lm_reward_learning.deploy.policy import DeployFacts
from lm_reward_learning.deploy.signals import JointCommand, SafetyConfig, SafetyEvent, Sensors, is_finite_command

log = logging.getLogger(__name__)

__all__ = [
    "JointCommand",
    "Mode",
    "SafetyConfig",
    "SafetyEvent",
    "SafetySupervisor",
    "Sensors",
    "TransitionRefusedError",
    "is_finite_command",
]


PolicyFn = Callable[[], "tuple[np.ndarray, np.ndarray]"]
"""Runs the policy on the current inputs and returns ``(observation (D,), action (J,))``."""


class SafetySupervisor:
    """The mode machine and safety rules of one controller.

    Args:
        facts: The policy's deployment facts (joint names, default pose, gains, action scale and clip,
            control period).
        cfg: The limits.

    Raises:
        ValueError: if a joint limit or the sitting pose has the wrong length.

    Attributes:
        mode: The current :class:`~lm_reward_learning.deploy.modes.Mode`.
        reason: Why the last mode change happened.
        e_stop_engaged: Whether the e-stop is engaged (latched until released).
        applied_action: The clipped action applied on the last :meth:`step`, or None if the policy's
            output was not applied. Shape: (J,).
        counters: Totals since construction: ``clamped`` (joint targets clamped to a limit),
            ``rate_limited`` (targets slowed down), ``holds``, ``faults``, ``refused`` (mode requests).
        events: The last 100 mode changes.
    """

    def __init__(self, facts: DeployFacts, cfg: SafetyConfig) -> None:
        self.facts = facts
        self.cfg = cfg
        j = len(facts.command_joint_names)
        self._names = facts.command_joint_names
        self._default = np.asarray(facts.command_default_joint_pos, dtype=np.float64)
        self._kp = np.asarray(facts.command_kp, dtype=np.float64)
        self._kd = np.asarray(facts.command_kd, dtype=np.float64)
        self._scale = np.zeros(j)
        self._scale[: facts.num_joints] = facts.action_scale  # held joints: no action, their default angle
        self._zeros = np.zeros(j)
        self._damping_kd = np.full(j, float(cfg.damping_kd))
        self._lower = np.asarray(cfg.joint_lower, dtype=np.float64) if cfg.joint_lower is not None else None
        self._upper = np.asarray(cfg.joint_upper, dtype=np.float64) if cfg.joint_upper is not None else None
        sit = sit_pose(facts.robot, self._names, self._default) if cfg.sit_pose is None else cfg.sit_pose
        self._sit = np.asarray(sit, dtype=np.float64)
        for name, arr in (("joint_lower", self._lower), ("joint_upper", self._upper), ("sit_pose", self._sit)):
            if arr is not None and arr.shape != (j,):
                raise ValueError(f"SafetyConfig.{name} has {arr.shape[0]} values for {j} joints")
        self._max_step = cfg.max_target_rate_rad_s * facts.control_dt
        self.mode = Mode.IDLE
        self.reason = "not activated"
        self.e_stop_engaged = False
        self.applied_action: np.ndarray | None = None
        self.counters = {"clamped": 0, "rate_limited": 0, "holds": 0, "faults": 0, "refused": 0}
        self.events: deque[SafetyEvent] = deque(maxlen=100)
        self._last_target: np.ndarray | None = None
        self._last_measured: np.ndarray | None = None
        self._ramp: Ramp | None = None
        self._hold_since = 0.0
        self._resume: Mode = Mode.POLICY
        self._auto_policy = False

    # ------------------------------------------------------------------ lifecycle
    def activate(self, now: float, *, auto_policy: bool = False) -> None:
        """Start commanding in ``passive`` (``damping`` while the e-stop is engaged).

        Args:
            now: Current time, s.
            auto_policy: Stand up as soon as the inputs allow it, then run the policy (an unattended
                simulation; on hardware the operator asks for each mode).
        """
        self._last_target = None
        self._ramp = None
        self.applied_action = None
        self._auto_policy = auto_policy and not self.e_stop_engaged
        if self.e_stop_engaged:
            self._set_mode(now, Mode.DAMPING, "activated with the e-stop engaged")
        else:
            self._set_mode(now, Mode.PASSIVE, "activated" + (": standing up, then the policy" if auto_policy else ""))

    def deactivate(self, now: float, sensors: Sensors) -> JointCommand:
        """Stop commanding; return the damping command to send last."""
        self._note_measured(sensors)
        cmd = self._damping()
        self._auto_policy = False
        self._set_mode(now, Mode.IDLE, "deactivated")
        return cmd

    # ------------------------------------------------------------------ operator
    def request(self, now: float, target: Mode, sensors: Sensors, source: str = "request") -> JointCommand | None:
        """Switch to ``target`` if the transition is allowed now (an operator's request).

        Args:
            now: Current time, s.
            target: One of :data:`~lm_reward_learning.deploy.modes.REQUESTABLE`.
            sensors: The latest measurements (preconditions, ramp start).
            source: Who asked (``service``, ``joystick``), for the reason.

        Returns:
            The damping command to send at once for ``passive``; None otherwise (the next tick
            commands the new mode).

        Raises:
            TransitionRefusedError: naming why (not allowed from the present mode, or a failed precondition).
        """
        try:
            return self._request(now, Mode(target), sensors, source)
        except TransitionRefusedError:
            self.counters["refused"] += 1
            raise

    def _request(self, now: float, target: Mode, sensors: Sensors, source: str) -> JointCommand | None:
        if target not in REQUESTABLE:
            raise TransitionRefusedError(
                f"{target.value} cannot be asked for; ask for one of {[m.value for m in REQUESTABLE]}"
            )
        if self.mode is Mode.IDLE:
            raise TransitionRefusedError(f"the controller is not active; activate it before asking for {target.value}")
        if target not in ALLOWED[self.mode]:
            allowed = sorted(m.value for m in ALLOWED[self.mode])
            raise TransitionRefusedError(
                f"{self.mode.value} -> {target.value} is not allowed; from {self.mode.value}: {allowed}"
            )
        if target is self.mode:
            return None
        self._note_measured(sensors)
        self._auto_policy = False
        if target is Mode.PASSIVE:
            if self.e_stop_engaged:
                raise TransitionRefusedError(
                    "the e-stop is engaged: release it first (e_stop false), then ask for passive"
                )
            self._set_mode(now, Mode.PASSIVE, f"{source}: passive")
            return self._damping()
        if target is Mode.STAND_UP:
            if self.mode is Mode.PASSIVE:
                why = self._not_ready(now, sensors)
                if why:
                    raise TransitionRefusedError(f"cannot stand up: {why}")
            self._start_ramp(now, self._default, self.cfg.stand_up_s)
        elif target is Mode.POLICY:
            assert self._ramp is not None
            left = self._ramp.remaining(now)
            if left > 0:
                raise TransitionRefusedError(f"still standing up ({left:.2f} s left); ask for policy once standing")
        else:  # SIT_DOWN
            self._start_ramp(now, self._sit, self.cfg.sit_down_s)
        self._set_mode(now, target, f"{source}: {target.value}")
        return None

    def e_stop(self, now: float, engaged: bool, sensors: Sensors, source: str = "e-stop") -> JointCommand | None:
        """Engage (latch ``damping``) or release the e-stop.

        Returns:
            The damping command to send at once when engaging an active controller, else None.
            Releasing leaves ``damping``; the operator then asks for ``passive``.
        """
        if not engaged:
            if self.e_stop_engaged:
                log.warning("safety: e-stop released (%s); ask for passive to leave damping", source)
            self.e_stop_engaged = False
            return None
        self.e_stop_engaged = True
        self._auto_policy = False
        if self.mode is Mode.IDLE:
            return None
        self._note_measured(sensors)
        return self.fault(now, f"e-stop engaged ({source})")

    # ------------------------------------------------------------------ one control tick
    def step(self, now: float, sensors: Sensors, policy: PolicyFn) -> JointCommand:
        """Decide this tick's command; run ``policy`` only in ``policy`` mode when the rules allow it.

        Args:
            now: Current time, s (the clock of the sensor stamps).
            sensors: The latest measurements.
            policy: Called in ``policy`` mode to get ``(observation, action)``.

        Returns:
            The command to send.

        Raises:
            RuntimeError: if called while ``idle`` (not activated).
        """
        if self.mode is Mode.IDLE:
            raise RuntimeError("SafetySupervisor.step() called before activate()")
        self.applied_action = None
        self._note_measured(sensors)
        if self.mode is Mode.PASSIVE and self._auto_policy and self._not_ready(now, sensors) is None:
            self._start_ramp(now, self._default, self.cfg.stand_up_s)
            self._set_mode(now, Mode.STAND_UP, "start_mode policy: standing up")
        if self.mode in (Mode.PASSIVE, Mode.DAMPING):
            return self._damping()
        stale = self._stale(now, sensors)
        if stale:
            return self.fault(now, stale)
        bad = self._nonfinite_sensors(sensors)
        if bad:
            return self._hold(now, bad)
        tilted = self._tilted(sensors)
        if tilted:
            return self.fault(now, tilted)
        if self.mode is Mode.HOLD:
            resume = self._resume
            if resume in (Mode.STAND_UP, Mode.SIT_DOWN) and self._ramp is not None:
                self._start_ramp(now, self._ramp.goal, self._ramp.duration)  # again from the held target
            self._set_mode(now, resume, "inputs finite again")
        if self.mode in (Mode.STAND_UP, Mode.SIT_DOWN):
            return self._follow_ramp(now)
        obs, action = policy()
        if not np.all(np.isfinite(obs)):
            return self._hold(now, f"non-finite observation ({self._obs_terms_at(obs)})")
        if not np.all(np.isfinite(action)):
            idx = [self._names[i] for i in np.flatnonzero(~np.isfinite(action))]
            return self._hold(now, f"non-finite action for {idx}")
        a = np.clip(np.asarray(action, dtype=np.float64), -self.facts.action_clip, self.facts.action_clip)
        padded = np.zeros_like(self._default)
        padded[: a.shape[0]] = a
        target = self._limit(self._default + self._scale * padded)
        self.applied_action = a
        return JointCommand(target, self._zeros, self._kp, self._kd, Mode.POLICY)

    def watchdog(self, now: float, sensors: Sensors) -> JointCommand | None:
        """The input and heartbeat watchdog between control ticks: latch damping as soon as one is stale.

        Called on a timer of its own (``policy_controller``: every ``watchdog_period_s``), so damping
        starts within the timeout + that period of the last message, not at the next control tick.
        The control tick applies the same rule (:meth:`step`).

        Returns:
            The damping command to send at once if this call latched the fault, else None (nothing
            stale, or not energized).
        """
        if self.mode not in ENERGIZED:
            return None
        stale = self._stale(now, sensors)
        if stale is None:
            return None
        self._note_measured(sensors)
        return self.fault(now, stale)

    def fault(self, now: float, why: str) -> JointCommand:
        """Latch damping because of ``why`` (also for faults found outside the supervisor); return its command."""
        self.counters["faults"] += 1
        self._auto_policy = False
        self._set_mode(now, Mode.DAMPING, why)
        return self._damping()

    # ------------------------------------------------------------------ rules
    def _stale(self, now: float, s: Sensors) -> str | None:
        """Why the inputs or the operator's heartbeat are too old (the watchdogs), or None."""
        limit = self.cfg.sensor_timeout_s
        for what, stamp in (("joint_states", s.joint_stamp), ("IMU", s.imu_stamp)):
            if stamp is None:
                return f"no {what} received"
            age = now - stamp
            if age > limit:
                return f"{what} stale: last message {age * 1e3:.0f} ms ago > sensor_timeout_s {limit * 1e3:.0f} ms"
        hb = self.cfg.heartbeat_timeout_s
        if hb > 0:
            if s.heartbeat_stamp is None:
                return "no operator heartbeat received"
            age = now - s.heartbeat_stamp
            if age > hb:
                return f"operator heartbeat lost: last {age * 1e3:.0f} ms ago > heartbeat_timeout_s {hb * 1e3:.0f} ms"
        return None

    def _not_ready(self, now: float, s: Sensors) -> str | None:
        """Why the robot may not be stood up now, or None."""
        if self.e_stop_engaged:
            return "the e-stop is engaged"
        return self._stale(now, s) or self._nonfinite_sensors(s) or self._tilted(s)

    def _tilted(self, s: Sensors) -> str | None:
        assert s.quat_xyzw is not None
        roll, pitch = roll_pitch(s.quat_xyzw)
        if abs(roll) > self.cfg.max_roll_rad:
            return f"base tilted: roll {roll:+.2f} rad beyond ±{self.cfg.max_roll_rad:.2f} rad"
        if abs(pitch) > self.cfg.max_pitch_rad:
            return f"base tilted: pitch {pitch:+.2f} rad beyond ±{self.cfg.max_pitch_rad:.2f} rad"
        return None

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

    def _start_ramp(self, now: float, goal: np.ndarray, duration: float) -> None:
        """A ramp to ``goal`` from the last target (continuity) or, when limp, the measured pose."""
        start = self._last_target if self._last_target is not None else self._last_measured
        if start is None:
            start = self._default
        self._ramp = Ramp(start.copy(), goal, now, duration)

    def _follow_ramp(self, now: float) -> JointCommand:
        assert self._ramp is not None
        mode = self.mode
        target = self._limit(self._ramp.at(now))
        if self._ramp.remaining(now) <= 0 and np.allclose(target, self._ramp.goal, atol=1e-9):
            if mode is Mode.SIT_DOWN:
                self._set_mode(now, Mode.PASSIVE, f"sat down in {now - self._ramp.t0:.2f} s")
            elif self._auto_policy:
                self._auto_policy = False
                self._set_mode(now, Mode.POLICY, f"stood up in {now - self._ramp.t0:.2f} s; policy running")
        return JointCommand(target, self._zeros, self._kp, self._kd, mode)

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

    def _damping(self) -> JointCommand:
        """kp = 0, kd = damping_kd, zero target velocity; positions: the last measured pose (unused at kp 0)."""
        if self._last_measured is not None:
            pos = self._last_measured
        elif self._last_target is not None:
            pos = self._last_target
        else:
            pos = self._default
        self._last_target = None
        mode = Mode.PASSIVE if self.mode is Mode.PASSIVE else Mode.DAMPING
        return JointCommand(pos.copy(), self._zeros, self._zeros, self._damping_kd, mode)

    # ------------------------------------------------------------------ bookkeeping
    def _note_measured(self, s: Sensors) -> None:
        if s.joint_pos is not None and np.all(np.isfinite(s.joint_pos)):
            self._last_measured = np.array(s.joint_pos, dtype=np.float64)

    def _set_mode(self, now: float, mode: Mode, reason: str) -> None:
        if mode is self.mode and reason == self.reason:
            return
        event = SafetyEvent(now, self.mode, mode, reason)
        self.events.append(event)
        level = logging.WARNING if mode in (Mode.HOLD, Mode.DAMPING) else logging.INFO
        log.log(level, "safety: %s -> %s: %s", self.mode.value, mode.value, reason)
        self.mode, self.reason = mode, reason
