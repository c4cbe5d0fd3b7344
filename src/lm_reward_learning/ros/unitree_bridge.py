"""A Unitree robot's low-level topics ⇄ ``policy_controller``: ``unitree_go2_bridge`` and ``unitree_g1_bridge``.

Commands: ``joint_commands`` (``std_msgs/Float64MultiArray``, ``position_kp_kd`` layout: targets rad, kp
N·m/rad, kd N·m·s/rad, in ``command_joints`` order; what ``policy_controller`` publishes) → the robot's
``LowCmd`` on ``lowcmd_topic`` (``/lowcmd``): each joint's motor by name in Unitree's order, the header,
mode and unused-motor values of unitree_sdk2's examples, the CRC the firmware checks
(:mod:`lm_reward_learning.deploy.unitree`), built and serialized once per joint command and sent every
``1 / rate_hz`` s (500 Hz, as Unitree's low-level examples) from a thread of its own. Nothing is sent
before the first joint command (the robot's own controller keeps it until then; the G1 also needs one
``LowState``, whose ``mode_machine`` every command must repeat); a joint command older than
``command_timeout_s`` makes the bridge send damping itself (kp 0, kd ``damping_kd``), so a controller that
dies leaves the robot limp, not stiff; on exit it sends damping once more.

State: the robot's ``LowState`` on ``lowstate_topic`` (``/lowstate``, 500 Hz), at most ``state_rate_hz``
(raw subscription: the others are not even deserialized) →

* ``joint_states`` — ``sensor_msgs/JointState``: the joints by name (motor order), rad, rad/s, estimated
  torque N·m;
* ``imu/data`` — ``sensor_msgs/Imu``: orientation of the base in the world (x, y, z, w; Unitree sends
  w, x, y, z), angular velocity and specific force in the base frame (``base_frame``);
* ``foot_force`` (Go2) — ``std_msgs/Float32MultiArray``: FL, FR, RL, RR (the policy's leg order; raw
  sensor values as the robot reports them, not calibrated to newtons);
* ``joy`` — ``sensor_msgs/Joy``: the wireless remote in the ``unitree`` layout of
  ``config/ros/joystick/layouts.yaml`` (at ``joy_rate_hz``), so the remote drives ``policy_controller``.

The messages are Unitree's (``unitree_ros2``: ``unitree_go`` for the Go2, ``unitree_hg`` for the G1) or
the wire-compatible copies in ``ros2_ws/src`` (same package, message and field names, types and sizes:
the same DDS types and type hashes). Before low-level control, switch the robot's own motion control off
(Unitree app, or the motion switcher service): two controllers on ``/lowcmd`` fight. Parameters:
:data:`lm_reward_learning.ros.node_params.UNITREE_GO2_BRIDGE` (``config/ros/unitree_go2_bridge.yaml``)
and ``UNITREE_G1_BRIDGE`` (``config/ros/unitree_g1_bridge.yaml``).
"""

from __future__ import annotations

import importlib
import threading
import time
from typing import Any

import numpy as np
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Imu, JointState, Joy
from std_msgs.msg import Float32MultiArray, Float64MultiArray, MultiArrayDimension

from lm_reward_learning.deploy import unitree
from lm_reward_learning.deploy.commands import command_order
from lm_reward_learning.deploy.policy import PolicyMismatchError
from lm_reward_learning.robots import get_robot
from lm_reward_learning.ros.node_main import spin_node
from lm_reward_learning.ros.node_params import UNITREE_G1_BRIDGE, UNITREE_GO2_BRIDGE, ParameterError
from lm_reward_learning.ros.params import declare_parameters

LOWCMD_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE)
"""``/lowcmd``: reliable (the robot's reader accepts it whatever its own reliability), keep only the newest."""
FEET_OUT = ("FL", "FR", "RL", "RR")
"""Leg order of ``foot_force`` (the policy's)."""
PARAMS = {"go2": UNITREE_GO2_BRIDGE, "g1": UNITREE_G1_BRIDGE}


