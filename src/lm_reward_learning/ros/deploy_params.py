"""Parameter tables of the deployment nodes (``policy_controller``, ``mujoco_sim_node``), ROS-free.

``config/ros/<node>.yaml`` holds the same values under ``/**/<node>: ros__parameters:`` (the node in
any namespace; a test checks that they agree and that the nodes load the files as the launch files pass
them). The records are :class:`~lm_reward_learning.ros.node_params.Param` (name, default,
meaning with unit, check). :func:`declare_parameters` declares a table on a node; unlike
:func:`lm_reward_learning.ros.params.declare_parameters` it accepts empty-list defaults (``[]``,
"not set"), which rclpy would otherwise type as byte arrays, refuses a value of the wrong type or a
key that is not a parameter (a typo), logs which parameters were given at start-up (and warns when a
parameter file matched nothing), and it can re-read the values later (``policy_controller`` reads
them at each configure).

The files hold no empty lists: rcl's YAML parser reads ``[]`` as "not set" (the node then takes the
parameter's empty default), so "empty" parameters are left out of the files, with a comment.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from lm_reward_learning.deploy.commands import FORWARD_LAYOUTS
from lm_reward_learning.robots import ROBOTS
from lm_reward_learning.ros.node_params import (
    Param,
    ParameterError,
    non_negative,
    one_of,
    positive,
    problems,
    report_start_up_parameters,
    start_up_overrides,
)

OUTPUTS = ("forward", "trajectory")
"""Joint command messages of ``policy_controller``: ``forward`` (``std_msgs/Float64MultiArray`` on
``joint_commands``) and ``trajectory`` (``trajectory_msgs/JointTrajectory`` on ``joint_trajectory``)."""


def subset_of(*choices: str) -> Any:
    """Check: a non-empty list of distinct values from ``choices``."""

    def check(v: Any) -> str | None:
        ok = isinstance(v, list) and v and len(set(v)) == len(v) and all(x in choices for x in v)
        return None if ok else f"must be a non-empty list of distinct values from {list(choices)}"

    return check


def names(v: Any) -> str | None:
    """Check: a list of distinct non-empty names (may be empty)."""
    ok = isinstance(v, list) and all(isinstance(x, str) and x for x in v) and len(set(v)) == len(v)
    return None if ok else "must be a list of distinct non-empty names"


def numbers(v: Any) -> str | None:
    """Check: a list of finite numbers (may be empty)."""
    ok = isinstance(v, list) and all(isinstance(x, (int, float)) and math.isfinite(x) for x in v)
    return None if ok else "must be a list of finite numbers"


def non_negative_3(v: Any) -> str | None:
    """Check: a list of 3 finite numbers >= 0."""
    ok = isinstance(v, list) and len(v) == 3 and all(isinstance(x, (int, float)) and 0 <= x < math.inf for x in v)
    return None if ok else "must be a list of 3 finite numbers >= 0"


POLICY_CONTROLLER: tuple[Param, ...] = tuple(
    dataclasses.replace(p, read_only=p.name == "executor")
    for p in (
        Param("policy", "policies/go2/flat_walk", "policy directory (policy.onnx + deploy.yaml) or .onnx file"),
        Param("control_rate_hz", 0.0, "control loop rate, Hz; 0: 1 / control_dt of the policy (50 Hz)", non_negative),
        Param(
            "outputs",
            list(OUTPUTS),
            "joint command messages to publish: forward and/or trajectory",
            subset_of(*OUTPUTS),
        ),
        Param("forward_layout", "position_kp_kd", "forward command array layout", one_of(*FORWARD_LAYOUTS)),
        Param("command_joints", [], "joint order of the forward command array; empty: the policy's joint order", names),
        Param(
            "joint_limits",
            "robot",
            "clamp targets to the robot model's joint ranges (robot) or not (none)",
            one_of("robot", "none"),
        ),
        Param("joint_limit_margin_rad", 0.02, "targets stay this far inside the joint ranges, rad", non_negative),
        Param("joint_states_timeout_s", 5.0, "configure waits this long for a joint_states message, s", positive),
        Param("sensor_timeout_s", 0.1, "joint_states or IMU older than this: damping, s", positive),
        Param(
            "watchdog_period_s",
            0.005,
            "period of the input watchdog's own timer (damping within sensor_timeout_s + this), s",
            positive,
        ),
        Param("cmd_vel_timeout_s", 0.5, "a cmd_vel older than this is replaced by zero, s; 0: never", non_negative),
        Param(
            "cmd_vel_clamp",
            True,
            "clamp cmd_vel to the policy's trained command ranges (deploy.yaml command_ranges, widened to include 0)",
        ),
        Param(
            "cmd_vel_max_accel",
            [1.0, 1.0, 2.0],
            "acceleration limit of the command [v_x m/s², v_y m/s², yaw rate rad/s²]; 0: no limit on that axis",
            non_negative_3,
        ),
        Param(
            "start_mode",
            "passive",
            "mode after activate: passive (limp; the operator stands the robot up) or policy (stand up, then the "
            "policy, unattended: simulation)",
            one_of("passive", "policy"),
        ),
        Param("stand_up_s", 2.0, "stand_up: ramp from the present to the default pose, s", non_negative),
        Param("sit_down_s", 2.0, "sit_down: ramp from the present to the sitting pose, then passive, s", non_negative),
        Param(
            "heartbeat_timeout_s",
            0.2,
            "no message on heartbeat (std_msgs/Empty) for this long: damping (stand_up refused), s; 0: not needed",
            non_negative,
        ),
        Param(
            "joy_layout",
            "unitree",
            "gamepad layout of joy (sensor_msgs/Joy) in joy_layouts_file: unitree, xbox; none: ignore joy",
        ),
        Param("joy_layouts_file", "", "YAML of gamepad layouts; empty: the shipped config/ros/joystick/layouts.yaml"),
        Param("joy_heartbeat", False, "joy messages also count as the operator's heartbeat"),
        Param("max_roll_rad", 0.7, "|roll| above this: damping, rad", positive),
        Param("max_pitch_rad", 0.7, "|pitch| above this: damping, rad", positive),
        Param("max_target_rate_rad_s", 40.0, "largest change of a joint target, rad/s", positive),
        Param("hold_timeout_s", 0.5, "a hold on non-finite input longer than this: damping, s", positive),
        Param("damping_kd", 1.0, "joint damping of passive and damping (kp 0), N·m·s/rad", non_negative),
        Param("diagnostics_period_s", 1.0, "period of /diagnostics, s", positive),
        Param("stats_window", 500, "control ticks in the timing percentiles", positive),
        Param(
            "realtime_priority",
            0,
            "SCHED_FIFO priority (1-99) of the node's threads while active (needs CAP_SYS_NICE); 0: normal scheduling",
            lambda v: None if isinstance(v, int) and 0 <= v <= 99 else "must be an integer in [0, 99]",
        ),
        Param(
            "executor",
            "single_threaded",
            "rclpy executor: events (EventsExecutor, experimental in Jazzy) or single_threaded",
            one_of("events", "single_threaded"),
        ),
    )
)
"""Parameters of ``policy_controller`` (``config/ros/policy_controller.yaml``); read at each configure, so all
but ``executor`` can be changed between configures (``ros2 param set``)."""

FILE_CHOICES: dict[str, dict[str, Any]] = {"policy_controller": {"executor": "events"}}
"""Values of the shipped ``config/ros/<node>.yaml`` that differ from the code's defaults on purpose: the
shipped controller uses rclpy's EventsExecutor (lower loop jitter, ``benchmarks/bench_controller.py``),
while a node started without the file falls back to the stable single-threaded executor."""

MUJOCO_SIM_NODE: tuple[Param, ...] = (
    Param("robot", "go2", "robot to simulate", one_of(*ROBOTS)),
    Param(
        "mode",
        "realtime",
        "realtime: paced by the wall clock; lockstep: one control_dt per command",
        one_of("realtime", "lockstep"),
    ),
    Param("realtime_factor", 1.0, "realtime mode: simulated seconds per wall-clock second", positive),
    Param("control_dt", 0.02, "lockstep mode: simulated time per received command, s", positive),
    Param("publish_rate_hz", 200.0, "realtime mode: joint_states and imu/data rate, Hz of simulated time", positive),
    Param("odom_rate_hz", 50.0, "realtime mode: odom, /tf and /clock rate, Hz of simulated time", positive),
    Param("idle_publish_period_s", 0.05, "lockstep mode: republish the state this often without commands, s", positive),
    Param(
        "command_interface",
        "forward",
        "which command to follow: forward (joint_commands) or trajectory (joint_trajectory)",
        one_of(*OUTPUTS),
    ),
    Param("command_joints", [], "joint order of the forward command array; empty: the robot's joint order", names),
    Param("initial_joint_pos", [], "initial joint positions, rad, robot joint order; empty: the default pose", numbers),
    Param("initial_base_height", 0.0, "initial base height, m; 0: the robot's spawn height", non_negative),
    Param("odom_frame", "odom", "odometry / TF parent frame (the simulator's world)"),
    Param("base_frame", "", "TF frame of the base; empty: the robot's base body name (go2: base)"),
    Param(
        "publish_tf",
        True,
        "publish odom_frame -> base_frame and every body of the robot on /tf, foot frames on /tf_static",
    ),
    Param(
        "publish_robot_description",
        True,
        "publish the robot's URDF (config/ros/urdf/<robot>.urdf) on robot_description, transient local",
    ),
    Param("publish_clock", True, "publish the simulated time on /clock"),
    Param("stamp_source", "sim", "header stamps: sim (simulated time, as /clock) or wall", one_of("sim", "wall")),
)
"""Parameters of ``mujoco_sim_node`` (``config/ros/mujoco_sim_node.yaml``)."""


def _bridge_params(robot: str, base_frame: str) -> tuple[Param, ...]:
    """Parameters of ``unitree_<robot>_bridge``."""
    return (
        Param(
            "command_joints",
            [],
            f"joint order of joint_commands (position_kp_kd layout), as policy_controller's; empty: the {robot}'s "
            "joint order",
            names,
        ),
        Param("rate_hz", 500.0, "LowCmd rate, Hz (Unitree's low-level examples: 500)", positive),
        Param(
            "command_timeout_s",
            0.1,
            "joint_commands older than this: the bridge itself sends damping (kp 0, kd damping_kd), s",
            positive,
        ),
        Param("damping_kd", 1.0, "joint damping of the bridge's own damping command, N·m·s/rad", non_negative),
        Param("lowcmd_topic", "/lowcmd", "LowCmd topic (the robot's: /lowcmd)"),
        Param("lowstate_topic", "/lowstate", "LowState topic (the robot's: /lowstate)"),
        Param(
            "state_rate_hz",
            200.0,
            "most LowState messages per second republished as joint_states, imu/data, foot_force, Hz",
            positive,
        ),
        Param("base_frame", base_frame, "frame_id of imu/data (the URDF's root link)"),
        Param(
            "joy_rate_hz", 50.0, "rate of joy (the wireless remote as sensor_msgs/Joy, unitree layout), Hz", positive
        ),
    )


UNITREE_GO2_BRIDGE = _bridge_params("go2", "base")
"""Parameters of ``unitree_go2_bridge`` (``config/ros/unitree_go2_bridge.yaml``)."""
UNITREE_G1_BRIDGE = _bridge_params("g1", "pelvis")
"""Parameters of ``unitree_g1_bridge`` (``config/ros/unitree_g1_bridge.yaml``)."""

DEPLOY_RECORDER: tuple[Param, ...] = (
    Param("bag", "", "rosbag2 MCAP directory to create; empty: bags/deploy_<date>_<time> in the working directory"),
    Param("topics", [], "topics to record; empty: all of deploy_recorder.DEPLOY_TOPICS", names),
    Param(
        "driver",
        "unitree_go2",
        "robot driver whose /lowstate and /lowcmd to record: unitree_go2 (unitree_go), unitree_g1 (unitree_hg), none",
        one_of("unitree_go2", "unitree_g1", "none"),
    ),
)
"""Parameters of ``deploy_recorder`` (``config/ros/deploy_recorder.yaml``)."""


def declare_parameters(node: Any, params: Sequence[Param], source: str = "") -> dict[str, Any]:
    """Declare ``params`` on ``node`` (an rclpy node), log which were given at start-up, return the checked values.

    Values come from the node's parameter overrides (``--params-file`` files and ``-p`` arguments, as
    a launch file passes them) or the defaults. rcl's YAML parser turns an empty list (``[]``) into
    "not set"; a list parameter whose value is not set takes its (empty) default.

    Args:
        node: The rclpy node.
        params: Its parameter table.
        source: Where the node's parameters normally come from, for messages
            (``config/ros/policy_controller.yaml``).

    Raises:
        ParameterError: one paragraph listing every invalid value (wrong type, failed check) and every
            override that is not a parameter of the node (a misspelled key), and where to fix them.
    """
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.exceptions import InvalidParameterTypeException

    bad = []
    overrides = start_up_overrides(node)
    for p in params:
        empty_list = isinstance(p.default, list) and not p.default
        descriptor = ParameterDescriptor(description=p.description, read_only=p.read_only, dynamic_typing=empty_list)
        try:
            node.declare_parameter(p.name, p.default, descriptor)
        except InvalidParameterTypeException:
            kind = type(p.default).__name__
            bad.append(f"{p.name}={overrides[p.name]!r} must be a {kind} like {p.default!r} ({p.description})")
            node.declare_parameter(p.name, p.default, descriptor, ignore_override=True)
    unknown = sorted(n for n in overrides if not node.has_parameter(n))
    bad += [f"{n!r} is not a parameter of {node.get_name()} (misspelled?)" for n in unknown]
    report_start_up_parameters(node, params, overrides)
    values = {p.name: _plain(node.get_parameter(p.name).value, p.default) for p in params}
    bad += problems(params, values)
    if bad:
        where = f" (normally {source})" if source else ""
        raise ParameterError(
            f"invalid parameters of node {node.get_fully_qualified_name()!r}: {'; '.join(bad)}. They come from the "
            f"--params-file files{where} and -p arguments given to the node; fix them there."
        )
    return values


def read_parameters(node: Any, params: Sequence[Param]) -> dict[str, Any]:
    """The current values of ``params`` on ``node``, checked.

    Raises:
        ParameterError: listing every invalid value.
    """
    values = {p.name: _plain(node.get_parameter(p.name).value, p.default) for p in params}
    bad = problems(params, values)
    if bad:
        raise ParameterError(f"invalid parameters of node {node.get_name()!r}: " + "; ".join(bad))
    return values


def _plain(v: Any, default: Any) -> Any:
    """rclpy values as plain Python: arrays as lists; an unset or byte-typed empty list as ``[]``.

    rcl reads ``[]`` (YAML or ``-p``) as "not set" (None), and rclpy types an empty default as a byte
    array; for a parameter whose default is a list both mean the empty list.
    """
    byte_array = isinstance(v, (bytes, bytearray)) or (isinstance(v, list) and v and isinstance(v[0], bytes))
    if isinstance(default, list) and (v is None or byte_array):
        return []
    return list(v) if hasattr(v, "tolist") or isinstance(v, (list, tuple)) else v
