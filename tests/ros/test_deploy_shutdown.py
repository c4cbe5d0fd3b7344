"""Every deployment node exits cleanly on SIGINT (Ctrl-C) in every state, sending damping if it was commanding.

``policy_controller`` is held by the probe (``tests/deploy/ros_probe.py hold_state``, with its fake robot still
publishing) in each lifecycle state and each mode, then gets SIGINT: it must exit with code 0 within 5 s, and
from an active state its last joint command must be damping (kp 0). ``mujoco_sim_node`` (both pacings) and
``unitree_go2_bridge`` (idle, and while commanded) and ``unitree_g1_bridge`` (idle) get the same signal.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from ros_harness import NAMESPACE, REPO, VENV_PYTHON, missing_unitree, node_argv, start_node
from test_deploy_nodes import PROBE, SHIPPED, controller_argv

sys.path.insert(0, str(REPO / "tests" / "deploy"))

pytestmark = pytest.mark.ros

STATES = ["unconfigured", "inactive", "passive", "stand_up", "policy", "sit_down", "hold", "damping"]


def _sigint(node, timeout: float = 15.0) -> tuple[int | None, float]:
    t0 = time.monotonic()
    node.proc.send_signal(signal.SIGINT)
    try:
        code = node.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        code = None
        node.proc.kill()
        node.proc.wait(10)
    return code, time.monotonic() - t0


@pytest.mark.parametrize("state", STATES)
def test_policy_controller_exits_on_sigint_in_every_state(ros_env, tmp_path, state):
    ramp = "60.0" if state == "stand_up" else "0.2"  # a long ramp holds stand_up (sit_down_s is always long)
    argv = controller_argv(
        "-p", f"policy:={SHIPPED}", "-p", f"stand_up_s:={ramp}", "-p", "sit_down_s:=60.0", "-p", "hold_timeout_s:=60.0",
        "-p", "sensor_timeout_s:=0.5", "-p", "heartbeat_timeout_s:=1.0",
    )  # fmt: skip
    node = start_node(ros_env, tmp_path, argv, "policy_controller")
    out = tmp_path / "hold.json"
    probe_cmd = [str(VENV_PYTHON), str(PROBE), "hold_state", "--state", state, "--out", str(out)]
    probe_cmd += ["--namespace", NAMESPACE, "--timeout", "60"]
    probe = None
    try:
        node.wait_for("ready (unconfigured)", timeout=90)
        probe = subprocess.Popen(probe_cmd, env=ros_env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 150
        while not (tmp_path / "hold.json.ready").exists():
            assert probe.poll() is None, f"probe failed: {probe.stderr.read()[-3000:]}\n{node.log_text()[-2000:]}"
            assert time.monotonic() < deadline, "the probe did not reach the state"
            time.sleep(0.1)
        ready = (tmp_path / "hold.json.ready").read_text()
        code, elapsed = _sigint(node)
        time.sleep(0.5)  # the last command reaches the probe
    finally:
        if probe is not None:
            probe.send_signal(signal.SIGINT)
            try:
                probe.wait(30)
            except subprocess.TimeoutExpired:
                probe.kill()
                probe.wait(10)
        node.stop()
    assert ready.startswith(state), ready
    assert code == 0 and elapsed < 5.0, f"exit code {code} after {elapsed:.1f} s:\n{node.log_text()[-3000:]}"
    report = json.loads(out.read_text())
    last = report["last_command"]
    if state in ("unconfigured", "inactive"):
        assert last is None, report  # nothing was commanding: nothing is sent on exit
    else:
        assert last is not None and not np.any(last["kp"]), report  # the last word is damping
        np.testing.assert_allclose(last["kd"], 1.0)
    print(f"policy_controller in {state}: exit 0 after {elapsed:.2f} s, last command {'damping' if last else 'none'}")


@pytest.mark.parametrize("mode", ["realtime", "lockstep"])
def test_mujoco_sim_node_exits_on_sigint(ros_env, tmp_path, mode):
    node = start_node(ros_env, tmp_path, node_argv("mujoco_sim_node", "-p", f"mode:={mode}"), "mujoco_sim_node")
    try:
        node.wait_for(f"ready: go2 in MuJoCo ({mode}", timeout=90)
        time.sleep(1.0)
        code, elapsed = _sigint(node)
    finally:
        node.stop()
    assert code == 0 and elapsed < 5.0, node.log_text()[-2000:]


@pytest.mark.parametrize(("robot", "commanding"), [("go2", False), ("go2", True), ("g1", False)])
def test_unitree_bridges_exit_on_sigint(ros_env, tmp_path, robot, commanding):
    """Idle (nothing commanded yet) and, for the Go2, commanding (it sends damping on its way out; the G1 bridge
    sends nothing before it has the robot's LowState, which this test does not publish)."""
    reason = missing_unitree(ros_env)
    if reason:
        pytest.skip(reason)
    name = f"unitree_{robot}_bridge"
    argv = node_argv(name, "-p", "lowcmd_topic:=lowcmd", "-p", "lowstate_topic:=lowstate")
    node = start_node(ros_env, tmp_path, argv, name)
    pub = None
    try:
        node.wait_for("ready: joint_commands ->", timeout=90)
        if commanding:
            code = (
                "import time, rclpy; from std_msgs.msg import Float64MultiArray; rclpy.init(); "
                f"n = rclpy.create_node('cmd', namespace='{NAMESPACE}'); "
                "p = n.create_publisher(Float64MultiArray, 'joint_commands', 10)\n"
                "while p.get_subscription_count() == 0:\n    time.sleep(0.05)\n"
                "print('matched', flush=True)\n"
                "while True:\n    p.publish(Float64MultiArray(data=[0.0] * 12 + [35.0] * 12 + [0.5] * 12)); "
                "time.sleep(0.02)"
            )
            pub = subprocess.Popen(
                [str(VENV_PYTHON), "-c", code],
                env=ros_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            ready, _, _ = select.select([pub.stdout], [], [], 60.0)
            assert ready and pub.stdout.readline().strip() == "matched"  # the bridge is commanded from now on
            time.sleep(1.0)
        code, elapsed = _sigint(node)
    finally:
        if pub is not None:
            pub.kill()
            pub.wait(10)
        node.stop()
    assert code == 0 and elapsed < 5.0, node.log_text()[-2000:]
    assert ("exit: damping command sent" in node.log_text()) == commanding, node.log_text()[-2000:]
