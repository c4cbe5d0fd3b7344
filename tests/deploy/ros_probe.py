"""The ROS side of the deployment tests: run with ``.venv-ros/bin/python`` (real rclpy), never imported by pytest.

``tests/ros/test_deploy_*.py`` start ``policy_controller`` (and ``mujoco_sim_node``) as processes and
this script as their counterpart, then read the JSON it writes to ``--out``:

* ``faults``: a fake robot (joint states and IMU at 200 Hz, standing still in a crouch) and a lifecycle
  client. It configures the controller with a policy of the wrong observation size, then with wrong
  joint names (both must fail), then properly; activates it and feeds one fault at a time (stale IMU,
  NaN joint state, tilted base), recording the safety states and joint commands it sees.
* ``watchdog``: a fake robot that stops publishing (joint states and IMU) ``--trials`` times while
  the policy runs; records the time from its last message to the first damping command.
* ``reset``: lets ``mujoco_sim_node``'s robot sink (zero-stiffness commands), then calls its ``~/reset``.
* ``params``: reads parameters of any nodes (``--read node:name,name``).
* ``startup``: reads both nodes' parameters through their parameter services, then configures,
  activates (until the policy runs) and deactivates the controller.
* ``walk``: a lifecycle client and a ``cmd_vel`` publisher for ``mujoco_sim_node`` + ``policy_controller``:
  configures and activates the controller, waits for the policy to run, then records the simulator's
  odometry over ``--duration`` seconds of simulated time.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Empty, Float64MultiArray, String
from std_srvs.srv import SetBool, Trigger

from lm_reward_learning.deploy.modes import Mode

GO2_JOINTS = [f"{leg}_{part}_joint" for leg in ("FL", "FR", "RL", "RR") for part in ("hip", "thigh", "calf")]
GO2_DEFAULT = [0.1, 0.8, -1.5, -0.1, 0.8, -1.5, 0.1, 1.0, -1.5, -0.1, 1.0, -1.5]
CROUCH = [q + d for q, d in zip(GO2_DEFAULT, [0.0, 0.3, -0.3] * 4, strict=True)]
"""The fake robot's pose: thighs +0.3 rad, calves -0.3 rad from the default (a soft start must ramp from here)."""


