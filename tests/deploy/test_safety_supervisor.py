"""SafetySupervisor with a fake clock: every rule triggered by the fault it handles.

The facts are the shipped Go2 policy's (12 joints, action scale 0.25, clip 10, kp 35, kd 0.5,
control_dt 0.02 s). Times are seconds of the fake clock.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
from policy_files import SHIPPED

from lm_reward_learning.deploy import (
    DeployedPolicy,
    Mode,
    SafetyConfig,
    SafetySupervisor,
    Sensors,
    TransitionRefusedError,
)
from lm_reward_learning.deploy.modes import ALLOWED, sit_pose

FACTS = DeployedPolicy.load(SHIPPED).facts
DEFAULT = np.asarray(FACTS.default_joint_pos)
CROUCH = DEFAULT + np.tile([0.0, 0.3, -0.3], 4)
LEVEL = np.array([0.0, 0.0, 0.0, 1.0])
DT = 0.02


def sensors(t: float, pos: np.ndarray = CROUCH, quat: np.ndarray = LEVEL) -> Sensors:
    return Sensors(pos.copy(), np.zeros(12), t, quat.copy(), np.zeros(3), t, t)


class Policy:
    """A fake policy returning a fixed action; counts its calls."""

    def __init__(self, action: np.ndarray | float = 0.0, obs: np.ndarray | None = None) -> None:
        self.action = np.broadcast_to(np.asarray(action, dtype=np.float64), (12,)).copy()
        self.obs = np.zeros(45) if obs is None else obs
        self.calls = 0

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        return self.obs, self.action


def running(cfg: SafetyConfig | None = None) -> tuple[SafetySupervisor, float]:
    """A supervisor stood up (robot at the default pose) and running the policy, and the time."""
    sup = SafetySupervisor(FACTS, cfg or SafetyConfig(stand_up_s=0.0))
    sup.activate(0.0, auto_policy=True)
    t = 0.0
    while sup.mode is not Mode.POLICY:
        sup.step(t, sensors(t, DEFAULT), Policy())
        t += DT
    return sup, t


def test_stand_up_ramps_from_the_measured_pose_to_the_default_before_the_policy():
    sup = SafetySupervisor(FACTS, SafetyConfig(stand_up_s=1.0))
    policy = Policy(action=1.0)
    sup.activate(9.0)
    limp = sup.step(9.0, sensors(9.0), policy)
    assert limp.mode is Mode.PASSIVE and sup.mode is Mode.PASSIVE  # activation: limp until asked
    np.testing.assert_allclose(limp.kp, 0.0)
    np.testing.assert_allclose(limp.kd, 1.0)
    assert sup.request(10.0, Mode.STAND_UP, sensors(10.0), "test") is None
    first = sup.step(10.0, sensors(10.0), policy)
    assert first.mode is Mode.STAND_UP
    np.testing.assert_allclose(first.positions, CROUCH)  # starts where the joints are: no jump
    np.testing.assert_allclose(first.kp, 35.0)
    np.testing.assert_allclose(first.kd, 0.5)
    # Halfway in time, smoothstep(0.5) = 0.5: halfway in position.
    mid = sup.step(10.5, sensors(10.5), policy)
    np.testing.assert_allclose(mid.positions, (CROUCH + DEFAULT) / 2)
    end = sup.step(11.0, sensors(11.0), policy)
    np.testing.assert_allclose(end.positions, DEFAULT)
    assert sup.mode is Mode.STAND_UP and policy.calls == 0  # standing, holding the pose: the policy had no say
    np.testing.assert_allclose(sup.step(11.5, sensors(11.5), policy).positions, DEFAULT)
    sup.request(11.52, Mode.POLICY, sensors(11.52), "test")
    cmd = sup.step(11.52, sensors(11.52, DEFAULT), policy)
    assert cmd.mode is Mode.POLICY and policy.calls == 1
    # target = default + 0.25 * 1.0
    np.testing.assert_allclose(cmd.positions, DEFAULT + 0.25)
    np.testing.assert_allclose(sup.applied_action, 1.0)


def test_actions_are_clipped_as_in_training_and_targets_clamped_to_joint_limits():
    lower, upper = DEFAULT - 1.0, DEFAULT + 2.0
    cfg = SafetyConfig(stand_up_s=0.0, max_target_rate_rad_s=1e9, joint_lower=tuple(lower), joint_upper=tuple(upper))
    sup, t = running(cfg)
    action = np.zeros(12)
    action[0], action[1], action[2] = 100.0, -100.0, 6.0
    cmd = sup.step(t, sensors(t, DEFAULT), Policy(action))
    # joint 0: clip(100) = 10 -> +2.5 rad -> clamped to +2.0; joint 1: -10 -> -2.5 -> -1.0; joint 2: +1.5 (inside)
    np.testing.assert_allclose(cmd.positions[:3] - DEFAULT[:3], [2.0, -1.0, 1.5])
    np.testing.assert_allclose(sup.applied_action[:3], [10.0, -10.0, 6.0])  # the last_action observation
    assert sup.counters["clamped"] == 2


def test_target_changes_are_rate_limited():
    sup, t = running(SafetyConfig(stand_up_s=0.0, max_target_rate_rad_s=10.0))
    # 10 rad/s * 0.02 s = 0.2 rad per tick; the policy asks for +0.9 rad (action 3.6) at once.
    targets = [sup.step(t + k * DT, sensors(t + k * DT, DEFAULT), Policy(3.6)).positions for k in range(7)]
    steps = np.diff([DEFAULT, *targets], axis=0)[:, 0]
    np.testing.assert_allclose(steps, [0.2, 0.2, 0.2, 0.2, 0.1, 0.0, 0.0], atol=1e-12)
    assert sup.counters["rate_limited"] == 4 * 12


@pytest.mark.parametrize("which", ["joint_states", "IMU"])
def test_stale_sensors_switch_to_latched_damping(which):
    sup, t = running(SafetyConfig(stand_up_s=0.0, sensor_timeout_s=0.1, damping_kd=1.5))
    s = sensors(t)
    fresh = sup.step(t + 0.1, s, Policy())  # exactly at the timeout: still fine
    assert fresh.mode is Mode.POLICY
    late = sensors(t)
    if which == "IMU":
        late.joint_stamp = t + 0.11
    else:
        late.imu_stamp = t + 0.11
    cmd = sup.step(t + 0.11, late, Policy())
    assert cmd.mode is Mode.DAMPING and sup.mode is Mode.DAMPING
    assert f"{which} stale: last message 110 ms ago > sensor_timeout_s 100 ms" in sup.reason
    np.testing.assert_allclose(cmd.kp, 0.0)
    np.testing.assert_allclose(cmd.kd, 1.5)
    np.testing.assert_allclose(cmd.velocities, 0.0)
    # Latched: fresh data again does not restart the policy ...
    policy = Policy()
    assert sup.step(t + 0.2, sensors(t + 0.2), policy).mode is Mode.DAMPING and policy.calls == 0
    # ... nor do requests other than passive; passive acknowledges the fault, then the robot can stand again.
    with pytest.raises(TransitionRefusedError, match=r"damping -> stand_up is not allowed; from damping"):
        sup.request(t + 0.25, Mode.STAND_UP, sensors(t + 0.25))
    assert sup.request(t + 0.3, Mode.PASSIVE, sensors(t + 0.3)).mode is Mode.PASSIVE
    sup.request(t + 0.4, Mode.STAND_UP, sensors(t + 0.4))
    assert sup.step(t + 0.4, sensors(t + 0.4), policy).mode is Mode.STAND_UP


def test_the_watchdog_latches_damping_between_control_ticks():
    """Checked on a timer of its own: damping 1 ms after the timeout, not at the next 20 ms tick."""
    sup, t = running(SafetyConfig(stand_up_s=0.0, sensor_timeout_s=0.1, damping_kd=1.5))
    s = sensors(t)
    sup.step(t, s, Policy())  # the last tick with fresh inputs
    for dt in (0.005, 0.05, 0.1):  # not stale yet (the age must exceed the timeout)
        assert sup.watchdog(t + dt, s) is None and sup.mode is Mode.POLICY
    cmd = sup.watchdog(t + 0.101, s)
    assert cmd is not None and cmd.mode is Mode.DAMPING and sup.mode is Mode.DAMPING
    assert "stale: last message 101 ms ago > sensor_timeout_s 100 ms" in sup.reason
    np.testing.assert_allclose(cmd.kp, 0.0)
    np.testing.assert_allclose(cmd.kd, 1.5)
    np.testing.assert_allclose(cmd.positions, CROUCH)  # the last measured pose (unused at kp 0)
    assert sup.watchdog(t + 0.2, s) is None  # already latched: nothing new to send
    assert sup.counters["faults"] == 1
    # Not energized (idle, passive): nothing stiff to stop, no fault.
    idle = SafetySupervisor(FACTS, SafetyConfig(sensor_timeout_s=0.1))
    assert idle.watchdog(5.0, Sensors()) is None and idle.mode is Mode.IDLE
    idle.activate(5.0)
    assert idle.watchdog(5.5, Sensors()) is None and idle.mode is Mode.PASSIVE


def test_standing_up_needs_fresh_inputs_a_heartbeat_a_level_base_and_the_e_stop_released():
    sup = SafetySupervisor(FACTS, SafetyConfig(sensor_timeout_s=0.1, heartbeat_timeout_s=0.2))
    sup.activate(0.0)
    cmd = sup.step(0.1, Sensors(), Policy())
    assert cmd.mode is Mode.PASSIVE and sup.mode is Mode.PASSIVE  # no data: limp, no fault
    np.testing.assert_allclose(cmd.kp, 0.0)
    np.testing.assert_allclose(cmd.positions, DEFAULT)  # nothing measured yet; unused at kp 0
    refusals = {
        "no joint_states received": Sensors(),
        "no operator heartbeat received": dataclasses.replace(sensors(1.0), heartbeat_stamp=None),
        "operator heartbeat lost: last 300 ms ago > heartbeat_timeout_s 200 ms": dataclasses.replace(
            sensors(1.0), heartbeat_stamp=0.7
        ),
        "IMU stale: last message 150 ms ago > sensor_timeout_s 100 ms": dataclasses.replace(
            sensors(1.0), imu_stamp=0.85
        ),
        "base tilted: roll +1.00 rad beyond ±0.70 rad": sensors(
            1.0, quat=np.array([math.sin(0.5), 0, 0, math.cos(0.5)])
        ),
    }
    for why, s in refusals.items():
        with pytest.raises(TransitionRefusedError, match=f"cannot stand up: {re.escape(why)}"):
            sup.request(1.0, Mode.STAND_UP, s)
    sup.e_stop(1.0, True, sensors(1.0), "test")
    assert sup.mode is Mode.DAMPING and sup.reason == "e-stop engaged (test)"
    with pytest.raises(TransitionRefusedError, match="the e-stop is engaged: release it first"):
        sup.request(1.0, Mode.PASSIVE, sensors(1.0))
    assert sup.e_stop(1.1, False, sensors(1.1)) is None and sup.mode is Mode.DAMPING  # release alone: still damping
    sup.request(1.2, Mode.PASSIVE, sensors(1.2))
    sup.request(1.2, Mode.STAND_UP, sensors(1.2))
    assert sup.mode is Mode.STAND_UP and sup.counters["refused"] == 6


def test_operator_transitions_follow_the_table():
    """passive -> stand_up -> policy -> sit_down -> passive; a refused request names what is allowed."""
    assert {m.value: sorted(x.value for x in ALLOWED[m]) for m in ALLOWED} == {
        "idle": [],
        "passive": ["passive", "stand_up"],
        "stand_up": ["passive", "policy", "sit_down"],
        "policy": ["passive", "sit_down", "stand_up"],
        "sit_down": ["passive", "stand_up"],
        "hold": ["passive"],
        "damping": ["passive"],
    }
    sup = SafetySupervisor(FACTS, SafetyConfig(stand_up_s=1.0, sit_down_s=0.5))
    with pytest.raises(TransitionRefusedError, match="not active"):
        sup.request(0.0, Mode.STAND_UP, sensors(0.0))
    sup.activate(0.0)
    with pytest.raises(
        TransitionRefusedError, match=r"passive -> policy is not allowed; from passive: \['passive', 'stand_up'\]"
    ):
        sup.request(0.0, Mode.POLICY, sensors(0.0))
    with pytest.raises(TransitionRefusedError, match="hold cannot be asked for"):
        sup.request(0.0, Mode.HOLD, sensors(0.0))
    sup.request(0.0, Mode.STAND_UP, sensors(0.0))
    sup.step(0.0, sensors(0.0), Policy())
    with pytest.raises(TransitionRefusedError, match=r"still standing up \(0.50 s left\)"):
        sup.request(0.5, Mode.POLICY, sensors(0.5))
    t = 0.0
    while t < 1.0 + 1e-9:
        sup.step(t, sensors(t), Policy())
        t += DT
    sup.request(t, Mode.POLICY, sensors(t))
    policy_cmd = sup.step(t, sensors(t, DEFAULT), Policy(0.4))
    assert policy_cmd.mode is Mode.POLICY
    # Sit down: from the last target to the Go2's lying pose (unitree_sdk2 go2_stand_example), then passive.
    sup.request(t, Mode.SIT_DOWN, sensors(t))
    first = sup.step(t, sensors(t), Policy())
    np.testing.assert_allclose(first.positions, policy_cmd.positions)  # continuous: starts at the last target
    sit = np.tile([0.0, 1.36, -2.65], 4)
    sit[[6, 9]] = [0.2, -0.2]  # RL, RR hips
    np.testing.assert_allclose(sit_pose("go2", FACTS.joint_names, DEFAULT), sit)
    for k in range(1, 26):  # 0.5 s of ticks
        last = sup.step(t + k * DT, sensors(t + k * DT), Policy())
    assert last.mode is Mode.SIT_DOWN and sup.mode is Mode.PASSIVE and sup.reason.startswith("sat down in 0.50 s")
    np.testing.assert_allclose(last.positions, sit)
    assert sup.step(t + 0.52, sensors(t + 0.52), Policy()).mode is Mode.PASSIVE
    assert [e.new.value for e in sup.events] == ["passive", "stand_up", "policy", "sit_down", "passive"]


def test_the_heartbeat_watchdog_and_the_e_stop_latch_damping():
    sup, t = running(SafetyConfig(stand_up_s=0.0, heartbeat_timeout_s=0.2, sensor_timeout_s=1.0))
    s = sensors(t)
    assert sup.watchdog(t + 0.2, s) is None and sup.mode is Mode.POLICY
    cmd = sup.watchdog(t + 0.201, s)
    assert cmd is not None and cmd.mode is Mode.DAMPING and sup.mode is Mode.DAMPING
    assert sup.reason == "operator heartbeat lost: last 201 ms ago > heartbeat_timeout_s 200 ms"
    np.testing.assert_allclose(cmd.kp, 0.0)
    sup2, t2 = running()
    cmd = sup2.e_stop(t2, True, sensors(t2), "service")
    assert cmd is not None and cmd.mode is Mode.DAMPING and sup2.e_stop_engaged
    np.testing.assert_allclose(cmd.kp, 0.0)
    # An e-stop while inactive is remembered: activation starts in damping.
    sup2.deactivate(t2, sensors(t2))
    sup2.activate(t2 + 1.0)
    assert sup2.mode is Mode.DAMPING and sup2.reason == "activated with the e-stop engaged"


@pytest.mark.parametrize(("axis", "angle"), [("roll", 0.75), ("roll", -0.75), ("pitch", 0.75)])
def test_tilt_beyond_the_limits_stops_the_policy(axis, angle):
    sup, t = running(SafetyConfig(stand_up_s=0.0, max_roll_rad=0.7, max_pitch_rad=0.7))
    ok = 0.65
    s, c = math.sin, math.cos
    q_ok = np.array([s(ok / 2), 0, 0, c(ok / 2)]) if axis == "roll" else np.array([0, s(ok / 2), 0, c(ok / 2)])
    assert sup.step(t, sensors(t, DEFAULT, q_ok), Policy()).mode is Mode.POLICY
    q = np.array([s(angle / 2), 0, 0, c(angle / 2)]) if axis == "roll" else np.array([0, s(angle / 2), 0, c(angle / 2)])
    policy = Policy()
    cmd = sup.step(t + DT, sensors(t + DT, DEFAULT, q), policy)
    assert cmd.mode is Mode.DAMPING and policy.calls == 0
    assert sup.reason == f"base tilted: {axis} {angle:+.2f} rad beyond ±0.70 rad"


def test_non_finite_joint_state_holds_the_last_target_then_resumes():
    sup, t = running(SafetyConfig(stand_up_s=0.0, hold_timeout_s=0.5))
    last = sup.step(t, sensors(t, DEFAULT), Policy(0.4)).positions
    bad = DEFAULT.copy()
    bad[2] = math.nan
    policy = Policy(-0.4)
    held = sup.step(t + DT, sensors(t + DT, bad), policy)
    assert held.mode is Mode.HOLD and policy.calls == 0
    assert sup.reason == "non-finite joint_states position of ['FL_calf_joint']"
    np.testing.assert_array_equal(held.positions, last)
    np.testing.assert_allclose(held.kp, 35.0)  # holding, not limp
    resumed = sup.step(t + 2 * DT, sensors(t + 2 * DT, DEFAULT), policy)
    assert resumed.mode is Mode.POLICY and policy.calls == 1
    assert sup.counters["holds"] == 1


def test_a_hold_longer_than_the_timeout_becomes_damping():
    sup, t = running(SafetyConfig(stand_up_s=0.0, hold_timeout_s=0.5))

    def bad_imu(now: float) -> Sensors:
        s = sensors(now, DEFAULT)
        s.ang_vel_b = np.array([0.0, math.inf, 0.0])
        return s

    assert sup.step(t, bad_imu(t), Policy()).mode is Mode.HOLD
    assert sup.reason == "non-finite IMU angular velocity"
    assert sup.step(t + 0.5, bad_imu(t + 0.5), Policy()).mode is Mode.HOLD
    cmd = sup.step(t + 0.52, bad_imu(t + 0.52), Policy())
    assert cmd.mode is Mode.DAMPING and sup.reason.startswith("held for 0.52 s > hold_timeout_s 0.5 s")


def test_non_finite_observation_or_action_holds_and_names_it():
    sup, t = running()
    obs = np.zeros(45)
    obs[7] = math.nan  # in velocity_commands (offset 6, size 3)
    assert sup.step(t, sensors(t, DEFAULT), Policy(obs=obs)).mode is Mode.HOLD
    assert sup.reason == "non-finite observation (velocity_commands)"
    assert sup.applied_action is None
    action = np.zeros(12)
    action[11] = math.nan
    sup2, t2 = running()
    assert sup2.step(t2, sensors(t2, DEFAULT), Policy(action)).mode is Mode.HOLD
    assert sup2.reason == "non-finite action for ['RR_calf_joint']"


def test_deactivate_sends_damping_and_stops():
    sup, t = running(SafetyConfig(stand_up_s=0.0, damping_kd=2.0))
    cmd = sup.deactivate(t, sensors(t, CROUCH))
    assert cmd.mode is Mode.DAMPING and sup.mode is Mode.IDLE
    np.testing.assert_allclose(cmd.kp, 0.0)
    np.testing.assert_allclose(cmd.kd, 2.0)
    np.testing.assert_allclose(cmd.positions, CROUCH)
    with pytest.raises(RuntimeError, match="before activate"):
        sup.step(t, sensors(t), Policy())
    assert [e.new for e in sup.events][-1] is Mode.IDLE