class UnitreeBridge(Node):
    """The bridge of one robot (see the module docstring).

    Args:
        robot: ``go2`` or ``g1`` (:data:`lm_reward_learning.deploy.unitree.UNITREE_ROBOTS`).

    Raises:
        ParameterError: at construction, if a parameter is invalid (the message lists each).
    """

    def __init__(self, robot: str, **kwargs: Any) -> None:
        name = f"unitree_{robot}_bridge"
        super().__init__(name, **kwargs)
        table = PARAMS[robot]
        self.params = p = declare_parameters(self, table, f"config/ros/{name}.yaml")
        self.robot = r = unitree.UNITREE_ROBOTS[robot]
        msgs = importlib.import_module(f"{r.package}.msg")
        self._low_cmd_type, self._low_state_type = msgs.LowCmd, msgs.LowState
        joints = tuple(get_robot(robot).joint_names)
        try:
            order = command_order(joints, p["command_joints"])  # command-array joint k is joints[order[k]]
            self._motor_of = unitree.motor_index([joints[i] for i in order], r.motors)
        except (PolicyMismatchError, ValueError) as exc:
            raise ParameterError(f"command_joints: {exc}") from None
        self._n = len(joints)
        self._names = list(r.motors)
        self._lowcmd_pub = self.create_publisher(self._low_cmd_type, p["lowcmd_topic"], LOWCMD_QOS)
        self._joint_pub = self.create_publisher(JointState, "joint_states", 10)
        self._imu_pub = self.create_publisher(Imu, "imu/data", 10)
        self._joy_pub = self.create_publisher(Joy, "joy", 10)
        self._feet = np.array([r.feet.index(leg) for leg in FEET_OUT]) if r.feet else None
        if self._feet is not None:
            self._feet_pub = self.create_publisher(Float32MultiArray, "foot_force", 10)
            self._feet_msg = Float32MultiArray()
            self._feet_msg.layout.dim = [MultiArrayDimension(label=" ".join(FEET_OUT), size=4, stride=4)]
        self.create_subscription(Float64MultiArray, "joint_commands", self._on_command, 1)
        # Raw: a LowState (20 or 35 nested motors) costs more to turn into Python than to skip; only those
        # republished (at most state_rate_hz) are deserialized.
        self.create_subscription(
            self._low_state_type, p["lowstate_topic"], self._on_lowstate, qos_profile_sensor_data, raw=True
        )
        self._state_period = 1.0 / p["state_rate_hz"]
        self._last_state = -np.inf
        self._mode_machine: int | None = None if robot == "g1" else 0
        self._lock = threading.Lock()
        self._targets: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._cmd: bytes | None = None
        self._damping: bytes | None = None
        self._cmd_stamp = -np.inf
        self._damping_since: float | None = None
        self.sent = 0
        self._joint_msg = JointState(name=self._names)
        self._imu_msg = Imu()
        self._imu_msg.header.frame_id = p["base_frame"]
        self._joy_period = 1.0 / p["joy_rate_hz"]
        self._last_joy = -np.inf
        self._bad_remote = False
        self._period = 1.0 / p["rate_hz"]
        self._running = threading.Event()
        self._t_first_send: float | None = None
        self._running.set()
        self._sender = threading.Thread(target=self._send_loop, name="lowcmd", daemon=True)
        self._sender.start()
        self.get_logger().info(
            f"ready: joint_commands -> {self.resolve_topic_name(p['lowcmd_topic'])} at {p['rate_hz']:.0f} Hz "
            f"({r.package}), {self.resolve_topic_name(p['lowstate_topic'])} -> joint_states, imu/data, "
            f"{'foot_force, ' if r.feet else ''}joy"
        )

    # ------------------------------------------------------------------ commands
    def _low_cmd(self, q: np.ndarray, kp: np.ndarray, kd: np.ndarray, mode_machine: int) -> bytes:
        """A complete LowCmd with its CRC, serialized once for the repeated sends (arrays in command order)."""
        msg = self._low_cmd_type()
        if self.robot.name == "go2":
            msg.head, msg.level_flag, msg.gpio = list(unitree.HEAD), unitree.LEVEL_LOW, 0
            for m in msg.motor_cmd:  # unused motors: the SDK example's stop values
                m.mode, m.q, m.dq, m.tau, m.kp, m.kd = (
                    unitree.MODE_SERVO,
                    unitree.POS_STOP,
                    unitree.VEL_STOP,
                    0.0,
                    0.0,
                    0.0,
                )
            enable = unitree.MODE_SERVO
        else:
            msg.mode_pr, msg.mode_machine = unitree.HG_MODE_PR, mode_machine
            enable = unitree.HG_MOTOR_ENABLE
        for k, motor in enumerate(self._motor_of):
            m = msg.motor_cmd[int(motor)]
            m.mode, m.q, m.dq, m.tau, m.kp, m.kd = enable, float(q[k]), 0.0, 0.0, float(kp[k]), float(kd[k])
        msg.crc = self.robot.crc(msg)
        return serialize_message(msg)

    def _rebuild(self) -> None:
        """The command and damping messages from the latest targets and ``mode_machine`` (under the lock)."""
        if self._mode_machine is None:
            return  # the G1 needs a LowState first
        zeros = np.zeros(self._n)
        self._damping = self._low_cmd(zeros, zeros, np.full(self._n, self.params["damping_kd"]), self._mode_machine)
        if self._targets is not None:
            self._cmd = self._low_cmd(*self._targets, self._mode_machine)

    def _on_command(self, msg: Float64MultiArray) -> None:
        data = np.asarray(msg.data, dtype=np.float64)
        if data.shape != (3 * self._n,) or not np.all(np.isfinite(data)):
            self.get_logger().warning(
                f"ignored joint_commands of {data.size} values: need {3 * self._n} finite values (positions, kp, kd; "
                "policy_controller's forward_layout position_kp_kd)",
                throttle_duration_sec=1.0,
            )
            return
        with self._lock:
            self._targets = (data[: self._n], data[self._n : 2 * self._n], data[2 * self._n :])
            self._rebuild()
            self._cmd_stamp = time.monotonic()

    def _send_loop(self) -> None:
        """Every ``1 / rate_hz`` s on a thread of its own (not the executor's, which deserializes and republishes
        the state): the latest command, or damping when it is too old. A late wake-up skips the missed sends."""
        next_t = time.monotonic()
        while self._running.is_set():
            next_t += self._period
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -self._period:
                next_t = time.monotonic()  # fell behind (a stalled machine): do not burst
            self._send()

    def _send(self) -> None:
        with self._lock:
            cmd, damping, stamp = self._cmd, self._damping, self._cmd_stamp
        if cmd is None or damping is None:
            return  # nothing commanded yet: leave the robot to its own controller
        age = time.monotonic() - stamp
        if age > self.params["command_timeout_s"]:
            if self._damping_since is None:
                self._damping_since = time.monotonic()
                self.get_logger().warning(
                    f"no joint_commands for {age * 1e3:.0f} ms > command_timeout_s: sending damping "
                    f"(kd {self.params['damping_kd']})"
                )
            cmd = damping
        elif self._damping_since is not None:
            self.get_logger().info("joint_commands again: following them")
            self._damping_since = None
        self._lowcmd_pub.publish(cmd)
        if self._t_first_send is None:
            self._t_first_send = time.monotonic()
        self.sent += 1

    # ------------------------------------------------------------------ state
    def _on_lowstate(self, raw: bytes) -> None:
        now = time.monotonic()
        if now - self._last_state < self._state_period and self._mode_machine is not None:
            return
        self._last_state = now
        msg = deserialize_message(raw, self._low_state_type)
        if self.robot.name == "g1" and msg.mode_machine != self._mode_machine:
            with self._lock:
                self._mode_machine = int(msg.mode_machine)
                self._rebuild()
        stamp = self.get_clock().now().to_msg()
        motors = msg.motor_state
        js = self._joint_msg
        js.header.stamp = stamp
        js.position = [float(motors[i].q) for i in range(self._n)]
        js.velocity = [float(motors[i].dq) for i in range(self._n)]
        js.effort = [float(motors[i].tau_est) for i in range(self._n)]
        self._joint_pub.publish(js)
        imu, s = self._imu_msg, msg.imu_state
        imu.header.stamp = stamp
        o = imu.orientation
        o.w, o.x, o.y, o.z = (float(v) for v in s.quaternion)
        w, a = imu.angular_velocity, imu.linear_acceleration
        w.x, w.y, w.z = (float(v) for v in s.gyroscope)
        a.x, a.y, a.z = (float(v) for v in s.accelerometer)
        self._imu_pub.publish(imu)
        if self._feet is not None:
            self._feet_msg.data = [float(msg.foot_force[i]) for i in self._feet]
            self._feet_pub.publish(self._feet_msg)
        if now - self._last_joy >= self._joy_period:
            self._last_joy = now
            try:
                buttons, axes = unitree.remote_to_joy(unitree.decode_remote(msg.wireless_remote))
            except ValueError as exc:
                if not self._bad_remote:
                    self._bad_remote = True
                    self.get_logger().warning(f"wireless_remote not decoded: {exc}")
                return
            joy = Joy(buttons=buttons, axes=axes)
            joy.header.stamp = stamp
            self._joy_pub.publish(joy)

    def stop(self) -> None:
        """On exit: stop the sending thread; if commanding, send damping once more (the motors go limp, not stiff)."""
        self._running.clear()
        self._sender.join(timeout=1.0)
        if self._cmd is not None and self._damping is not None:
            self._lowcmd_pub.publish(self._damping)
            elapsed = time.monotonic() - (self._t_first_send or time.monotonic())
            rate = (self.sent - 1) / elapsed if elapsed > 0 else 0.0
            self.get_logger().info(f"exit: damping command sent; {self.sent} LowCmd sent at {rate:.0f} Hz")


def run(robot: str, args: list[str] | None = None) -> None:
    """Run the bridge of ``robot`` until Ctrl-C or SIGTERM; send damping before exiting if it was commanding."""
    spin_node(
        lambda: UnitreeBridge(robot),
        f"unitree_{robot}_bridge",
        args,
        executor="single_threaded",
        on_exit=UnitreeBridge.stop,
    )
