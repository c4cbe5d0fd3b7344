"""``mujoco_sim_node``: the robot in MuJoCo behind the topics a real robot driver speaks (sim-to-sim).

The exported policy can then be checked through the real ROS 2 path (``policy_controller`` →
joint commands → PD → joint states / IMU → ``policy_controller``) before it meets hardware. The
simulation is :class:`~lm_reward_learning.deploy.sim.SimRobot`: the training model, physics step and
torque limits, PD by MuJoCo's position servos with the commanded kp/kd.

Published (header stamps: simulated time with ``stamp_source: sim``, as on ``/clock``):

* ``joint_states`` — ``sensor_msgs/JointState``: rad, rad/s, N·m, in the model's joint order (by name);
* ``imu/data`` — ``sensor_msgs/Imu``: orientation of the base in the world (x, y, z, w), angular
  velocity (rad/s) and specific force (m/s², (0, 0, 9.81) at rest) in the base frame (REP 145),
  ``frame_id`` the base frame;
* ``odom`` — ``nav_msgs/Odometry``: ground-truth base pose in ``odom_frame`` (the simulator's world)
  and twist in the base frame (``child_frame_id``);
* ``/tf`` — ``odom_frame`` → ``base_frame`` and every body of the robot in its parent's frame, and
  ``/tf_static`` — the foot frames (``publish_tf``); ``/clock`` — simulated time (``publish_clock``);
* ``robot_description`` — ``std_msgs/String``, the robot's URDF (``config/ros/urdf/<robot>.urdf``, links
  named like the MJCF bodies, meshes as ``package://lm_reward_learning/meshes/<robot>/``), reliable and
  transient local, so RViz's RobotModel display draws the robot over that TF
  (``publish_robot_description``; the base frame must then be the URDF's root link, the default).

Service ``~/reset`` (``std_srvs/Trigger``): puts the robot back at its initial pose
(``initial_joint_pos``, ``initial_base_height``, at the odometry origin, at rest) holding it with the
robot's default gains until the next command; simulated time runs on (``/clock`` never jumps back),
like Gazebo's ``reset_world``. A controller that was running sees the robot jump: deactivate it first.

Subscribed (``command_interface``): ``joint_commands`` (``std_msgs/Float64MultiArray``: J positions,
or J positions + J kp + J kd, in ``command_joints`` order; see :mod:`lm_reward_learning.deploy.commands`)
or ``joint_trajectory`` (``trajectory_msgs/JointTrajectory``: the first point's positions and
velocities by joint name; the gains stay as they were). Until the first command the robot holds its
initial pose with the robot's default gains.

Pacing (``mode``):

``realtime``
    A wall-clock timer advances the physics so that simulated time follows wall time ×
    ``realtime_factor`` (faster than real time with a factor above 1), publishing joint states and
    IMU at ``publish_rate_hz`` and odometry, TF and clock at ``odom_rate_hz`` (simulated time).
``lockstep``
    Every received command advances exactly ``control_dt`` of simulated time, then everything is
    published; without commands the state is re-published every ``idle_publish_period_s`` (no physics
    step). A slow or loaded machine then slows the simulation down instead of starving the
    controller, so sim-to-sim results do not depend on the machine's load.

Parameters: :data:`lm_reward_learning.ros.node_params.MUJOCO_SIM_NODE` and
``config/ros/mujoco_sim_node.yaml``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger
from tf2_msgs.msg import TFMessage
from trajectory_msgs.msg import JointTrajectory

from lm_reward_learning.config import config_dir
from lm_reward_learning.deploy.commands import command_order, unpack_forward
from lm_reward_learning.deploy.policy import PolicyMismatchError
from lm_reward_learning.deploy.sim import SimRobot
from lm_reward_learning.robots import get_robot
from lm_reward_learning.ros.node_main import spin_node
from lm_reward_learning.ros.node_params import MUJOCO_SIM_NODE, ParameterError
from lm_reward_learning.ros.params import declare_parameters, reliable_qos, tf_qos

LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
"""``robot_description`` and ``/tf_static``: reliable, transient local, keep last 1 (as robot_state_publisher and
tf2_ros's static broadcaster publish them)."""
MAX_CATCH_UP_STEPS = 40
"""Realtime mode: at most this many physics steps per timer tick; a machine slower than that falls behind."""


class MujocoSimNode(Node):
    """The simulated robot driver (see the module docstring).

    Raises:
        ParameterError: at construction, if a parameter is invalid (the message lists each).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("mujoco_sim_node", **kwargs)
        self.params = p = declare_parameters(self, MUJOCO_SIM_NODE, "config/ros/mujoco_sim_node.yaml")
        spec = get_robot(p["robot"])
        init = p["initial_joint_pos"] or None
        if init is not None and len(init) != spec.num_joints:
            raise ParameterError(f"initial_joint_pos has {len(init)} values; robot {spec.name} has {spec.num_joints}")
        self._initial = {"joint_pos": init, "base_height": p["initial_base_height"] or None}
        self.sim = SimRobot(spec, **self._initial)
        try:
            self._order = command_order(spec.joint_names, p["command_joints"])
        except PolicyMismatchError as exc:
            raise ParameterError(f"command_joints: {exc}") from None
        self._where = {n: i for i, n in enumerate(spec.joint_names)}
        self._driver = np.array([self._where[n] for n in self.sim.driver_joint_names], dtype=np.int64)
        self._base_frame = p["base_frame"] or spec.base_body
        self._substeps = max(1, round(p["control_dt"] / self.sim.physics_dt))
        self._joint_msg = JointState(name=list(self.sim.driver_joint_names))
        self._imu_msg = Imu()
        self._imu_msg.header.frame_id = self._base_frame
        self._odom_msg = Odometry(child_frame_id=self._base_frame)
        self._odom_msg.header.frame_id = p["odom_frame"]
        self._tf = TransformStamped(child_frame_id=self._base_frame)
        self._tf.header.frame_id = p["odom_frame"]

        self._joint_pub = self.create_publisher(JointState, "joint_states", reliable_qos())
        self._imu_pub = self.create_publisher(Imu, "imu/data", reliable_qos())
        self._odom_pub = self.create_publisher(Odometry, "odom", reliable_qos())
        self._tf_pub = self.create_publisher(TFMessage, "/tf", tf_qos()) if p["publish_tf"] else None
        self._body_tfs: list[TransformStamped] = []
        if p["publish_tf"]:
            self._publish_static_frames(spec)
        if p["publish_robot_description"]:
            urdf = config_dir() / "ros" / "urdf" / f"{spec.name}.urdf"
            self._description_pub = self.create_publisher(String, "robot_description", LATCHED_QOS)
            self._description_pub.publish(String(data=urdf.read_text()))
        self._clock_pub = self.create_publisher(Clock, "/clock", reliable_qos()) if p["publish_clock"] else None
        if p["command_interface"] == "forward":
            self.create_subscription(Float64MultiArray, "joint_commands", self._on_forward, reliable_qos(depth=1))
        else:
            self.create_subscription(JointTrajectory, "joint_trajectory", self._on_trajectory, reliable_qos(depth=1))
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.commands = 0
        self._last_command_wall = -math.inf
        self._next_odom = 0.0
        if p["mode"] == "lockstep":
            self.create_timer(p["idle_publish_period_s"], self._on_idle)
        else:
            self._wall0 = time.monotonic()
            self._sim0 = self.sim.time_s
            self.create_timer(1.0 / (p["publish_rate_hz"] * p["realtime_factor"]), self._on_realtime)
        self._publish_all()
        self.get_logger().info(
            f"ready: {spec.name} in MuJoCo ({p['mode']}, physics {self.sim.physics_dt * 1e3:.1f} ms), "
            f"following {p['command_interface']} commands"
        )

    # ------------------------------------------------------------------ commands
    def _on_forward(self, msg: Float64MultiArray) -> None:
        try:
            pos, kp, kd = unpack_forward(msg.data, self._order)
        except ValueError as exc:
            self.get_logger().warning(f"ignored joint_commands: {exc}", throttle_duration_sec=1.0)
            return
        self._apply(pos, kp, kd, None)

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        missing = [n for n in self.sim.joint_names if n not in msg.joint_names]
        if missing or not msg.points or len(msg.points[0].positions) != len(msg.joint_names):
            why = f"lacks joints {missing}" if missing else "has no point with a position per joint"
            self.get_logger().warning(f"ignored joint_trajectory: it {why}", throttle_duration_sec=1.0)
            return
        index = np.array([self._where.get(n, -1) for n in msg.joint_names])
        keep = index >= 0
        point = msg.points[0]
        pos = np.empty(len(self._where))
        pos[index[keep]] = np.asarray(point.positions)[keep]
        vel = None
        if len(point.velocities) == len(msg.joint_names):
            vel = np.empty(len(self._where))
            vel[index[keep]] = np.asarray(point.velocities)[keep]
        self._apply(pos, None, None, vel)

    def _apply(self, pos: np.ndarray, kp: np.ndarray | None, kd: np.ndarray | None, vel: np.ndarray | None) -> None:
        if not all(np.all(np.isfinite(x)) for x in (pos, kp, kd, vel) if x is not None):
            self.get_logger().warning("ignored a joint command with non-finite values", throttle_duration_sec=1.0)
            return
        self.sim.command(pos, kp, kd, vel)
        self.commands += 1
        if self.params["mode"] == "lockstep":
            self._last_command_wall = time.monotonic()
            self.sim.step(self._substeps)
            self._publish_all()

    def _on_reset(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.sim.reset(**self._initial, keep_time=True)
        self._next_odom = self.sim.time_s
        self._publish_all()
        response.success = True
        response.message = f"reset to the initial pose at simulated time {self.sim.time_s:.3f} s"
        self.get_logger().info(response.message)
        return response

    # ------------------------------------------------------------------ pacing
    def _on_idle(self) -> None:
        if time.monotonic() - self._last_command_wall >= self.params["idle_publish_period_s"]:
            self._publish_all()

    def _on_realtime(self) -> None:
        target = self._sim0 + (time.monotonic() - self._wall0) * self.params["realtime_factor"]
        steps = math.floor((target - self.sim.time_s) / self.sim.physics_dt + 1e-9)
        if steps <= 0:
            return
        if steps > MAX_CATCH_UP_STEPS:
            self.get_logger().warning(
                f"simulation {steps * self.sim.physics_dt * 1e3:.0f} ms behind the wall clock; slowing down",
                throttle_duration_sec=5.0,
            )
            self._sim0 -= (steps - MAX_CATCH_UP_STEPS) * self.sim.physics_dt
            steps = MAX_CATCH_UP_STEPS
        self.sim.step(steps)
        self._publish_sensors()
        if self.sim.time_s + 1e-9 >= self._next_odom:
            self._next_odom = self.sim.time_s + 1.0 / self.params["odom_rate_hz"]
            self._publish_odometry()

    # ------------------------------------------------------------------ read-out
    def _stamp(self) -> Time:
        if self.params["stamp_source"] == "wall":
            return self.get_clock().now().to_msg()
        ns = round(self.sim.time_s * 1e9)
        return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)

    def _publish_all(self) -> None:
        self._publish_sensors()
        self._publish_odometry()

    def _publish_sensors(self) -> None:
        sim, stamp = self.sim, self._stamp()
        js = self._joint_msg
        js.header.stamp = stamp
        js.position = sim.joint_pos[self._driver].tolist()
        js.velocity = sim.joint_vel[self._driver].tolist()
        js.effort = sim.joint_effort[self._driver].tolist()
        self._joint_pub.publish(js)
        imu, reading = self._imu_msg, sim.imu()
        imu.header.stamp = stamp
        o, w, a = imu.orientation, imu.angular_velocity, imu.linear_acceleration
        o.x, o.y, o.z, o.w = (float(v) for v in reading.quat_xyzw)
        w.x, w.y, w.z = (float(v) for v in reading.ang_vel_b)
        a.x, a.y, a.z = (float(v) for v in reading.lin_acc_b)
        self._imu_pub.publish(imu)

    def _publish_static_frames(self, spec: Any) -> None:
        """The foot sites' frames in their bodies (the URDF's fixed ``<site>_fixed`` joints) on ``/tf_static``."""
        import mujoco

        m = self.sim.model
        transforms = []
        for site in spec.foot_sites:
            sid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, site)
            t = TransformStamped(child_frame_id=site)
            t.header.frame_id = m.body(int(m.site_bodyid[sid])).name
            t.header.stamp = self._stamp()
            t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
                float(v) for v in m.site_pos[sid]
            )
            r = t.transform.rotation
            r.w, r.x, r.y, r.z = (float(v) for v in m.site_quat[sid])
            transforms.append(t)
        self._static_pub = self.create_publisher(TFMessage, "/tf_static", LATCHED_QOS)
        self._static_pub.publish(TFMessage(transforms=transforms))

    def _body_transforms(self, stamp: Time) -> list[TransformStamped]:
        """Every body below the base in its parent's frame (``base_frame`` for the base's children)."""
        names, pos, quat = self.sim.body_poses()
        if not self._body_tfs:
            for child, parent in names:
                t = TransformStamped(child_frame_id=child)
                t.header.frame_id = self._base_frame if parent == self.sim.spec.base_body else parent
                self._body_tfs.append(t)
        for t, p, q in zip(self._body_tfs, pos, quat, strict=True):
            t.header.stamp = stamp
            tr, r = t.transform.translation, t.transform.rotation
            tr.x, tr.y, tr.z = (float(v) for v in p)
            r.w, r.x, r.y, r.z = (float(v) for v in q)
        return self._body_tfs

    def _publish_odometry(self) -> None:
        sim, stamp = self.sim, self._stamp()
        pos, (qw, qx, qy, qz) = sim.base_pos_w, sim.base_quat_wxyz
        odom = self._odom_msg
        odom.header.stamp = stamp
        p, q = odom.pose.pose.position, odom.pose.pose.orientation
        p.x, p.y, p.z = (float(v) for v in pos)
        q.x, q.y, q.z, q.w = float(qx), float(qy), float(qz), float(qw)
        lin, ang = odom.twist.twist.linear, odom.twist.twist.angular
        lin.x, lin.y, lin.z = (float(v) for v in sim.base_lin_vel_b())
        ang.x, ang.y, ang.z = (float(v) for v in sim.base_ang_vel_b)
        self._odom_pub.publish(odom)
        if self._tf_pub is not None:
            tf = self._tf
            tf.header.stamp = stamp
            t, r = tf.transform.translation, tf.transform.rotation
            t.x, t.y, t.z = p.x, p.y, p.z
            r.x, r.y, r.z, r.w = q.x, q.y, q.z, q.w
            self._tf_pub.publish(TFMessage(transforms=[tf, *self._body_transforms(stamp)]))
        if self._clock_pub is not None:
            self._clock_pub.publish(Clock(clock=stamp))


def main(args: list[str] | None = None) -> None:
    """Run the node until Ctrl-C or SIGTERM (handled between callbacks, so none is cut off mid-publish)."""
    spin_node(MujocoSimNode, "mujoco_sim_node", args, executor="single_threaded")


if __name__ == "__main__":
    main()
