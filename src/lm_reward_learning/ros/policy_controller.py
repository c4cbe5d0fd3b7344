"""``policy_controller``: a lifecycle node that runs an exported ONNX policy on a robot.

Lifecycle (``ros2 lifecycle set /policy_controller configure|activate|deactivate|cleanup``):

configure
    Loads ``policy`` (``policy.onnx`` + ``deploy.yaml``, or the ONNX metadata) and checks it
    (:meth:`~lm_reward_learning.deploy.DeployedPolicy.load`: observation and action sizes); waits up
    to ``joint_states_timeout_s`` for a ``joint_states`` message and checks that it names every policy
    joint, and that ``command_joints`` (if set) lists exactly the policy's joints. Any mismatch fails
    the transition with an error log that names it; the node stays unconfigured.
activate
    Starts the control timer (``control_rate_hz``; by default the policy's 50 Hz) in mode ``passive``
    (damping; ``start_mode: policy`` stands the robot up and starts the policy unattended, for
    simulation), and the watchdog's own timer (``watchdog_period_s``), which sends damping as soon as
    ``joint_states`` or ``imu/data`` is older than ``sensor_timeout_s`` or the operator's heartbeat older
    than ``heartbeat_timeout_s``, without waiting for the next control tick. In ``policy`` mode a third
    timer at the control rate runs the network ``prewarm_lead_s`` before each tick, so the tick's own
    inference finds it in the CPU caches (:meth:`~lm_reward_learning.deploy.DeployedPolicy.warm`).
deactivate
    Stops the timers and sends a damping command (kp 0, kd ``damping_kd``).
shutdown
    Also taken on Ctrl-C or SIGTERM (:func:`lm_reward_learning.ros.node_main.spin_node`), from any state:
    damping if the controller was commanding, then the process exits with code 0.

Modes (:mod:`lm_reward_learning.deploy.modes`): ``passive`` → ``stand_up`` (ramp to the default pose)
→ ``policy`` → ``sit_down`` (ramp to the sitting pose) → ``passive``; ``hold`` on non-finite inputs;
``damping`` latched by faults and the e-stop. The operator switches them with

* services ``~/passive``, ``~/stand_up``, ``~/policy``, ``~/sit_down`` (``std_srvs/Trigger``: success
  and the new mode, or the reason of a refusal: a transition not allowed from the present mode, a
  robot not standing yet, stale inputs, no heartbeat, the e-stop);
* a gamepad on ``joy`` (``sensor_msgs/Joy``): button combinations of ``joy_layout`` in
  ``config/ros/joystick/layouts.yaml`` (:mod:`lm_reward_learning.deploy.joystick`);
* ``~/e_stop`` (``std_srvs/SetBool``): ``true`` latches damping at once (also while inactive: the
  controller then activates in damping); ``false`` releases it, then ``~/passive`` leaves damping;
* ``heartbeat`` (``std_msgs/Empty``, from the operator's station, e.g. 20 Hz): while the robot is
  energized (stand_up, policy, sit_down, hold) a gap longer than ``heartbeat_timeout_s`` (0: none
  needed) latches damping, and standing up is refused without it (``joy_heartbeat``: joy messages
  count too).

Subscribed: ``joint_states`` (``sensor_msgs/JointState``, by name), ``imu/data`` (``sensor_msgs/Imu``:
orientation of the base in the world, angular velocity in the base frame, REP 145), ``cmd_vel``
(``geometry_msgs/Twist``: linear.x, linear.y m/s, angular.z rad/s, base frame) and the gamepad's
sticks (teleop_twist_joy's axes and scales, while deflected); both clamped to the policy's
trained ``command_ranges`` widened to include 0 (``cmd_vel_clamp``), acceleration-limited
(``cmd_vel_max_accel``), zero when older than ``cmd_vel_timeout_s``
(:class:`~lm_reward_learning.deploy.velocity.VelocityCommand`); the latest request wins.

Published, per control tick while active (``outputs``):

* ``joint_commands`` — ``std_msgs/Float64MultiArray`` for a ros2_control forward command controller
  or ``unitree_go2_bridge``, ``forward_layout`` ``position_kp_kd`` ([targets rad, kp N·m/rad, kd
  N·m·s/rad] in ``command_joints`` order) or ``position`` (see :mod:`lm_reward_learning.deploy.commands`);
* ``joint_trajectory`` — ``trajectory_msgs/JointTrajectory``: joint names and one point with the
  targets (rad), zero velocities and ``time_from_start`` one control period (gains are the driver's;
  in damping the point holds the measured pose).

Always published: ``~/safety_state`` (``std_msgs/String``, ``"<mode>: <reason>"`` on every change;
transient local with a history of 20, so a subscriber that joins later, e.g. ``ros2 topic echo
--qos-durability transient_local --qos-depth 20``, still gets the recent transitions, the current state
last) and ``/diagnostics`` (``diagnostic_msgs/DiagnosticArray`` every
``diagnostics_period_s``: loop period and jitter percentiles, inference time, mode, e-stop and counters).

Safety rules (:mod:`lm_reward_learning.deploy.safety`): ramps, action and joint-limit clamps, target
rate limit, watchdogs on joint states, IMU and heartbeat (on their own timer) → damping, roll/pitch
limits → damping, non-finite inputs, observations or actions → hold and report, deactivate → damping.

Parameters: :data:`lm_reward_learning.ros.node_params.POLICY_CONTROLLER` and
``config/ros/policy_controller.yaml``; they are read at every configure.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist
from rclpy.duration import Duration as RclpyDuration
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.wait_for_message import wait_for_message
from sensor_msgs.msg import Imu, JointState, Joy
from std_msgs.msg import Empty, Float64MultiArray, MultiArrayDimension, String
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from lm_reward_learning.config import config_dir
from lm_reward_learning.deploy import (
    ControllerCore,
    DeployedPolicy,
    JointCommand,
    Mode,
    SafetyConfig,
    TransitionRefusedError,
)
from lm_reward_learning.deploy.commands import command_order, pack_forward
from lm_reward_learning.deploy.joystick import JoystickMapper, load_layouts
from lm_reward_learning.deploy.limits import robot_joint_limits
from lm_reward_learning.deploy.modes import REQUESTABLE
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.ros.node_main import spin_node
from lm_reward_learning.ros.node_params import POLICY_CONTROLLER, ParameterError
from lm_reward_learning.ros.params import declare_parameters, read_parameters

COMMAND_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
"""Joint commands: reliable, keep only the newest (a late command is worthless)."""
LAST_WORD_ACK_TIMEOUT_S = 0.2
"""On deactivate and shutdown, wait at most this long for reliable subscribers (the driver) to acknowledge the
damping command, so that it is not lost when the publishers are destroyed right after (process exit), s."""
SAFETY_STATE_HISTORY = 20
"""Transitions of ``~/safety_state`` kept for subscribers that join later."""
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=SAFETY_STATE_HISTORY,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
"""``~/safety_state``: latched with history, so a late subscriber (transient local) gets the last
:data:`SAFETY_STATE_HISTORY` transitions, the current state last (with a keep-last-1 subscription: the
current state only)."""
_LEVELS = {
    Mode.IDLE: DiagnosticStatus.OK,
    Mode.PASSIVE: DiagnosticStatus.OK,
    Mode.STAND_UP: DiagnosticStatus.OK,
    Mode.POLICY: DiagnosticStatus.OK,
    Mode.SIT_DOWN: DiagnosticStatus.OK,
    Mode.HOLD: DiagnosticStatus.WARN,
    Mode.DAMPING: DiagnosticStatus.ERROR,
}


class PolicyController(LifecycleNode):
    """Lifecycle node running a deployed policy with its safety layer (see the module docstring).

    Raises:
        ParameterError: at construction, if a parameter is invalid (the message lists each).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("policy_controller", **kwargs)
        self.params = declare_parameters(self, POLICY_CONTROLLER, "config/ros/policy_controller.yaml")
        self.core: ControllerCore | None = None
        self._state_pub = self.create_publisher(String, "~/safety_state", LATCHED_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._subs: list[Any] = []
        self._pubs: dict[str, Any] = {}
        self._timer: Any = None
        self._watchdog_timer: Any = None
        self._prewarm_timer: Any = None
        self._diag_timer: Any = None
        self._order = np.zeros(0, dtype=np.int64)
        self._joy: JoystickMapper | None = None
        self._published_state = ""
        self._e_stop_latched = False  # an e-stop engaged while unconfigured, handed to the next core
        for mode in REQUESTABLE:
            self.create_service(Trigger, f"~/{mode.value}", lambda req, res, m=mode: self._on_mode_service(m, res))
        self.create_service(SetBool, "~/e_stop", self._on_e_stop_service)
        self._publish_state("unconfigured")
        self.get_logger().info("ready (unconfigured): configure to load and check the policy")

    # ------------------------------------------------------------------ lifecycle transitions
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load and check the policy against the robot; refuse (FAILURE, error log) on any mismatch."""
        try:
            self._configure()
        except (LmrlError, ParameterError, ValueError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            self._teardown()
            self._publish_state("unconfigured", f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        except Exception as exc:
            self.get_logger().error(f"configure failed unexpectedly: {traceback.format_exc()}")
            self._teardown()
            self._publish_state("unconfigured", f"configure failed: {type(exc).__name__}: {exc}")
            return TransitionCallbackReturn.FAILURE
        self._publish_state("inactive", f"configured with {self.core.policy.path}" if self.core else "")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start the control timer (soft start first)."""
        assert self.core is not None
        ret = super().on_activate(state)  # enables the lifecycle publishers
        _set_scheduler(self.params["realtime_priority"], self.get_logger())
        self.core.activate(time.monotonic(), auto_policy=self.params["start_mode"] == "policy")
        period, lead = self.core.stats.period_s, self.params["prewarm_lead_s"]
        if lead > 0:
            # Both timers count from their creation on one clock with one period: the prewarm timer made
            # `lead` before the control timer fires `lead` before every tick, and the phase holds.
            self._prewarm_timer = self.create_timer(period, self._prewarm)
            time.sleep(lead)
        self._timer = self.create_timer(period, self._tick)
        self._watchdog_timer = self.create_timer(self.params["watchdog_period_s"], self._watchdog)
        self._publish_state(self.core.mode.value, self.core.supervisor.reason)
        self.get_logger().info(f"active: control loop at {1.0 / self.core.stats.period_s:.1f} Hz")
        return ret

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the timer and send the damping command."""
        self._stop_commanding()
        _set_scheduler(0, self.get_logger())
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Forget the policy and drop the subscriptions and publishers."""
        self._teardown()
        self._publish_state("unconfigured", "cleaned up")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Damping if active, then clean up."""
        self._stop_commanding()
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Damping if possible, then back to unconfigured."""
        self._stop_commanding()
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    # ------------------------------------------------------------------ configure
    def _configure(self) -> None:
        self.params = p = read_parameters(self, POLICY_CONTROLLER)
        log = self.get_logger()
        policy = DeployedPolicy.load(p["policy"])
        facts = policy.facts
        lower = upper = None
        if p["joint_limits"] == "robot":
            lo, hi = robot_joint_limits(facts.robot, facts.command_joint_names, p["joint_limit_margin_rad"])
            lower, upper = tuple(lo.tolist()), tuple(hi.tolist())
        safety = SafetyConfig(
            stand_up_s=p["stand_up_s"],
            sit_down_s=p["sit_down_s"],
            sensor_timeout_s=p["sensor_timeout_s"],
            heartbeat_timeout_s=p["heartbeat_timeout_s"],
            max_roll_rad=p["max_roll_rad"],
            max_pitch_rad=p["max_pitch_rad"],
            max_target_rate_rad_s=p["max_target_rate_rad_s"],
            hold_timeout_s=p["hold_timeout_s"],
            damping_kd=p["damping_kd"],
            joint_lower=lower,
            joint_upper=upper,
        )
        period = 1.0 / p["control_rate_hz"] if p["control_rate_hz"] > 0 else facts.control_dt
        if abs(period - facts.control_dt) > 1e-9:
            log.warning(f"control period {period:.4f} s differs from the policy's control_dt {facts.control_dt} s")
        if p["prewarm_lead_s"] >= period:
            raise LmrlError(
                f"prewarm_lead_s {p['prewarm_lead_s']} s must be below the control period {period:.4f} s "
                "(about a millisecond, e.g. 0.001; 0 turns the prewarm off)"
            )
        core = ControllerCore(
            policy,
            safety,
            cmd_timeout_s=p["cmd_vel_timeout_s"],
            stats_window=int(p["stats_window"]),
            period_s=period,
            cmd_clamp=p["cmd_vel_clamp"],
            cmd_max_accel=p["cmd_vel_max_accel"],
        )
        self._order = command_order(facts.command_joint_names, p["command_joints"])
        self._joy = self._joystick(p["joy_layout"], p["joy_layouts_file"])
        if self._e_stop_latched:
            core.e_stop(time.monotonic(), True, "e_stop service, before configure")
        # Subscribe first, so the subscriptions are matched and fed by the time the node is activated.
        self.core = core
        self._subs = [
            self.create_subscription(JointState, "joint_states", self._on_joint_state, qos_profile_sensor_data),
            self.create_subscription(Imu, "imu/data", self._on_imu, qos_profile_sensor_data),
            self.create_subscription(Twist, "cmd_vel", self._on_cmd_vel, 10),
            self.create_subscription(Empty, "heartbeat", self._on_heartbeat, qos_profile_sensor_data),
            self.create_subscription(Joy, "joy", self._on_joy, qos_profile_sensor_data),
        ]
        timeout = p["joint_states_timeout_s"]
        topic = self.resolve_topic_name("joint_states")
        log.info(f"policy {policy.path} loaded; waiting up to {timeout} s for {topic}")
        msg = self._wait_for(JointState, "joint_states", timeout)
        if len(msg.position) != len(msg.name):
            raise LmrlError(f"{topic} has {len(msg.name)} names but {len(msg.position)} positions")
        jmap = core.joint_map(msg.name)  # raises PolicyMismatchError naming the missing joints
        if jmap.extra:
            log.info(f"joint_states joints not used by the policy: {jmap.extra}")
        imu = self._wait_for(Imu, "imu/data", timeout)
        core.on_joint_state(time.monotonic(), msg.name, msg.position, msg.velocity)
        core.on_imu(time.monotonic(), *_imu_values(imu))
        if "forward" in p["outputs"]:
            self._pubs["forward"] = self.create_lifecycle_publisher(Float64MultiArray, "joint_commands", COMMAND_QOS)
        if "trajectory" in p["outputs"]:
            self._pubs["trajectory"] = self.create_lifecycle_publisher(JointTrajectory, "joint_trajectory", COMMAND_QOS)
        self._forward = self._forward_template(p["forward_layout"])
        self._trajectory = JointTrajectory(
            joint_names=list(facts.command_joint_names),
            points=[JointTrajectoryPoint(time_from_start=_duration(period))],
        )
        self._diag_timer = self.create_timer(p["diagnostics_period_s"], self._publish_diagnostics)
        held = f" (+{len(facts.held_joint_names)} held at their default angles)" if facts.held_joint_names else ""
        log.info(
            f"configured: robot {facts.robot}, {facts.num_joints} joints{held}, observation {facts.obs_size}, "
            f"outputs {p['outputs']}, limits {p['joint_limits']}"
        )

    def _joystick(self, layout: str, path: str) -> JoystickMapper | None:
        """The mapper of ``layout`` in ``path`` (empty: the shipped layouts); None for ``none``.

        Raises:
            lm_reward_learning.errors.ConfigError: if the file is invalid or lacks the layout.
        """
        if layout == "none":
            return None
        file = os.path.expanduser(path) if path else str(config_dir() / "ros" / "joystick" / "layouts.yaml")
        layouts = load_layouts(file)
        if layout not in layouts:
            raise LmrlError(f"joy_layout {layout!r} is not in {file} (layouts: {sorted(layouts)}; none: no joystick)")
        return JoystickMapper(layouts[layout])

    def _wait_for(self, msg_type: Any, topic: str, timeout: float) -> Any:
        """The next message on ``topic`` (waits in its own wait set, so it works inside a transition).

        Raises:
            LmrlError: if none arrives within ``timeout`` s.
        """
        ok, msg = wait_for_message(msg_type, self, topic, qos_profile=qos_profile_sensor_data, time_to_wait=timeout)
        if not ok or msg is None:
            raise LmrlError(
                f"no message on {self.resolve_topic_name(topic)} within {timeout} s: is the robot driver (or "
                "mujoco_sim_node) running in this namespace? The policy cannot be checked against the robot without it."
            )
        return msg

    def _forward_template(self, layout: str) -> Float64MultiArray:
        msg = Float64MultiArray()
        j = len(self._order)
        if layout == "position_kp_kd":
            msg.layout.dim = [
                MultiArrayDimension(label="field", size=3, stride=3 * j),
                MultiArrayDimension(label="joint", size=j, stride=j),
            ]
        else:
            msg.layout.dim = [MultiArrayDimension(label="joint", size=j, stride=j)]
        self._layout = layout
        return msg

    def _teardown(self) -> None:
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs = {}
        for timer in (self._timer, self._watchdog_timer, self._prewarm_timer, self._diag_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self._timer = self._watchdog_timer = self._prewarm_timer = self._diag_timer = None
        self.core = None

    # ------------------------------------------------------------------ inputs
    def _on_joint_state(self, msg: JointState) -> None:
        if self.core is not None:
            self.core.on_joint_state(time.monotonic(), msg.name, msg.position, msg.velocity)

    def _on_imu(self, msg: Imu) -> None:
        if self.core is not None:
            self.core.on_imu(time.monotonic(), *_imu_values(msg))

    def _on_cmd_vel(self, msg: Twist) -> None:
        if self.core is not None:
            self.core.on_command(time.monotonic(), msg.linear.x, msg.linear.y, msg.angular.z)

    def _on_heartbeat(self, _msg: Empty) -> None:
        if self.core is not None:
            self.core.on_heartbeat(time.monotonic())

    def _on_joy(self, msg: Joy) -> None:
        core, joy = self.core, self._joy
        if core is None:
            return
        now = time.monotonic()
        if self.params["joy_heartbeat"]:
            core.on_heartbeat(now)
        if joy is None:
            return
        update = joy.update(msg.buttons, msg.axes)
        for mode in update.requests:
            ok, message = self._request(mode, "joystick")
            log = self.get_logger().info if ok else self.get_logger().warning
            log(f"joystick asked for {mode.value}: {message}")
        if update.velocity is not None:
            core.on_command(now, *update.velocity)

    # ------------------------------------------------------------------ operator services
    def _on_mode_service(self, mode: Mode, response: Trigger.Response) -> Trigger.Response:
        response.success, response.message = self._request(mode, "service")
        return response

    def _request(self, mode: Mode, source: str) -> tuple[bool, str]:
        """Ask the core for ``mode``; publish what changed at once. Returns ``(success, message)``."""
        core = self.core
        if core is None or self._timer is None:
            return False, f"cannot switch to {mode.value}: the controller is not active (lifecycle state)"
        try:
            cmd = core.request(time.monotonic(), mode, source)
        except TransitionRefusedError as exc:
            return False, str(exc)
        if cmd is not None:
            self._publish_command(cmd)
        self._publish_state(core.mode.value, core.supervisor.reason)
        return True, f"{core.mode.value}: {core.supervisor.reason}"

    def _on_e_stop_service(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        """``data: true`` engages the e-stop (damping at once, latched), ``false`` releases it."""
        now = time.monotonic()
        self._e_stop_latched = bool(request.data)
        core = self.core
        if core is not None:
            cmd = core.e_stop(now, bool(request.data), "e_stop service")
            if cmd is not None and self._timer is not None:
                self._publish_command(cmd)
            self._publish_state(core.mode.value, core.supervisor.reason)
        state = "engaged" if request.data else "released"
        response.success = True
        response.message = f"e-stop {state}" + (
            "; ask for passive (~/passive) to leave damping" if not request.data and core is not None else ""
        )
        self.get_logger().warning(response.message)
        return response

    # ------------------------------------------------------------------ control
    def _tick(self) -> None:
        core = self.core
        if core is None:
            return
        try:
            cmd = core.tick(time.monotonic())
        except Exception:
            self.get_logger().error(f"control tick failed, damping: {traceback.format_exc()}")
            self._emergency_damping()
            return
        self._publish_command(cmd)
        if core.mode.value != self._published_state:
            self._publish_state(core.mode.value, core.supervisor.reason)

    def _prewarm(self) -> None:
        """``prewarm_lead_s`` before a tick: the network once, to refill the CPU caches (policy mode only)."""
        core = self.core
        if core is not None:
            core.prewarm()

    def _watchdog(self) -> None:
        core = self.core
        if core is None:
            return
        cmd = core.watchdog(time.monotonic())
        if cmd is not None:
            self._publish_command(cmd)
            self._publish_state(core.mode.value, core.supervisor.reason)

    def _publish_command(self, cmd: JointCommand) -> None:
        pub = self._pubs.get("forward")
        if pub is not None:
            self._forward.data = pack_forward(cmd, self._order, self._layout)
            pub.publish(self._forward)
        pub = self._pubs.get("trajectory")
        if pub is not None:
            point = self._trajectory.points[0]
            point.positions = cmd.positions.tolist()
            point.velocities = cmd.velocities.tolist()
            pub.publish(self._trajectory)

    def _stop_commanding(self) -> None:
        """Stop the control and watchdog timers; if commanding, send damping (publishers must still be enabled)."""
        for timer in (self._timer, self._watchdog_timer, self._prewarm_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self._timer = self._watchdog_timer = self._prewarm_timer = None
        if self.core is not None and self.core.mode is not Mode.IDLE:
            self._publish_command(self.core.deactivate(time.monotonic()))
            self._publish_state("inactive", "deactivated: damping command sent")
            for pub in (*self._pubs.values(), self._state_pub):  # the last word reaches the driver before we go
                pub.wait_for_all_acked(RclpyDuration(seconds=LAST_WORD_ACK_TIMEOUT_S))
            self.get_logger().info("deactivated: damping command sent")

    def _emergency_damping(self) -> None:
        core = self.core
        if core is None:
            return
        cmd = core.supervisor.fault(time.monotonic(), "control tick failed")
        self._publish_command(cmd)
        self._publish_state(core.mode.value, core.supervisor.reason)

    # ------------------------------------------------------------------ reporting
    def _publish_state(self, state: str, reason: str = "") -> None:
        self._published_state = state
        self._state_pub.publish(String(data=f"{state}: {reason}" if reason else state))

    def _publish_diagnostics(self) -> None:
        core = self.core
        if core is None:
            return
        d = core.diagnostics()
        status = DiagnosticStatus(
            level=_LEVELS[core.mode],
            name=f"{self.get_fully_qualified_name()}: control loop",
            message=f"{d['mode']}: {d['reason']}",
            hardware_id=core.facts.robot,
            values=[KeyValue(key=k, value=_fmt(v)) for k, v in d.items() if k not in ("mode", "reason")]
            + [KeyValue(key="mode", value=d["mode"]), KeyValue(key="policy", value=str(core.policy.path))],
        )
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(arr)


def _imu_values(msg: Imu) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(orientation x y z w, angular velocity rad/s)`` of an IMU message."""
    q, w = msg.orientation, msg.angular_velocity
    return (q.x, q.y, q.z, q.w), (w.x, w.y, w.z)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return " ".join(f"{x:.4g}" for x in v)
    return str(v)


def _duration(seconds: float) -> Duration:
    ns = round(seconds * 1e9)
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _set_scheduler(priority: int, logger: Any) -> None:
    """SCHED_FIFO at ``priority`` for every thread of this process (0: back to SCHED_OTHER).

    A real-time priority lets the control thread (and the DDS threads delivering its inputs) preempt
    other processes at once when the timer fires; without CAP_SYS_NICE it is refused and logged.
    """
    policy, param = (os.SCHED_FIFO, os.sched_param(priority)) if priority > 0 else (os.SCHED_OTHER, os.sched_param(0))
    try:
        for tid in os.listdir("/proc/self/task"):
            os.sched_setscheduler(int(tid), policy, param)
    except (PermissionError, OSError) as exc:
        logger.warning(f"could not set the scheduling policy (realtime_priority {priority}): {exc}")
        return
    if priority > 0:
        logger.info(f"threads run SCHED_FIFO at priority {priority} while active")


def main(args: list[str] | None = None) -> None:
    """Run the node until Ctrl-C or SIGTERM on the executor of its ``executor`` parameter; its shutdown transition
    sends damping before exiting if it was commanding."""
    spin_node(PolicyController, "policy_controller", args, executor=lambda node: node.params["executor"])


if __name__ == "__main__":
    main()
