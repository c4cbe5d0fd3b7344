"""The velocity command a policy sees, from what an operator sends (``cmd_vel``), without ROS.

:class:`VelocityCommand` turns the latest requested command into the command of each control tick:

1. **Timeout**: a request older than ``timeout_s`` becomes zero (stand still).
2. **Clamp** to the ranges the policy was trained on (``deploy.yaml`` ``command_ranges``), each widened
   to include zero, so "stop" is always allowed: the shipped Go2 walk trained on v_x in [0.5, 1.0] m/s
   and nothing else accepts v_x in [0, 1.0], v_y = 0, yaw rate = 0. A request far outside the training
   range (``(2, 2, 4)``) would otherwise make the policy fall within a fraction of a second.
3. **Acceleration limit**: the command moves towards the clamped request by at most ``max_accel * dt``
   per tick (``dt``: the time since the previous tick), so a step in ``cmd_vel`` becomes a ramp.

Commands are ``(v_x m/s, v_y m/s, yaw_rate rad/s)`` in the base frame, as ``geometry_msgs/Twist``'s
``linear.x``, ``linear.y``, ``angular.z``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np

log = logging.getLogger(__name__)

COMMAND_KEYS = ("lin_vel_x", "lin_vel_y", "ang_vel_z")
"""Keys of the command axes in ``deploy.yaml``'s ``command_ranges``."""


class VelocityCommand:
    """The command of each control tick: timeout, clamp to the trained ranges, acceleration limit.

    Args:
        ranges: Trained command ranges ``{"lin_vel_x": (lo, hi), ...}`` (``DeployFacts.command_ranges``);
            None or a missing key: that axis is not clamped.
        clamp: Whether to clamp to ``ranges`` (widened to include 0).
        max_accel: Largest change per second of each axis: m/s², m/s², rad/s²; 0 or None: no limit.
            Shape: (3,).
        timeout_s: A request older than this becomes zero, s; 0: requests never expire.

    Attributes:
        lower: Lowest command of each axis after the clamp (-inf: none). Shape: (3,).
        upper: Highest command of each axis after the clamp (+inf: none). Shape: (3,).
        value: The command of the last tick. Shape: (3,).
        requested: The last request as received (non-finite values zeroed). Shape: (3,).
        clamped: Requests received that the clamp changed.
    """

    def __init__(
        self,
        ranges: Mapping[str, tuple[float, float]] | None,
        *,
        clamp: bool = True,
        max_accel: Sequence[float] | None = None,
        timeout_s: float = 0.5,
    ) -> None:
        self.lower = np.full(3, -math.inf)
        self.upper = np.full(3, math.inf)
        if clamp and ranges:
            for i, key in enumerate(COMMAND_KEYS):
                if key in ranges:
                    lo, hi = ranges[key]
                    self.lower[i], self.upper[i] = min(float(lo), 0.0), max(float(hi), 0.0)
        accel = np.zeros(3) if max_accel is None else np.asarray(max_accel, dtype=np.float64)
        if accel.shape != (3,) or not np.all(np.isfinite(accel)) or np.any(accel < 0):
            raise ValueError(f"max_accel must be 3 finite numbers >= 0 (m/s², m/s², rad/s²), got {max_accel!r}")
        self.max_accel = np.where(accel > 0, accel, math.inf)
        self.timeout_s = float(timeout_s)
        self.value = np.zeros(3)
        self.requested = np.zeros(3)
        self.clamped = 0
        self._target = np.zeros(3)
        self._stamp: float | None = None
        self._last_tick: float | None = None
        self._warned = False

    def request(self, now: float, v_x: float, v_y: float, yaw_rate: float) -> None:
        """Store a request that arrived at ``now`` (s); non-finite values become zero."""
        cmd = np.nan_to_num(np.array([v_x, v_y, yaw_rate], dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        target = np.clip(cmd, self.lower, self.upper)
        if np.any(target != cmd):
            self.clamped += 1
            if not self._warned:
                self._warned = True
                log.warning(
                    "velocity command (%+.2f, %+.2f, %+.2f) is outside the range the policy was trained on "
                    "(v_x [%g, %g] m/s, v_y [%g, %g] m/s, yaw rate [%g, %g] rad/s, widened to include 0): "
                    "clamped to (%+.2f, %+.2f, %+.2f); counted in /diagnostics (cmd_clamped)",
                    *cmd,
                    *(x for pair in zip(self.lower, self.upper, strict=True) for x in pair),
                    *target,
                )
        self.requested, self._target, self._stamp = cmd, target, now

    def reset(self) -> None:
        """Start from zero at the next tick (on activation)."""
        self.value[:] = 0.0
        self._last_tick = None

    def tick(self, now: float) -> np.ndarray:
        """The command at ``now`` (s): the clamped request (zero when expired), acceleration-limited.

        Returns:
            ``(v_x, v_y, yaw_rate)`` (the same array as :attr:`value`). Shape: (3,).
        """
        expired = self.timeout_s > 0 and (self._stamp is None or now - self._stamp > self.timeout_s)
        target = np.zeros(3) if expired else self._target
        dt = 0.0 if self._last_tick is None else max(0.0, now - self._last_tick)
        self._last_tick = now
        step = np.full(3, math.inf)
        limited = np.isfinite(self.max_accel)
        step[limited] = self.max_accel[limited] * dt
        self.value[:] = self.value + np.clip(target - self.value, -step, step)
        return self.value
