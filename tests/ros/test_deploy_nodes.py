"""``policy_controller`` as a real process with real rclpy, fed faults by a fake robot (``tests/deploy/ros_probe.py``).

One controller process serves the whole module (``faults`` fixture): it is started with a policy whose
ONNX takes 44 observations while its ``deploy.yaml`` says 45, so the first configure must fail; the
probe then sets the right policy, publishes joint states with a wrong joint name (configure must fail
again), then the right names; activates the controller and injects one fault at a time: stale IMU,
a NaN joint position, a tilted base, and deactivation. Each test below checks one rule.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ros_harness import NAMESPACE, REPO, VENV_PYTHON, start_node

sys.path.insert(0, str(REPO / "tests" / "deploy"))
from policy_files import SHIPPED, shipped_facts, write_policy

pytestmark = pytest.mark.ros

PROBE = REPO / "tests" / "deploy" / "ros_probe.py"
DEFAULT = np.asarray(shipped_facts()["default_joint_pos"])
CROUCH = DEFAULT + np.tile([0.0, 0.3, -0.3], 4)  # the probe's fake robot pose (ros_probe.CROUCH)


def controller_argv(*extra: str) -> list[str]:
    """``policy_controller`` with the shipped parameter file, in this run's namespace."""
    return [
        str(VENV_PYTHON),
        "-m",
        "lm_reward_learning.ros.policy_controller",
        "--ros-args",
        "-r",
        f"__ns:={NAMESPACE}",
        "--params-file",
        str(REPO / "config" / "ros" / "policy_controller.yaml"),
        *extra,
    ]


