"""VelocityCommand: cmd_vel clamped to the trained ranges and acceleration-limited; closed on SimRobot.

The shipped Go2 walk was trained on v_x in [0.5, 1.0] m/s, v_y = 0, yaw rate = 0 (``deploy.yaml``
``command_ranges``); widened to include zero, the clamp allows v_x in [0, 1.0] and nothing else.
"""

from __future__ import annotations

import numpy as np
import pytest
from policy_files import SHIPPED
from test_control_core import SPEC, feed

from lm_reward_learning.deploy import ControllerCore, DeployedPolicy, Mode, SafetyConfig, VelocityCommand
from lm_reward_learning.deploy.sim import SimRobot

FACTS = DeployedPolicy.load(SHIPPED).facts


def test_requests_are_clamped_to_the_trained_ranges_widened_to_zero():
    v = VelocityCommand(FACTS.command_ranges, timeout_s=0.0)
    np.testing.assert_array_equal(v.lower, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(v.upper, [1.0, 0.0, 0.0])
    for request, expected in [
        ((2.0, 2.0, 4.0), (1.0, 0.0, 0.0)),
        ((-1.0, -0.5, -4.0), (0.0, 0.0, 0.0)),
        ((0.3, 0.0, 0.0), (0.3, 0.0, 0.0)),  # below the trained range but towards a stop: allowed
        ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
        ((float("nan"), float("inf"), 0.0), (0.0, 0.0, 0.0)),
    ]:
        v.request(0.0, *request)
        np.testing.assert_array_equal(v.tick(0.0), expected)
    assert v.clamped == 2
    np.testing.assert_array_equal(v.requested, [0.0, 0.0, 0.0])  # non-finite values zeroed
    free = VelocityCommand(FACTS.command_ranges, clamp=False, timeout_s=0.0)
    free.request(0.0, 2.0, 2.0, 4.0)
    np.testing.assert_array_equal(free.tick(0.0), [2.0, 2.0, 4.0])


def test_the_command_ramps_at_the_acceleration_limit_and_stops_on_timeout():
    v = VelocityCommand(FACTS.command_ranges, max_accel=[1.0, 1.0, 2.0], timeout_s=0.5)
    values = []
    for k in range(60):  # cmd_vel and ticks at 50 Hz; the first tick has no elapsed time
        v.request(0.02 * k, 0.8, 0.0, 0.0)
        values.append(float(v.tick(0.02 * k)[0]))
    # 1 m/s² × 0.02 s = 0.02 m/s per tick: 0, 0.02, 0.04, ... up to 0.8 after 40 ticks, then held.
    np.testing.assert_allclose(values[:41], 0.02 * np.arange(41), atol=1e-12)
    np.testing.assert_allclose(values[41:], 0.8)
    v.request(1.2, 0.8, 0.0, 0.0)
    assert v.tick(1.7)[0] == pytest.approx(0.8)  # 0.5 s old: still valid
    assert v.tick(1.72)[0] == pytest.approx(0.78)  # expired: ramps down to zero
    v.reset()
    np.testing.assert_array_equal(v.value, 0.0)
    with pytest.raises(ValueError, match="max_accel must be 3 finite numbers >= 0"):
        VelocityCommand(None, max_accel=[1.0, -1.0, 0.0])


def _walk(clamp: bool, request: tuple[float, float, float], seconds: float) -> tuple[SimRobot, ControllerCore, float]:
    """Stand-up 0.5 s, then the policy on ``request`` for ``seconds`` (or until the robot falls)."""
    core = ControllerCore(
        DeployedPolicy.load(SHIPPED),
        SafetyConfig(stand_up_s=0.5, max_roll_rad=3.0, max_pitch_rad=3.0),  # let it fall: measure the robot
        cmd_timeout_s=0.0,
        cmd_clamp=clamp,
        cmd_max_accel=[1.0, 1.0, 2.0] if clamp else None,
    )
    sim = SimRobot(SPEC)
    t, running_since = 0.0, None
    feed(core, sim, t)
    core.on_command(t, *request)
    core.activate(t, auto_policy=True)
    while running_since is None or t - running_since < seconds:
        cmd = core.tick(t)
        sim.command(cmd.positions, cmd.kp, cmd.kd)
        sim.step(4)
        t += 0.02
        feed(core, sim, t)
        if running_since is None and core.mode is Mode.POLICY:
            running_since, x0 = t, sim.base_pos_w[0]
        if sim.fallen():
            break
    return sim, core, (sim.base_pos_w[0] - x0) / max(t - running_since, 1e-9)


def test_an_over_range_command_is_clamped_and_the_robot_keeps_walking():
    sim, core, speed = _walk(clamp=True, request=(2.0, 2.0, 4.0), seconds=4.0)
    assert not sim.fallen() and core.mode is Mode.POLICY
    np.testing.assert_allclose(core.command, [1.0, 0.0, 0.0])
    assert speed > 0.6  # forward, towards the clamped 1.0 m/s
    d = core.diagnostics()
    assert d["command_requested"] == [2.0, 2.0, 4.0] and d["cmd_clamped"] == 1.0
    # Without the clamp the same request makes the policy fall within a second.
    sim, _, _ = _walk(clamp=False, request=(2.0, 2.0, 4.0), seconds=4.0)
    assert sim.fallen() and sim.time_s < 0.5 + 1.5