class Probe:
    """An rclpy node spinning in a background thread, with helpers for the test sequences."""

    def __init__(self, namespace: str, controller: str) -> None:
        rclpy.init()
        self.node = Node("lmrl_deploy_probe", namespace=namespace)
        self.controller = controller
        self.t0 = time.monotonic()
        self.states: list[tuple[float, str]] = []
        self.commands: list[tuple[float, list[float]]] = []
        self.diagnostics: dict[str, str] = {}
        self.diagnostics_at = -1.0
        """When the last ``/diagnostics`` message of the controller arrived, s (probe clock)."""
        self.lock = threading.Lock()
        # depth 50: every transition of a burst (a depth of 1 keeps only the newest one not yet taken)
        latched = QoSProfile(
            depth=50, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        self.node.create_subscription(String, f"{controller}/safety_state", self._on_state, latched)
        self.node.create_subscription(Float64MultiArray, "joint_commands", self._on_command, 10)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.change = self.node.create_client(ChangeState, f"{controller}/change_state")
        self._clients: dict[str, Any] = {}
        self.heartbeat_on = True
        """The operator's heartbeat (``heartbeat``, 20 Hz) while True."""
        self.last_heartbeat = 0.0
        """When the last heartbeat went out, s (probe clock)."""
        self.heartbeat_pub = self.node.create_publisher(Empty, "heartbeat", 10)
        self.node.create_timer(0.05, self._heartbeat)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _heartbeat(self) -> None:
        if self.heartbeat_on:
            self.heartbeat_pub.publish(Empty())
            self.last_heartbeat = self.now()

    def _spin(self) -> None:
        while not self._stop.is_set():
            self.executor.spin_once(timeout_sec=0.02)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _on_state(self, msg: String) -> None:
        with self.lock:
            self.states.append((self.now(), msg.data))

    def _on_command(self, msg: Float64MultiArray) -> None:
        with self.lock:
            self.commands.append((self.now(), list(msg.data)))

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == f"{self.node.get_namespace()}/{self.controller}: control loop":
                with self.lock:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}
                    self.diagnostics["_message"] = status.message
                    self.diagnostics_at = self.now()

    def wait(self, cond: Callable[[], bool], timeout: float, what: str) -> float:
        """Wait until ``cond()``; return the time it became true (probe clock). Raises SystemExit on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                ok = cond()
            if ok:
                return self.now()
            time.sleep(0.005)
        raise SystemExit(f"timed out after {timeout} s waiting for {what}; states: {self.states[-5:]}")

    def state_since(self, t: float, prefix: str) -> tuple[float, str] | None:
        return next(((ts, s) for ts, s in self.states if ts >= t and s.startswith(prefix)), None)

    def transition(self, transition_id: int, timeout: float = 60.0) -> bool:
        if not self.change.wait_for_service(timeout_sec=timeout):
            raise SystemExit(f"{self.controller}/change_state did not appear within {timeout} s")
        fut = self.change.call_async(ChangeState.Request(transition=Transition(id=transition_id)))
        self.wait(fut.done, timeout, f"transition {transition_id}")
        return bool(fut.result().success)

    def _client(self, srv_type: Any, name: str, timeout: float) -> Any:
        """A client of ``<controller>/<name>``, made once and kept: a new client must first be discovered by the
        server (tens of ms), which would count in the latencies measured with it."""
        client = self._clients.get(name)
        if client is None:
            client = self._clients[name] = self.node.create_client(srv_type, f"{self.controller}/{name}")
        if not client.wait_for_service(timeout_sec=timeout):
            raise SystemExit(f"{self.controller}/{name} did not appear within {timeout} s")
        return client

    def ask(self, mode: str, timeout: float = 30.0) -> tuple[bool, str]:
        """Call ``<controller>/<mode>`` (``std_srvs/Trigger``); return ``(success, message)``."""
        client = self._client(Trigger, mode, timeout)
        fut = client.call_async(Trigger.Request())
        self.wait(fut.done, timeout, f"{mode} service")
        return bool(fut.result().success), fut.result().message

    def e_stop(self, engaged: bool, timeout: float = 30.0) -> tuple[bool, str]:
        """Call ``<controller>/e_stop`` (``std_srvs/SetBool``)."""
        client = self._client(SetBool, "e_stop", timeout)
        fut = client.call_async(SetBool.Request(data=engaged))
        self.wait(fut.done, timeout, "e_stop service")
        return bool(fut.result().success), fut.result().message

    def set_parameters(self, **values: Any) -> None:
        client = AsyncParameterClient(self.node, self.controller)
        if not client.wait_for_services(timeout_sec=30.0):
            raise SystemExit("parameter services of the controller did not appear")
        fut = client.set_parameters([Parameter(k, value=v) for k, v in values.items()])
        self.wait(fut.done, 30.0, "set_parameters")
        results = fut.result().results
        if not all(r.successful for r in results):
            raise SystemExit(f"set_parameters failed: {[r.reason for r in results]}")

    def close(self) -> None:
        """Stop the spin thread first (destroying entities under a spinning executor aborts the process)."""
        self._stop.set()
        self.thread.join(timeout=5.0)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown()


class FakeRobot:
    """Joint states and IMU at 200 Hz, with switches to inject faults."""

    def __init__(self, probe: Probe) -> None:
        self.node = probe.node
        self.names = list(GO2_JOINTS)
        self.position = list(CROUCH)
        self.quat_xyzw = [0.0, 0.0, 0.0, 1.0]
        self.imu_on = True
        self.on = True
        self.last_publish = 0.0
        """When the last joint state and IMU message went out, s (probe clock)."""
        self._probe = probe
        self.joint_pub = self.node.create_publisher(JointState, "joint_states", 10)
        self.imu_pub = self.node.create_publisher(Imu, "imu/data", 10)
        self.node.create_timer(0.005, self._publish)

    def _publish(self) -> None:
        if not self.on:
            return
        stamp = self.node.get_clock().now().to_msg()
        js = JointState(name=self.names, position=[float(x) for x in self.position], velocity=[0.0] * len(self.names))
        js.header.stamp = stamp
        self.joint_pub.publish(js)
        if self.imu_on:
            imu = Imu()
            imu.header.stamp = stamp
            o = imu.orientation
            o.x, o.y, o.z, o.w = self.quat_xyzw
            imu.linear_acceleration.z = 9.81
            self.imu_pub.publish(imu)
        self.last_publish = self._probe.now()


def _split(cmd: list[float]) -> dict[str, list[float]]:
    j = len(cmd) // 3
    return {"positions": cmd[:j], "kp": cmd[j : 2 * j], "kd": cmd[2 * j :]}


def cmd_faults(args: argparse.Namespace) -> dict[str, Any]:
    probe = Probe(args.namespace, args.controller)
    robot = FakeRobot(probe)
    out: dict[str, Any] = {}
    try:
        # 1. the controller was started with a policy of the wrong observation size
        out["configure_bad_obs"] = probe.transition(Transition.TRANSITION_CONFIGURE)
        # 2. the right policy, but the robot's joint names do not match
        probe.set_parameters(policy=args.good_policy)
        robot.names = [n.replace("FL_calf", "FL_knee") for n in GO2_JOINTS]
        out["configure_bad_names"] = probe.transition(Transition.TRANSITION_CONFIGURE)
        robot.names = list(GO2_JOINTS)
        # 3. configure and activate: soft start from the crouch to the default pose, then the policy
        out["configure"] = probe.transition(Transition.TRANSITION_CONFIGURE)
        t = probe.now()
        out["activate"] = probe.transition(Transition.TRANSITION_ACTIVATE)
        t_run = probe.wait(lambda: probe.state_since(t, "policy") is not None, 30.0, "policy")
        soft = [c for ts, c in probe.commands if t <= ts <= t_run and any(_split(c)["kp"])]  # not passive
        out["stand_up"] = {"first": _split(soft[0]), "last": _split(soft[-1]), "n": len(soft)}
        time.sleep(0.2)
        out["running_command"] = _split(probe.commands[-1][1])

        # 4. stale IMU: damping within the watchdog's timeout
        robot.imu_on = False
        t_fault = probe.now()
        t_damp = probe.wait(lambda: probe.state_since(t_fault, "damping") is not None, 10.0, "damping (stale IMU)")
        time.sleep(0.1)
        out["stale_imu"] = {
            "latency_s": t_damp - t_fault,
            "state": probe.state_since(t_fault, "damping")[1],
            "command": _split(probe.commands[-1][1]),
        }
        robot.imu_on = True
        time.sleep(0.1)
        t = probe.now()
        out["stale_imu"]["still_damping"] = probe.state_since(t_fault, "policy") is None
        out["deactivate_1"] = probe.transition(Transition.TRANSITION_DEACTIVATE)
        out["activate_2"] = probe.transition(Transition.TRANSITION_ACTIVATE)
        probe.wait(lambda: probe.state_since(t, "policy") is not None, 30.0, "policy again")
        time.sleep(0.1)

        # 5. NaN joint state: hold the last target and report it; policy again when finite
        robot.position = [math.nan if n == "FL_calf_joint" else q for n, q in zip(GO2_JOINTS, CROUCH, strict=True)]
        t_fault = probe.now()
        t_hold = probe.wait(lambda: probe.state_since(t_fault, "hold") is not None, 10.0, "hold (NaN joint state)")
        time.sleep(0.1)
        held = [_split(c) for ts, c in probe.commands if ts > t_hold + 0.03]
        robot.position = list(CROUCH)
        probe.wait(lambda: probe.state_since(t_hold, "policy") is not None, 10.0, "policy after NaN")
        out["nan_joint"] = {
            "state": probe.state_since(t_fault, "hold")[1],
            "held_positions_constant": bool(held) and all(h["positions"] == held[0]["positions"] for h in held),
            "held_kp": held[0]["kp"] if held else [],
            "resumed": True,
        }

        # 6. tilted base: roll beyond the limit stops the policy (damping)
        roll = 1.0
        robot.quat_xyzw = [math.sin(roll / 2), 0.0, 0.0, math.cos(roll / 2)]
        t_fault = probe.now()
        probe.wait(lambda: probe.state_since(t_fault, "damping") is not None, 10.0, "damping (tilt)")
        time.sleep(0.1)
        out["tilt"] = {"state": probe.state_since(t_fault, "damping")[1], "command": _split(probe.commands[-1][1])}
        robot.quat_xyzw = [0.0, 0.0, 0.0, 1.0]

        # 7. deactivate from running sends damping
        t = probe.now()
        out["deactivate_2"] = probe.transition(Transition.TRANSITION_DEACTIVATE)
        out["activate_3"] = probe.transition(Transition.TRANSITION_ACTIVATE)
        probe.wait(lambda: probe.state_since(t, "policy") is not None, 30.0, "running (3)")
        time.sleep(0.2)
        t = probe.now()
        out["deactivate_3"] = probe.transition(Transition.TRANSITION_DEACTIVATE)
        time.sleep(0.2)
        after = [c for ts, c in probe.commands if ts >= t]
        out["deactivate"] = {"commands_after": len(after), "last": _split(after[-1]) if after else None}
        out["states"] = [s for _, s in probe.states]
        # the controller's statistics restart at each activation: take a report sent after this last run
        probe.wait(lambda: probe.diagnostics_at > t, 10.0, "diagnostics after the last deactivation")
        out["diagnostics"] = probe.diagnostics

        # 8. a subscriber that joins now still gets the recent transitions (latched with history)
        late: list[str] = []
        latched = QoSProfile(
            depth=50, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        probe.node.create_subscription(
            String, f"{args.controller}/safety_state", lambda m: late.append(m.data), latched
        )
        probe.wait(lambda: len(late) >= min(20, len(out["states"])), 10.0, "the latched safety states")
        time.sleep(0.3)
        out["late_states"] = list(late)
    finally:
        probe.close()
    return out


def cmd_walk(args: argparse.Namespace) -> dict[str, Any]:
    probe = Probe(args.namespace, args.controller)
    odom: list[tuple[float, float, float, float, float, float, float, float]] = []

    def on_odom(msg: Odometry) -> None:
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        with probe.lock:
            odom.append((msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, p.x, p.y, p.z, q.x, q.y, q.z, q.w))

    probe.node.create_subscription(Odometry, "odom", on_odom, 50)
    cmd_pub = probe.node.create_publisher(Twist, "cmd_vel", 10)
    twist = Twist()
    twist.linear.x = args.speed
    if args.cmd:
        twist.linear.x, twist.linear.y, twist.angular.z = (float(x) for x in args.cmd.split(","))
    probe.node.create_timer(args.cmd_period, lambda: cmd_pub.publish(twist))
    out: dict[str, Any] = {}
    try:
        wall0 = time.monotonic()
        out["configure"] = probe.transition(Transition.TRANSITION_CONFIGURE, timeout=args.timeout)
        out["activate"] = probe.transition(Transition.TRANSITION_ACTIVATE, timeout=args.timeout)
        probe.wait(
            lambda: probe.state_since(0.0, "policy") is not None or probe.state_since(0.0, "damping") is not None,
            args.timeout,
            "policy",
        )
        if probe.state_since(0.0, "policy") is None:
            raise SystemExit(f"the controller went to damping before running: {probe.states}")
        probe.wait(lambda: bool(odom), args.timeout, "odometry")
        with probe.lock:
            start = odom[-1]
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            with probe.lock:
                last = odom[-1]
            if last[0] >= start[0] + args.duration:
                break
            time.sleep(0.05)
        wall = time.monotonic() - wall0
        with probe.lock:
            run = [o for o in odom if o[0] >= start[0]]
            end = run[-1]
        time.sleep(1.2)  # one more diagnostics message
        tilt = []
        for _, _, _, _, x, y, _, _ in run:
            # angle between the base's z axis and the world's: cos = 1 - 2 (x^2 + y^2)
            tilt.append(math.acos(max(-1.0, min(1.0, 1.0 - 2.0 * (x * x + y * y)))))
        out.update(
            sim_time_s=end[0] - start[0],
            wall_time_s=wall,
            speed_x=(end[1] - start[1]) / (end[0] - start[0]),
            speed_y=(end[2] - start[2]) / (end[0] - start[0]),
            min_height=min(o[3] for o in run),
            max_tilt_rad=max(tilt),
            samples=len(run),
            states=[s for _, s in probe.states],
            diagnostics=probe.diagnostics,
        )
        out["deactivate"] = probe.transition(Transition.TRANSITION_DEACTIVATE)
    finally:
        probe.close()
    return out


def cmd_session(args: argparse.Namespace) -> dict[str, Any]:
    """The operator's session on ``mujoco_sim_node``: passive -> stand_up -> policy at ``--speed`` for ``--duration`` s
    of simulated time -> sit_down -> passive, driven by ``--driver service`` (Trigger services, ``cmd_vel``) or
    ``--driver joystick`` (``joy`` in the unitree layout: button combinations, left stick for the speed)."""
    from sensor_msgs.msg import Joy

    from lm_reward_learning.config import config_dir
    from lm_reward_learning.deploy.joystick import load_layouts

    probe = Probe(args.namespace, args.controller)
    odom: list[tuple[float, float, float, float, float, float, float, float]] = []

    def on_odom(msg: Odometry) -> None:
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        with probe.lock:
            odom.append((msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, p.x, p.y, p.z, q.x, q.y, q.z, q.w))

    probe.node.create_subscription(Odometry, "odom", on_odom, 50)
    layout = load_layouts(config_dir() / "ros" / "joystick" / "layouts.yaml")["unitree"]
    pad = {"buttons": set(), "left_y": 0.0}
    speed = {"v": 0.0}
    joy_pub = probe.node.create_publisher(Joy, "joy", 10)
    cmd_pub = probe.node.create_publisher(Twist, "cmd_vel", 10)

    def publish_inputs() -> None:
        if args.driver == "joystick":
            buttons = [0] * 16
            for b in pad["buttons"]:
                buttons[layout.buttons[b]] = 1
            axes = [0.0] * 5
            axes[1] = pad["left_y"]
            joy_pub.publish(Joy(buttons=buttons, axes=axes))
        else:
            twist = Twist()
            twist.linear.x = speed["v"]
            cmd_pub.publish(twist)

    probe.node.create_timer(0.05, publish_inputs)  # 20 Hz: joy's autorepeat rate, a typical cmd_vel rate

    def ask(mode: str) -> tuple[bool, str]:
        if args.driver == "service":
            return probe.ask(mode)
        pad["buttons"] = set(layout.modes[Mode(mode)])
        time.sleep(0.3)
        pad["buttons"] = set()
        time.sleep(0.2)
        return True, "pressed"

    def sim_time() -> float:
        with probe.lock:
            return odom[-1][0] if odom else 0.0

    def wait_sim(seconds: float) -> None:
        t0 = sim_time()
        probe.wait(lambda: bool(odom) and odom[-1][0] >= t0 + seconds, args.timeout, f"{seconds} s of simulated time")

    out: dict[str, Any] = {"driver": args.driver}
    try:
        if not probe.transition(Transition.TRANSITION_CONFIGURE, timeout=args.timeout):
            raise SystemExit(f"configure failed: {probe.states[-1]}")
        out["configure"] = True
        out["activate"] = probe.transition(Transition.TRANSITION_ACTIVATE, timeout=args.timeout)
        probe.wait(lambda: probe.state_since(0.0, "passive") is not None, args.timeout, "passive")
        probe.wait(lambda: bool(odom), args.timeout, "odometry")
        wait_sim(1.5)  # limp: the robot sinks to the floor
        out["z_passive"] = odom[-1][3]
        t = probe.now()
        out["stand_up"] = ask("stand_up")
        probe.wait(lambda: probe.state_since(t, "stand_up") is not None, args.timeout, "stand_up")
        if args.driver == "service":
            out["policy_too_early"] = probe.ask("policy")  # refused while the ramp runs
        wait_sim(args.stand_up_s + 0.5)
        out["z_standing"] = odom[-1][3]
        t = probe.now()
        out["policy"] = ask("policy")
        probe.wait(lambda: probe.state_since(t, "policy") is not None, args.timeout, "policy")
        speed["v"], pad["left_y"] = args.speed, args.speed
        with probe.lock:
            start = odom[-1]
        wall0 = time.monotonic()
        wait_sim(args.duration)
        with probe.lock:
            run = [o for o in odom if o[0] >= start[0]]
        end = run[-1]
        out.update(
            sim_time_s=end[0] - start[0],
            wall_time_s=time.monotonic() - wall0,
            speed_x=(end[1] - start[1]) / (end[0] - start[0]),
            speed_y=(end[2] - start[2]) / (end[0] - start[0]),
            min_height=min(o[3] for o in run),
            max_tilt_rad=max(math.acos(max(-1.0, min(1.0, 1.0 - 2.0 * (o[4] ** 2 + o[5] ** 2)))) for o in run),
        )
        speed["v"], pad["left_y"] = 0.0, 0.0
        wait_sim(1.5)  # the command ramps down: stand still before sitting
        t = probe.now()
        out["sit_down"] = ask("sit_down")
        probe.wait(lambda: probe.state_since(t, "sit_down") is not None, args.timeout, "sit_down")
        probe.wait(lambda: probe.state_since(t, "passive") is not None, args.timeout, "passive after sitting")
        wait_sim(1.0)
        out["z_sat"] = odom[-1][3]
        time.sleep(1.2)  # one more diagnostics message
        out["states"] = [s for _, s in probe.states]
        out["diagnostics"] = probe.diagnostics
        out["deactivate"] = probe.transition(Transition.TRANSITION_DEACTIVATE)
    finally:
        probe.close()
    return out


def cmd_watchdog(args: argparse.Namespace) -> dict[str, Any]:
    """``--trials`` times: activate, let the policy run, stop the fake robot (both topics) at a random phase
    of the control tick, and time the first damping command (kp 0) after the last message went out."""
    probe = Probe(args.namespace, args.controller)
    robot = FakeRobot(probe)
    rng = np.random.default_rng(0)
    latencies = []
    try:
        if not probe.transition(Transition.TRANSITION_CONFIGURE, timeout=args.timeout):
            raise SystemExit("configure failed")
        for _ in range(args.trials):
            t = probe.now()
            if not probe.transition(Transition.TRANSITION_ACTIVATE):
                raise SystemExit("activate failed")
            probe.wait(lambda t=t: probe.state_since(t, "policy") is not None, 30.0, "policy")
            time.sleep(rng.uniform(0.1, 0.2))
            robot.on = False
            time.sleep(0.02)  # the publishing timer has seen the switch
            t_last = robot.last_publish

            def damping(t_last: float = t_last) -> bool:
                return any(ts > t_last and not any(_split(c)["kp"]) for ts, c in probe.commands)

            probe.wait(damping, 10.0, "a damping command after the robot stopped")
            with probe.lock:
                t_damp = next(ts for ts, c in probe.commands if ts > t_last and not any(_split(c)["kp"]))
            latencies.append(t_damp - t_last)
            robot.on = True
            time.sleep(0.05)
            if not probe.transition(Transition.TRANSITION_DEACTIVATE):
                raise SystemExit("deactivate failed")
        states = [s for _, s in probe.states]
    finally:
        probe.close()
    return {"latencies_s": latencies, "states": states}


def cmd_estop(args: argparse.Namespace) -> dict[str, Any]:
    """``--trials`` times each, with the policy running on the fake robot: call ``~/e_stop`` (true) and time the first
    damping command (kp 0) after the call; stop the heartbeat and time the first damping command after the heartbeat
    timed out (last heartbeat + ``--heartbeat-timeout``). Between trials: release, passive, stand_up, policy. A trial
    whose damping had another cause (a stall of this loaded machine) is repeated and counted."""
    probe = Probe(args.namespace, args.controller)
    FakeRobot(probe)
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {"e_stop_s": [], "heartbeat_s": [], "other_faults": []}

    def damping_after(t0: float) -> float | None:
        return next((ts for ts, c in probe.commands if ts > t0 and not any(_split(c)["kp"])), None)

    def to_policy() -> None:
        for mode in ("passive", "stand_up", "policy"):
            ok, why = probe.ask(mode)
            if not ok:
                raise SystemExit(f"{mode} refused: {why}")

    try:
        if not probe.transition(Transition.TRANSITION_CONFIGURE, timeout=args.timeout):
            raise SystemExit("configure failed")
        if not probe.transition(Transition.TRANSITION_ACTIVATE):
            raise SystemExit("activate failed")
        probe.wait(lambda: probe.state_since(0.0, "policy") is not None, 30.0, "policy")
        for kind in ("e_stop", "heartbeat"):
            done = 0
            while done < args.trials:
                time.sleep(rng.uniform(0.05, 0.15))  # a random phase of the control tick
                t_state = probe.now()
                if kind == "e_stop":
                    t0 = t_from = probe.now()
                    probe.e_stop(True)
                else:
                    probe.heartbeat_on = False
                    time.sleep(0.06)
                    t_from = probe.last_heartbeat  # damping before the timeout would show as a negative latency
                    t0 = t_from + args.heartbeat_timeout
                probe.wait(lambda t=t_from: damping_after(t) is not None, 10.0, f"damping ({kind})")
                probe.wait(lambda t=t_state: probe.state_since(t, "damping") is not None, 5.0, "the damping state")
                with probe.lock:
                    t_damp = damping_after(t_from)
                state = probe.state_since(t_state, "damping")[1]
                expected = "e-stop engaged" if kind == "e_stop" else "operator heartbeat lost"
                if kind == "e_stop":
                    probe.e_stop(False)
                probe.heartbeat_on = True
                time.sleep(0.1)
                to_policy()
                if expected not in state:
                    out["other_faults"].append(state)
                    if len(out["other_faults"]) > args.trials:
                        raise SystemExit(f"too many other faults: {out['other_faults'][-5:]}")
                    continue
                out[f"{kind}_s"].append(t_damp - t0)
                done += 1
        out["states"] = [s for _, s in probe.states][-10:]
        out["deactivate"] = probe.transition(Transition.TRANSITION_DEACTIVATE)
    finally:
        probe.close()
    return out


def cmd_bridge(args: argparse.Namespace) -> dict[str, Any]:
    """The controller's side of ``unitree_<robot>_bridge`` + the fake robot: read the bridge's joint states, IMU, foot
    forces (Go2) and joy; command every joint at the default pose with ``--joint`` 0.3 rad lower (the robot's joint
    order, kp 35, kd 0.5) and read the joints back; send one LowCmd with a wrong CRC straight to the fake (it must be
    dropped); stop commanding (the bridge must fall back to damping on its own)."""
    import importlib

    from sensor_msgs.msg import Joy
    from std_msgs.msg import Float32MultiArray

    from lm_reward_learning.deploy.unitree import UNITREE_ROBOTS
    from lm_reward_learning.robots import get_robot

    robot = UNITREE_ROBOTS[args.robot]
    LowCmd = importlib.import_module(f"{robot.package}.msg").LowCmd  # noqa: N806
    spec = get_robot(args.robot)
    names = list(spec.joint_names)
    probe = Probe(args.namespace, args.controller)
    seen: dict[str, Any] = {}

    def keep(key: str) -> Callable[[Any], None]:
        def on(msg: Any) -> None:
            with probe.lock:
                seen[key] = msg

        return on

    probe.node.create_subscription(JointState, "joint_states", keep("joints"), 10)
    probe.node.create_subscription(Imu, "imu/data", keep("imu"), 10)
    probe.node.create_subscription(Float32MultiArray, "foot_force", keep("feet"), 10)
    probe.node.create_subscription(Joy, "joy", keep("joy"), 10)
    cmd_pub = probe.node.create_publisher(Float64MultiArray, "joint_commands", 10)
    bad_pub = probe.node.create_publisher(LowCmd, "lowcmd", 10)
    target = spec.per_joint(spec.default_joint_pos)
    target[names.index(args.joint)] -= 0.3
    n = len(names)
    commanding = {"on": False}
    probe.node.create_timer(
        0.02, lambda: commanding["on"] and cmd_pub.publish(Float64MultiArray(data=target + [35.0] * n + [0.5] * n))
    )
    wanted = {"joints", "imu", "joy"} | ({"feet"} if robot.feet else set())
    out: dict[str, Any] = {}

    def joints() -> dict[str, float]:
        with probe.lock:
            m = seen["joints"]
            return dict(zip(m.name, m.position, strict=True))

    try:
        probe.wait(lambda: wanted <= set(seen), args.timeout, "the bridge's state topics")
        out["before"] = joints()
        imu, joy = seen["imu"], seen["joy"]
        o = imu.orientation
        out["imu_xyzw"] = [o.x, o.y, o.z, o.w]
        out["imu_acc"] = [imu.linear_acceleration.x, imu.linear_acceleration.y, imu.linear_acceleration.z]
        if robot.feet:
            out["feet"] = list(seen["feet"].data)
            out["feet_label"] = seen["feet"].layout.dim[0].label
        out["joy_buttons"], out["joy_axes"] = list(joy.buttons), list(joy.axes)
        commanding["on"] = True
        time.sleep(1.0)  # 50 time constants of the fake's motors
        out["after"] = joints()
        bad = LowCmd()
        if robot.feet:
            bad.head, bad.level_flag = [0xFE, 0xEF], 0xFF  # a valid Go2 header
        else:
            bad.mode_machine = 5  # the fake G1's
        bad.crc = 1  # a wrong CRC
        for m in bad.motor_cmd:
            m.q, m.kp = 1.0, 50.0
        while bad_pub.get_subscription_count() == 0:
            time.sleep(0.05)
        bad_pub.publish(bad)
        time.sleep(0.5)
        out["after_bad_crc"] = joints()
        commanding["on"] = False
        time.sleep(0.5)  # > command_timeout_s: the bridge sends damping
        out["after_stop"] = joints()
    finally:
        probe.close()
    return out


def cmd_hold_state(args: argparse.Namespace) -> dict[str, Any]:
    """Bring the controller (fed by the fake robot) to ``--state``, write ``<out>.ready``, keep everything running
    until this probe gets SIGINT; report the commands the controller sent after the ready file (its last words)."""
    import signal

    stop = threading.Event()
    probe = Probe(args.namespace, args.controller)
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    robot = FakeRobot(probe)
    robot.position = list(GO2_DEFAULT)
    state = args.state

    def ask(mode: str) -> None:
        # the controller hears the heartbeat only once it has discovered this probe: retry that refusal
        deadline = time.monotonic() + args.timeout
        while True:
            ok, why = probe.ask(mode)
            if ok:
                return
            if "heartbeat" not in why or time.monotonic() > deadline:
                raise SystemExit(f"{mode} refused: {why}")
            time.sleep(0.1)

    def reach(prefix: str) -> None:
        probe.wait(lambda: probe.states and probe.states[-1][1].startswith(prefix), args.timeout, prefix)

    try:
        reach("unconfigured")  # the latched state: the controller is up and this probe hears it
        if state != "unconfigured" and not probe.transition(Transition.TRANSITION_CONFIGURE, timeout=args.timeout):
            raise SystemExit("configure failed")
        if state not in ("unconfigured", "inactive"):
            probe.transition(Transition.TRANSITION_ACTIVATE)
            reach("passive")
        if state in ("stand_up", "policy", "sit_down", "hold"):
            ask("stand_up")
            reach("stand_up")
        if state in ("policy", "sit_down", "hold"):
            deadline = time.monotonic() + args.timeout
            while not probe.ask("policy")[0]:  # refused until the stand-up ramp is done
                if time.monotonic() > deadline:
                    raise SystemExit("policy refused until the timeout")
                time.sleep(0.1)
            reach("policy")
        if state == "sit_down":
            ask("sit_down")
            reach("sit_down")
        if state == "hold":
            robot.position[2] = math.nan
            reach("hold")
        if state == "damping":
            probe.e_stop(True)
            reach("damping")
        t_ready = probe.now()
        Path(args.out + ".ready").write_text(probe.states[-1][1])
        while not stop.is_set():
            time.sleep(0.05)
        with probe.lock:
            after = [c for ts, c in probe.commands if ts > t_ready]
            states = [s for ts, s in probe.states if ts > t_ready]
        return {
            "state": probe.states[-1][1] if states else "",
            "ready_state": Path(args.out + ".ready").read_text(),
            "last_command": _split(after[-1]) if after else None,
            "states_after": states,
        }
    finally:
        probe.close()


def cmd_reset(args: argparse.Namespace) -> dict[str, Any]:
    """Let the simulated robot sink (1 s of zero-stiffness commands, lockstep), then call ``mujoco_sim_node/reset``."""
    from std_srvs.srv import Trigger

    probe = Probe(args.namespace, args.controller)
    joints: list[tuple[float, list[str], list[float]]] = []
    odom: list[tuple[float, float]] = []

    def on_joints(m: JointState) -> None:
        with probe.lock:
            joints.append((m.header.stamp.sec + m.header.stamp.nanosec * 1e-9, list(m.name), list(m.position)))

    def on_odom(m: Odometry) -> None:
        with probe.lock:
            odom.append((m.header.stamp.sec + m.header.stamp.nanosec * 1e-9, m.pose.pose.position.z))

    probe.node.create_subscription(JointState, "joint_states", on_joints, 50)
    probe.node.create_subscription(Odometry, "odom", on_odom, 50)
    pub = probe.node.create_publisher(Float64MultiArray, "joint_commands", 10)
    reset = probe.node.create_client(Trigger, "mujoco_sim_node/reset")
    # The robot model for RViz: robot_description and /tf_static are latched (this subscriber joins late).
    from tf2_msgs.msg import TFMessage

    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    model: dict[str, Any] = {"tf": set(), "tf_static": set()}

    def on_tf(key: str) -> Callable[[Any], None]:
        def on(m: Any) -> None:
            with probe.lock:
                model[key] |= {(t.header.frame_id, t.child_frame_id) for t in m.transforms}

        return on

    probe.node.create_subscription(
        String, "robot_description", lambda m: model.__setitem__("description", m.data), latched
    )
    probe.node.create_subscription(TFMessage, "/tf", on_tf("tf"), 50)
    probe.node.create_subscription(TFMessage, "/tf_static", on_tf("tf_static"), latched)
    out: dict[str, Any] = {}
    try:
        probe.wait(lambda: bool(joints) and bool(odom) and pub.get_subscription_count() > 0, 30.0, "the simulator")
        out["z_start"] = odom[-1][1]
        # kp 0, kd 0.2: the joints only resist motion and the robot sinks (lockstep: 20 ms per command)
        for _ in range(50):
            pub.publish(Float64MultiArray(data=[0.0] * 12 + [0.0] * 12 + [0.2] * 12))
            time.sleep(0.01)
        probe.wait(lambda: joints[-1][0] >= 0.99, 30.0, "1 s of simulated time")
        time.sleep(0.2)
        with probe.lock:
            out["t_before"], out["z_before"] = odom[-1]
            n_joints = len(joints)
        if not reset.wait_for_service(timeout_sec=30.0):
            raise SystemExit("mujoco_sim_node/reset did not appear")
        fut = reset.call_async(Trigger.Request())
        probe.wait(fut.done, 30.0, "the reset")
        out["success"], out["message"] = fut.result().success, fut.result().message
        probe.wait(lambda: len(joints) > n_joints, 30.0, "joint states after the reset")
        time.sleep(0.2)
        with probe.lock:
            _, names, pos = joints[-1]
            out["t_after"], out["z_after"] = odom[-1]
        out["joint_pos"] = dict(zip(names, pos, strict=True))
        probe.wait(lambda: "description" in model and model["tf_static"], 30.0, "robot_description and /tf_static")
        out["robot_description"] = model["description"]
        out["tf"] = sorted(model["tf"])
        out["tf_static"] = sorted(model["tf_static"])
    finally:
        probe.close()
    return out


def get_parameters(probe: Probe, node: str, names: list[str]) -> dict[str, Any]:
    """The values of ``names`` on ``node`` (relative to the probe's namespace), read with its parameter service."""
    from rclpy.parameter import parameter_value_to_python

    client = AsyncParameterClient(probe.node, node)
    if not client.wait_for_services(timeout_sec=30.0):
        raise SystemExit(f"parameter services of {node} did not appear")
    fut = client.get_parameters(names)
    probe.wait(fut.done, 30.0, f"get_parameters of {node}")
    return {n: parameter_value_to_python(v) for n, v in zip(names, fut.result().values, strict=True)}


def cmd_params(args: argparse.Namespace) -> dict[str, Any]:
    """Read parameters of several nodes: ``--read node:name1,name2`` (repeatable)."""
    probe = Probe(args.namespace, args.controller)
    try:
        out = {}
        for item in args.read:
            node, names = item.split(":", 1)
            out[node] = get_parameters(probe, node, names.split(","))
    finally:
        probe.close()
    return out


def cmd_startup(args: argparse.Namespace) -> dict[str, Any]:
    """Read both nodes' parameters, then configure, activate (until ``running``) and deactivate the controller."""
    probe = Probe(args.namespace, args.controller)
    out: dict[str, Any] = {}
    try:
        out["controller_params"] = get_parameters(probe, args.controller, args.controller_params.split(","))
        out["sim_params"] = get_parameters(probe, "mujoco_sim_node", args.sim_params.split(","))
        out["configure"] = probe.transition(Transition.TRANSITION_CONFIGURE, timeout=args.timeout)
        t = probe.now()
        out["activate"] = probe.transition(Transition.TRANSITION_ACTIVATE, timeout=args.timeout)
        probe.wait(lambda: probe.state_since(t, "policy") is not None, args.timeout, "policy")
        out["deactivate"] = probe.transition(Transition.TRANSITION_DEACTIVATE)
        out["states"] = [s for _, s in probe.states]
    finally:
        probe.close()
    return out


COMMANDS = {
    "session": cmd_session,
    "hold_state": cmd_hold_state,
    "bridge": cmd_bridge,
    "estop": cmd_estop,
    "faults": cmd_faults,
    "walk": cmd_walk,
    "startup": cmd_startup,
    "watchdog": cmd_watchdog,
    "reset": cmd_reset,
    "params": cmd_params,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("command", choices=sorted(COMMANDS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--namespace", required=True)
    ap.add_argument("--controller", default="policy_controller")
    ap.add_argument("--good-policy", default="")
    ap.add_argument("--speed", type=float, default=0.8)
    ap.add_argument("--cmd", default="", help="walk: cmd_vel as 'v_x,v_y,yaw_rate' (instead of --speed)")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--cmd-period", type=float, default=0.05, help="s between cmd_vel messages")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--trials", type=int, default=20, help="watchdog: stops of the robot")
    ap.add_argument("--driver", choices=("service", "joystick"), default="service", help="session: who switches modes")
    ap.add_argument("--stand-up-s", type=float, default=2.0, help="session: the controller's stand_up_s")
    ap.add_argument("--state", default="passive", help="hold_state: the controller's state to hold")
    ap.add_argument("--robot", default="go2", help="bridge: go2 or g1")
    ap.add_argument("--joint", default="FL_calf_joint", help="bridge: the one joint commanded away from the default")
    ap.add_argument("--heartbeat-timeout", type=float, default=0.2, help="estop: the controller's heartbeat_timeout_s")
    ap.add_argument("--read", action="append", default=[], help="params: node:name1,name2 (repeatable)")
    ap.add_argument("--controller-params", default="", help="startup: comma-separated parameter names to read")
    ap.add_argument("--sim-params", default="", help="startup: comma-separated parameter names to read")
    args = ap.parse_args()
    result = COMMANDS[args.command](args)
    Path(args.out).write_text(json.dumps(result, indent=1, default=lambda o: np.asarray(o).tolist()))


if __name__ == "__main__":
    main()