def run_probe(env: dict[str, str], cwd: Path, *args: str, timeout: float) -> dict[str, Any]:
    """Run ``ros_probe.py ARGS`` with the ROS venv; return its JSON (AssertionError with its output on failure)."""
    out = cwd / f"probe_{time.monotonic_ns()}.json"
    cmd = [str(VENV_PYTHON), str(PROBE), *args, "--out", str(out), "--namespace", NAMESPACE]
    try:
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"probe {args[0]} timed out after {timeout} s:\n{exc.stderr}") from exc
    assert proc.returncode == 0, (
        f"probe {args[0]} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}"
    )
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def faults(ros_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The probe's fault sequence against one controller process: ``(probe result, controller log)``."""
    cwd = tmp_path_factory.mktemp("deploy_faults")
    bad = write_policy(cwd / "bad_obs_policy", obs_size=44)
    argv = controller_argv(
        "-p", f"policy:={bad}", "-p", "stand_up_s:=0.3", "-p", "start_mode:=policy",
        "-p", "joint_states_timeout_s:=5.0", "-p", "diagnostics_period_s:=0.3", "-p", "cmd_vel_timeout_s:=0.0",
        # The fault sequence must not be cut short by a stall of this shared machine (281 ms seen with the 100 ms
        # default); the watchdog's timing at its default is measured below (test_the_watchdog_damps...).
        "-p", "sensor_timeout_s:=0.5",
    )  # fmt: skip
    node = start_node(ros_env, cwd, argv, "policy_controller")
    try:
        node.wait_for("ready (unconfigured)", timeout=90)
        out = run_probe(ros_env, cwd, "faults", "--good-policy", str(SHIPPED), timeout=240)
    finally:
        code = node.stop()
    log = node.log_text()
    assert code == 0, f"controller exited with {code}:\n{log[-3000:]}"
    return out, log


def test_wrong_observation_size_refuses_to_configure(faults):
    out, log = faults
    assert out["configure_bad_obs"] is False
    assert "configure failed: observation size mismatch" in log
    assert "observation.size = 45" in log and "takes 44 inputs" in log


def test_mismatched_joint_names_refuse_to_configure(faults):
    out, log = faults
    assert out["configure_bad_names"] is False
    assert "configure failed: joint name mismatch: the policy's joints ['FL_calf_joint'] are not in joint_states" in log
    assert "FL_knee_joint" in log  # what the robot has instead
    assert out["configure"] is True and out["activate"] is True


def test_stand_up_ramps_from_the_measured_pose_to_the_default(faults):
    soft = faults[0]["stand_up"]
    np.testing.assert_allclose(soft["first"]["positions"], CROUCH, atol=0.02)  # from where the robot stands
    np.testing.assert_allclose(soft["last"]["positions"], DEFAULT, atol=1e-6)
    np.testing.assert_allclose(soft["first"]["kp"], 35.0)
    np.testing.assert_allclose(soft["first"]["kd"], 0.5)
    assert soft["n"] >= 10  # 0.3 s at 50 Hz = 15 ticks
    assert np.all(np.asarray(faults[0]["running_command"]["kp"]) == 35.0)


def test_stale_imu_switches_to_damping(faults):
    stale = faults[0]["stale_imu"]
    assert stale["state"].startswith("damping: IMU stale: last message")
    assert "> sensor_timeout_s 500 ms" in stale["state"]
    assert stale["latency_s"] < 1.0  # 500 ms timeout + the watchdog's 5 ms period + delivery, on a loaded machine
    np.testing.assert_allclose(stale["command"]["kp"], 0.0)
    np.testing.assert_allclose(stale["command"]["kd"], 1.0)  # damping_kd
    assert stale["still_damping"]  # latched: the IMU coming back does not restart the policy
    assert faults[0]["deactivate_1"] and faults[0]["activate_2"]


def test_nan_joint_state_holds_and_reports_then_resumes(faults):
    nan = faults[0]["nan_joint"]
    assert nan["state"] == "hold: non-finite joint_states position of ['FL_calf_joint']"
    assert nan["held_positions_constant"]
    np.testing.assert_allclose(nan["held_kp"], 35.0)
    assert nan["resumed"]


def test_tilted_base_stops_the_policy(faults):
    tilt = faults[0]["tilt"]
    assert tilt["state"] == "damping: base tilted: roll +1.00 rad beyond ±0.70 rad"
    np.testing.assert_allclose(tilt["command"]["kp"], 0.0)


def test_deactivate_sends_damping(faults):
    out = faults[0]
    assert out["deactivate_2"] and out["activate_3"] and out["deactivate_3"]
    last = out["deactivate"]["last"]
    assert out["deactivate"]["commands_after"] >= 1 and last is not None
    np.testing.assert_allclose(last["kp"], 0.0)
    np.testing.assert_allclose(last["kd"], 1.0)
    assert out["states"][-1] == "inactive: deactivated: damping command sent"


def test_a_late_subscriber_gets_the_recent_safety_transitions(faults):
    """``~/safety_state`` is transient local with a history of 20: a subscriber that joins after the whole
    fault sequence receives its last 20 transitions in order, the current state last."""
    out = faults[0]
    n = min(20, len(out["states"]))
    assert n >= 15 and out["late_states"] == out["states"][-n:]  # not only the current state
    assert out["late_states"][-1] == "inactive: deactivated: damping command sent"


def test_diagnostics_report_timing_and_safety(faults):
    d = faults[0]["diagnostics"]
    for key in ("jitter_p50_ms", "jitter_p99_ms", "inference_p50_us", "inference_p99_us", "period_p99_ms"):
        assert float(d[key]) >= 0.0, key
    assert float(d["control_period_ms"]) == pytest.approx(20.0)
    assert d["mode"] in ("policy", "damping", "stand_up", "hold", "idle", "passive") and d["e_stop"] == "released"
    assert float(d["faults"]) == 2 and float(d["holds"]) == 1  # stale IMU and tilt; the NaN joint state


def test_the_watchdog_damps_within_its_timeout_of_the_last_message(ros_env, tmp_path):
    """20 stops of the robot: damping 100 ms (sensor_timeout_s) + at most a few ms after its last message.

    The control tick runs at 10 Hz here, so a watchdog checked only on control ticks would show up as
    100-200 ms; the watchdog's own 5 ms timer (``watchdog_period_s``) does not depend on the tick.
    """
    argv = controller_argv(
        "-p", f"policy:={SHIPPED}", "-p", "stand_up_s:=0.0", "-p", "start_mode:=policy", "-p", "control_rate_hz:=10.0"
    )  # fmt: skip
    node = start_node(ros_env, tmp_path, argv, "policy_controller")
    try:
        node.wait_for("ready (unconfigured)", timeout=90)
        out = run_probe(ros_env, tmp_path, "watchdog", "--trials", "20", timeout=240)
    finally:
        code = node.stop()
    assert code == 0, node.log_text()[-3000:]
    ms = np.sort(np.asarray(out["latencies_s"]) * 1e3)
    print(f"watchdog latency (ms) over {ms.size} stops: min {ms[0]:.1f} p50 {np.median(ms):.1f} "
          f"p90 {np.percentile(ms, 90):.1f} max {ms[-1]:.1f}")  # fmt: skip
    assert ms.size == 20 and ms[0] >= 99.0, ms  # never before the timeout
    assert np.median(ms) <= 110.0 and np.percentile(ms, 90) <= 120.0, ms
    assert sum("stale: last message" in s for s in out["states"]) == 20


def test_the_simulator_resets_to_its_initial_pose_with_its_clock_running_on(ros_env, tmp_path):
    """``mujoco_sim_node``'s ``~/reset`` (std_srvs/Trigger): the sunk robot stands in the default pose again."""
    from lm_reward_learning.robots import get_robot

    argv = [
        str(VENV_PYTHON), "-m", "lm_reward_learning.ros.mujoco_sim_node", "--ros-args", "-r", f"__ns:={NAMESPACE}",
        "--params-file", str(REPO / "config" / "ros" / "mujoco_sim_node.yaml"), "-p", "mode:=lockstep",
    ]  # fmt: skip
    node = start_node(ros_env, tmp_path, argv, "mujoco_sim_node")
    try:
        node.wait_for("ready: go2 in MuJoCo (lockstep", timeout=90)
        out = run_probe(ros_env, tmp_path, "reset", timeout=180)
    finally:
        code = node.stop()
    assert code == 0, node.log_text()[-3000:]
    spec = get_robot("go2")
    assert out["z_before"] < out["z_start"] - 0.05, out  # the robot had sunk
    assert out["success"] and out["message"].startswith("reset to the initial pose at simulated time"), out
    assert out["z_after"] == pytest.approx(spec.init_base_height, abs=1e-6)
    default = dict(zip(spec.joint_names, spec.per_joint(spec.default_joint_pos), strict=True))
    assert out["joint_pos"] == pytest.approx(default, abs=1e-6)
    assert out["t_after"] >= out["t_before"]  # /clock and the stamps do not jump back
    # RViz's RobotModel: the URDF (latched) and the TF of every one of its links (/tf) and foot frames (/tf_static).
    urdf = (REPO / "config" / "ros" / "urdf" / "go2.urdf").read_text()
    assert out["robot_description"] == urdf
    links = {e.get("name") for e in ET.fromstring(urdf).iter("link")}
    framed = {child for _, child in out["tf"]} | {child for _, child in out["tf_static"]} | {"base"}
    assert links == framed, links ^ framed
    assert (
        ["FL_calf", "FL_foot"] in out["tf_static"] and ["base", "FL_hip"] in out["tf"] and ["odom", "base"] in out["tf"]
    )
