"""One control tick of a deployed policy, without ROS: inputs → observation → inference → safety → command.

:class:`ControllerCore` keeps the latest joint state, IMU reading and velocity command (each with the
time it arrived), and on every tick builds the observation, runs the policy when the
:class:`~lm_reward_learning.deploy.safety.SafetySupervisor` allows it, and returns the joint command.
``policy_controller`` (the ROS node) only turns messages into these calls and commands into messages;
the benchmark and the tests drive it directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from lm_reward_learning.deploy.observation import JointMap, ObservationBuilder
from lm_reward_learning.deploy.policy import DeployedPolicy, PolicyMismatchError
from lm_reward_learning.deploy.safety import (
    JointCommand,
    Mode,
    SafetyConfig,
    SafetySupervisor,
    Sensors,
    is_finite_command,
)
from lm_reward_learning.deploy.stats import LoopStats
from lm_reward_learning.deploy.velocity import VelocityCommand

log = logging.getLogger(__name__)


class ControllerCore:
    """The control logic of ``policy_controller``.

    Args:
        policy: The loaded, checked policy.
        safety: The safety limits.
        cmd_timeout_s: A velocity command older than this is replaced by zero (stop), s; 0: commands
            never expire.
        stats_window: Ticks kept for the timing percentiles.
        period_s: The loop's nominal period, s; default: the policy's ``control_dt``.
        cmd_clamp: Clamp velocity commands to the policy's trained ``command_ranges`` (widened to
            include 0); see :class:`~lm_reward_learning.deploy.velocity.VelocityCommand`.
        cmd_max_accel: Acceleration limit of the command, (m/s², m/s², rad/s²); None or 0: none.

    Attributes:
        facts: The policy's deployment facts.
        supervisor: The safety state machine.
        stats: Loop timing statistics.
        sensors: The latest measurements (the controller's joint order,
            :attr:`~lm_reward_learning.deploy.policy.DeployFacts.command_joint_names`: the policy's joints,
            then the joints it holds).
        velocity: The velocity command's timeout, clamp and acceleration limit.
        command: The velocity command in use, ``(v_x m/s, v_y m/s, yaw_rate rad/s)`` (``velocity.value``).
            Shape: (3,).
        last_action: The last applied action (clipped), the ``last_action`` observation. Shape: (J,).
        last_obs: The last observation given to the policy. Shape: (D,).
        policy_t0: When the policy's first tick since it (re)started ran, s; its ``gait_clock`` phase is
            ``((now - policy_t0) · gait_clock_hz) mod 1``, as the training env's episode clock. None
            before that tick.
    """

    def __init__(
        self,
        policy: DeployedPolicy,
        safety: SafetyConfig,
        *,
        cmd_timeout_s: float = 0.5,
        stats_window: int = 500,
        period_s: float | None = None,
        cmd_clamp: bool = True,
        cmd_max_accel: Sequence[float] | None = None,
    ) -> None:
        self.policy = policy
        self.facts = policy.facts
        self.builder = ObservationBuilder(self.facts)
        self.supervisor = SafetySupervisor(self.facts, safety)
        self.stats = LoopStats(period_s or self.facts.control_dt, stats_window)
        self.velocity = VelocityCommand(
            self.facts.command_ranges, clamp=cmd_clamp, max_accel=cmd_max_accel, timeout_s=cmd_timeout_s
        )
        self.sensors = Sensors()
        self.command = self.velocity.value
        j = self.facts.num_joints
        self.last_action = np.zeros(j)
        self.last_obs = np.zeros(self.facts.obs_size, dtype=np.float32)
        self.policy_t0: float | None = None
        self._now = 0.0
        self._maps: dict[tuple[str, ...], JointMap] = {}
        self._map_errors: set[tuple[str, ...]] = set()

    # ------------------------------------------------------------------ inputs
    def joint_map(self, names: Sequence[str]) -> JointMap:
        """The (cached) map from a driver's joint order to the policy's.

        Raises:
            PolicyMismatchError: if a policy joint is missing from ``names`` (naming it).
        """
        key = tuple(names)
        m = self._maps.get(key)
        if m is None:
            m = JointMap(self.facts.command_joint_names, key, self.facts.robot)
            self._maps[key] = m
        return m

    def on_joint_state(self, now: float, names: Sequence[str], position: Sequence[float], velocity: Any) -> None:
        """Store a joint state (driver order, by name) that arrived at ``now``.

        A message that lacks a policy joint stores NaNs (the safety layer then holds and reports it).
        """
        try:
            m = self.joint_map(names)
        except PolicyMismatchError as exc:
            key = tuple(names)
            if key not in self._map_errors:
                self._map_errors.add(key)
                log.error("%s", exc)
            nan = np.full(len(self.facts.command_joint_names), np.nan)
            self.sensors.joint_pos, self.sensors.joint_vel, self.sensors.joint_stamp = nan, nan, now
            return
        self.sensors.joint_pos = m.gather(position)
        self.sensors.joint_vel = m.gather(velocity)
        self.sensors.joint_stamp = now

    def on_imu(self, now: float, quat_xyzw: Sequence[float], ang_vel_b: Sequence[float]) -> None:
        """Store an IMU reading (orientation of the base in the world, x y z w; body rates, rad/s)."""
        self.sensors.quat_xyzw = np.asarray(quat_xyzw, dtype=np.float64)
        self.sensors.ang_vel_b = np.asarray(ang_vel_b, dtype=np.float64)
        self.sensors.imu_stamp = now

    def on_command(self, now: float, v_x: float, v_y: float, yaw_rate: float) -> None:
        """Store a velocity command (base frame: m/s, m/s, rad/s) that arrived at ``now``.

        Non-finite values become zero; the command is clamped to the trained ranges (logged once,
        counted in :meth:`diagnostics`) and reaches the policy acceleration-limited, at the next ticks.
        """
        self.velocity.request(now, v_x, v_y, yaw_rate)

    def on_heartbeat(self, now: float) -> None:
        """Note an operator heartbeat that arrived at ``now``."""
        self.sensors.heartbeat_stamp = now

    # ------------------------------------------------------------------ operator
    def request(self, now: float, mode: Mode | str, source: str = "request") -> JointCommand | None:
        """An operator's mode request (:meth:`SafetySupervisor.request`); entering the policy resets its memory.

        Returns:
            The command to send at once (``passive``), else None.

        Raises:
            lm_reward_learning.deploy.modes.TransitionRefusedError: naming why.
        """
        cmd = self.supervisor.request(now, Mode(mode), self.sensors, source)
        if self.supervisor.mode is Mode.STAND_UP:
            self._policy_fresh()
        return cmd

    def e_stop(self, now: float, engaged: bool, source: str = "e-stop") -> JointCommand | None:
        """Engage or release the e-stop (:meth:`SafetySupervisor.e_stop`); the command to send at once, or None."""
        return self.supervisor.e_stop(now, engaged, self.sensors, source)

    # ------------------------------------------------------------------ lifecycle and ticks
    def activate(self, now: float, *, auto_policy: bool = False) -> None:
        """Start commanding in ``passive`` (with ``auto_policy``: stand up, then the policy); reset the statistics."""
        self._policy_fresh()
        self.stats.reset()
        self.supervisor.activate(now, auto_policy=auto_policy)

    def _policy_fresh(self) -> None:
        """The policy starts as in training: no last action, the command ramping from zero."""
        self.last_action[:] = 0.0
        self.velocity.reset()
        self.policy_t0 = None

    def deactivate(self, now: float) -> JointCommand:
        """Stop commanding; return the damping command to send last."""
        return self.supervisor.deactivate(now, self.sensors)

    @property
    def mode(self) -> Mode:
        """The safety mode."""
        return self.supervisor.mode

    def tick(self, now: float) -> JointCommand:
        """One control step at time ``now`` (s, the clock of the input stamps).

        Returns:
            The command to send (:attr:`~lm_reward_learning.deploy.policy.DeployFacts.command_joint_names` order).
        """
        t0 = time.perf_counter()
        self._now = now
        self.stats.tick(now)
        self.velocity.tick(now)
        cmd = self.supervisor.step(now, self.sensors, self._run_policy)
        if self.supervisor.applied_action is not None:
            self.last_action[:] = self.supervisor.applied_action
        if not is_finite_command(cmd):  # cannot happen by construction; never publish it if it does
            raise FloatingPointError(f"non-finite joint command in mode {cmd.mode.value}: {cmd}")
        self.stats.compute(time.perf_counter() - t0)
        return cmd

    def watchdog(self, now: float) -> JointCommand | None:
        """The input watchdog between ticks (:meth:`SafetySupervisor.watchdog`): the damping command to
        send at once when an input just went stale, else None."""
        return self.supervisor.watchdog(now, self.sensors)

    def _run_policy(self) -> tuple[np.ndarray, np.ndarray]:
        s = self.sensors
        assert s.joint_pos is not None and s.joint_vel is not None
        assert s.ang_vel_b is not None and s.quat_xyzw is not None
        j = self.facts.num_joints
        if self.policy_t0 is None:
            self.policy_t0 = self._now
        phase = ((self._now - self.policy_t0) * (self.facts.gait_clock_hz or 0.0)) % 1.0
        obs = self.builder.build(
            s.joint_pos[:j], s.joint_vel[:j], s.ang_vel_b, s.quat_xyzw, self.command, self.last_action, phase
        )
        if not np.all(np.isfinite(obs)):
            return obs, np.full(self.facts.num_joints, np.nan)
        t0 = time.perf_counter()
        action = self.policy(obs)
        self.stats.inference(time.perf_counter() - t0)
        np.copyto(self.last_obs, obs)
        return obs, action

    def prewarm(self) -> None:
        """In ``policy`` mode, run the network once on the last observation to refill the CPU caches just
        before a tick (:meth:`DeployedPolicy.warm`); in other modes nothing (the policy does not run).

        Not timed in the statistics; it changes no state (the next tick overwrites the output buffer).
        """
        if self.supervisor.mode is Mode.POLICY:
            self.policy.warm()

    def diagnostics(self) -> dict[str, Any]:
        """Timing statistics, the safety mode and reason, and the safety counters (for ``/diagnostics``)."""
        out: dict[str, Any] = {"mode": self.mode.value, "reason": self.supervisor.reason}
        out.update(self.stats.summary())
        out.update({k: float(v) for k, v in self.supervisor.counters.items()})
        out["e_stop"] = "engaged" if self.supervisor.e_stop_engaged else "released"
        out["command"] = [float(x) for x in self.command]
        out["command_requested"] = [float(x) for x in self.velocity.requested]
        out["cmd_clamped"] = float(self.velocity.clamped)
        return out
