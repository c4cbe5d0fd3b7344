"""ControllerCore closed on SimRobot without ROS (sim-to-sim logic), and the forward command array layout."""

from __future__ import annotations

import numpy as np
import pytest
from policy_files import SHIPPED

from lm_reward_learning.deploy import ControllerCore, DeployedPolicy, JointCommand, Mode, PolicyMismatchError
from lm_reward_learning.deploy.commands import command_order, pack_forward, unpack_forward
from lm_reward_learning.deploy.limits import robot_joint_limits
from lm_reward_learning.deploy.safety import SafetyConfig
from lm_reward_learning.deploy.sim import SimRobot
from lm_reward_learning.robots import get_robot

SPEC = get_robot("go2")


def feed(core: ControllerCore, sim: SimRobot, now: float) -> None:
    """What the ROS node does with a joint state and an IMU message (driver order, by name)."""
    by_name = dict(zip(sim.joint_names, zip(sim.joint_pos, sim.joint_vel, strict=True), strict=True))
    names = list(sim.driver_joint_names)
    core.on_joint_state(now, names, [by_name[n][0] for n in names], [by_name[n][1] for n in names])
    imu = sim.imu()
    core.on_imu(now, imu.quat_xyzw, imu.ang_vel_b)


def test_policy_walks_through_the_controller_core():
    """Stand-up 0.5 s, then 4 s of policy at 0.8 m/s: the shipped policy walks (training: 0.78 m/s)."""
    policy = DeployedPolicy.load(SHIPPED)
    lo, hi = robot_joint_limits("go2", policy.facts.joint_names, 0.02)
    core = ControllerCore(
        policy, SafetyConfig(stand_up_s=0.5, joint_lower=tuple(lo), joint_upper=tuple(hi)), cmd_timeout_s=0.0
    )
    sim = SimRobot(SPEC)
    t = 0.0
    feed(core, sim, t)
    core.on_command(t, 0.8, 0.0, 0.0)
    core.activate(t, auto_policy=True)
    start = None
    for _ in range(int(4.5 / 0.02)):
        cmd = core.tick(t)
        sim.command(cmd.positions, cmd.kp, cmd.kd)
        sim.step(4)
        t += 0.02
        feed(core, sim, t)
        if start is None and core.mode is Mode.POLICY:
            start = (t, sim.base_pos_w[0])
    assert core.mode is Mode.POLICY and not sim.fallen()
    speed = (sim.base_pos_w[0] - start[1]) / (t - start[0])
    assert speed == pytest.approx(0.78, rel=0.2)
    d = core.diagnostics()
    assert d["mode"] == "policy" and d["faults"] == 0 and d["holds"] == 0 and d["rate_limited"] == 0
    assert d["ticks"] == 225 and d["inference_p50_us"] > 0


def test_stale_command_means_stand_still_and_runtime_joint_mismatch_holds():
    policy = DeployedPolicy.load(SHIPPED)
    core = ControllerCore(policy, SafetyConfig(stand_up_s=0.0), cmd_timeout_s=0.5)
    sim = SimRobot(SPEC)
    feed(core, sim, 0.0)
    core.on_command(0.0, 0.8, 0.0, 0.0)
    core.activate(0.0, auto_policy=True)
    core.tick(0.0)
    core.tick(0.02)
    np.testing.assert_allclose(core.command, [0.8, 0.0, 0.0])
    feed(core, sim, 0.6)
    core.tick(0.6)  # the command arrived 0.6 s ago > 0.5 s: stop
    np.testing.assert_allclose(core.command, 0.0)
    assert core.last_obs[6:9].tolist() == [0.0, 0.0, 0.0]
    # A joint state that suddenly lacks a joint: NaNs, so the safety layer holds and names the joint.
    names = [n for n in sim.driver_joint_names if n != "RR_hip_joint"]
    core.on_joint_state(0.62, names, [0.0] * 11, [0.0] * 11)
    core.on_imu(0.62, [0, 0, 0, 1], [0, 0, 0])
    assert core.tick(0.62).mode is Mode.HOLD
    assert "RR_hip_joint" in core.supervisor.reason
    with pytest.raises(PolicyMismatchError, match="RR_hip_joint"):
        core.joint_map(names)


def test_forward_array_layout_maps_joints_by_name():
    names = ("a", "b", "c")
    order = command_order(names, ["c", "a", "b"])
    cmd = JointCommand(
        np.array([1.0, 2.0, 3.0]), np.zeros(3), np.array([10.0, 20.0, 30.0]), np.array([0.1, 0.2, 0.3]), Mode.POLICY
    )
    assert pack_forward(cmd, order, "position") == [3.0, 1.0, 2.0]
    packed = pack_forward(cmd, order, "position_kp_kd")
    assert packed == [3.0, 1.0, 2.0, 30.0, 10.0, 20.0, 0.3, 0.1, 0.2]
    pos, kp, kd = unpack_forward(packed, order)
    np.testing.assert_array_equal(pos, cmd.positions)
    np.testing.assert_array_equal(kp, cmd.kp)
    np.testing.assert_array_equal(kd, cmd.kd)
    assert unpack_forward([3.0, 1.0, 2.0], order)[1] is None
    np.testing.assert_array_equal(command_order(names, []), [0, 1, 2])
    with pytest.raises(PolicyMismatchError, match=r"missing \['c'\], not in the policy \['d'\]"):
        command_order(names, ["a", "b", "d"])
    with pytest.raises(ValueError, match=r"needs 3 .* or 9"):
        unpack_forward([1.0] * 4, order)
    with pytest.raises(ValueError, match="unknown forward layout"):
        pack_forward(cmd, order, "effort")


def test_joint_limits_come_from_the_robot_model():
    lo, hi = robot_joint_limits("go2", ("FL_hip_joint", "FL_calf_joint"), margin=0.05)
    # Menagerie Go2: hip +-1.0472 rad, calf [-2.7227, -0.83776] rad.
    np.testing.assert_allclose(lo, [-1.0472 + 0.05, -2.7227 + 0.05])
    np.testing.assert_allclose(hi, [1.0472 - 0.05, -0.83776 - 0.05])
