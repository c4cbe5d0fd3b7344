"""Parameter tables of every node (ROS-free): names, defaults, meanings and checks.

One table per node: the loop's (``trainer_node``, ``session_node``, ``feedback_node``,
``reward_synth_node``) and the deployment's (``policy_controller``, ``mujoco_sim_node``, the Unitree
bridges, ``deploy_recorder``). ``config/ros/<node>.yaml`` holds the same values under
``/**/<node>: ros__parameters:`` (the node in any namespace; tests check that the two agree and that the
nodes load the files as the launch files pass them); :func:`lm_reward_learning.ros.params.declare_parameters`
declares a table on a node and refuses bad values with :class:`ParameterError`.

The files hold no empty lists: rcl's YAML parser reads ``[]`` as "not set" (the node then takes the
parameter's empty default), so "empty" parameters are left out of the files, with a comment.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lm_reward_learning.bilevel.config import FEEDBACK_BACKENDS, SYNTHESIS_BACKENDS
from lm_reward_learning.deploy.commands import FORWARD_LAYOUTS
from lm_reward_learning.robots import ROBOTS
from lm_reward_learning.rollout import CAMERA_VIEWS

Check = Callable[[Any], "str | None"]
"""A check returns None for a good value, else what a good value is (``"must be > 0"``)."""


class ParameterError(ValueError):
    """One or more node parameters are invalid; the message lists each with what a valid value is."""


@dataclass(frozen=True)
class Param:
    """One node parameter.

    Attributes:
        name: Parameter name (snake_case, unit suffix where it has a unit: ``_s``, ``_hz``).
        default: Default value; its type is the parameter's type (``0.0`` float, ``0`` int, ``[0.0]``
            float array, ``""`` string, ``False`` bool).
        description: What it does, with unit.
        check: Validation, or None.
        read_only: Whether it can only be set at start-up.
    """

    name: str
    default: Any
    description: str
    check: Check | None = None
    read_only: bool = True


def positive(v: Any) -> str | None:
    """Check: a finite number > 0."""
    return None if isinstance(v, (int, float)) and math.isfinite(v) and v > 0 else "must be a number > 0"


def non_negative(v: Any) -> str | None:
    """Check: a finite number >= 0."""
    return None if isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 else "must be a number >= 0"


def one_of(*choices: str) -> Check:
    """Check: one of ``choices``."""
    return lambda v: None if v in choices else f"must be one of {list(choices)}"


def empty_or_one_of(*choices: str) -> Check:
    """Check: empty (meaning "the default") or one of ``choices``."""
    return lambda v: None if v == "" or v in choices else f"must be empty or one of {list(choices)}"


def length(n: int) -> Check:
    """Check: a list of ``n`` finite numbers."""

    def check(v: Any) -> str | None:
        ok = len(v) == n and all(math.isfinite(x) for x in v)
        return None if ok else f"must be a list of {n} finite numbers"

    return check


def subset_of(*choices: str) -> Check:
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


def learn_preset(v: Any) -> str | None:
    """Check: the name of a learn preset, ``config/learn/<name>.yaml``."""
    from lm_reward_learning.config import config_dir

    presets = sorted(p.stem for p in (config_dir() / "learn").glob("*.yaml"))
    return None if v in presets else f"must be a learn preset: one of {presets} (config/learn/<preset>.yaml)"


def problems(params: Sequence[Param], values: dict[str, Any]) -> list[str]:
    """One line per invalid value: ``name=value what-it-must-be (meaning)``; empty when all are good."""
    out = []
    for p in params:
        err = p.check(values[p.name]) if p.check is not None else None
        if err:
            out.append(f"{p.name}={values[p.name]!r} {err} ({p.description})")
    return out


TRAINER_NODE: tuple[Param, ...] = (
    Param("robot", "go2", "robot of goals that name none", one_of(*ROBOTS)),
    Param("runs_dir", "runs", "root of the run directories (relative to the working directory)"),
    Param("train_config", "", "training YAML; empty: config/train/<robot>.yaml"),
    Param(
        "backend",
        "",
        "trainer backend: empty (the training config's, mujoco) or isaaclab",
        empty_or_one_of("mujoco", "isaaclab"),
    ),
    Param("device", "", "torch/Warp device of the isaaclab backend (cpu, cuda:0); empty: the config's"),
    Param("iterations", 0, "PPO iterations of goals that give none; 0: the training config's", non_negative),
    Param("num_envs", 0, "parallel simulations; 0: the training config's", non_negative),
    Param("rollout_duration_s", 5.0, "rollout length of goals that give none, s", positive),
    Param("rollout_command", [0.8, 0.0, 0.0], "rollout velocity command [v_x m/s, v_y m/s, yaw rad/s]", length(3)),
    Param("camera_view", "side", "rollout camera side", one_of(*CAMERA_VIEWS)),
    Param("image_width", 320, "rollout image width, pixels", positive),
    Param("image_height", 240, "rollout image height, pixels", positive),
    Param("realtime_factor", 1.0, "rollout publishing speed vs simulated time; 0: as fast as possible", non_negative),
    Param("odom_frame", "odom", "TF parent frame of the base (the simulator's world frame)"),
    Param("base_frame", "", "TF frame of the base; empty: the robot's base body name (go2: base)"),
    Param("camera_frame", "rollout_camera", "frame_id of rollout images"),
    Param("record_bag", True, "record the rollout to <run>/rollout_bag (rosbag2 MCAP)"),
    Param(
        "cancel_timeout_s", 10.0, "wait this long for the worker to stop on cancel before terminating it, s", positive
    ),
    Param("worker_timeout_s", 600.0, "abort a goal whose worker reports nothing for this long, s", positive),
    Param("feedback_period_s", 0.5, "minimum time between rollout feedback messages, s", positive),
)
"""Parameters of ``trainer_node`` (``config/ros/trainer_node.yaml`` holds the same defaults)."""


SESSION_NODE: tuple[Param, ...] = (
    Param("runs_dir", "runs", "root of new learn runs (relative to the working directory)"),
    Param("policies_dir", "policies", "root of the exported ONNX policies"),
    Param("preset", "default", "learn preset: config/learn/<preset>.yaml (default, smoke)", learn_preset),
    Param("learn_config", "", "a learn YAML used instead of the preset; empty: the preset"),
    Param("video", "", "expert video of goals that give none; empty: the learn config's (the bundled clip)"),
    Param("robot", "", "robot of goals that name none; empty: the learn config's", empty_or_one_of(*ROBOTS)),
    Param(
        "feedback",
        "",
        "feedback backend of goals that name none; empty: the learn config's",
        empty_or_one_of(*FEEDBACK_BACKENDS),
    ),
    Param(
        "synthesis",
        "",
        "synthesis backend of goals that name none; empty: the learn config's",
        empty_or_one_of(*SYNTHESIS_BACKENDS),
    ),
    Param("iterations", 0, "loop iterations of goals that give none; 0: the learn config's", non_negative),
    Param("base_url", "", "OpenAI-compatible endpoint of both levels (as lmrl learn --base-url); empty: the config's"),
    Param("model", "", "model name of both levels (as lmrl learn --model); empty: the config's"),
    Param("api_key_env", "", "environment variable holding the API key; empty: the config's (OPENAI_API_KEY)"),
    Param("autostart", False, "run one session from these parameters at start-up (learn.launch.py does)"),
    Param("server_timeout_s", 60.0, "wait this long for trainer_node, feedback_node, reward_synth_node, s", positive),
    Param("train_timeout_s", 7200.0, "abort a training goal (PPO + rollout) that takes longer, s", positive),
    Param("feedback_timeout_s", 900.0, "abort a feedback goal that takes longer, s", positive),
    Param("synthesis_timeout_s", 900.0, "abort a synthesis goal that takes longer, s", positive),
    Param("lost_server_s", 20.0, "abort a step whose action server has been gone this long, s", positive),
    Param("cancel_timeout_s", 30.0, "on cancel, wait this long for the running step to stop, s", positive),
)
"""Parameters of ``session_node`` (``config/ros/session_node.yaml`` holds the same defaults)."""

FEEDBACK_NODE: tuple[Param, ...] = (
    Param(
        "rollout_source",
        "bag",
        "robot frames from the rollout bag, or from live rollout/image messages",
        one_of("bag", "live"),
    ),
    Param("live_gap_s", 1.0, "live: a pause this long between images starts a new rollout, s", positive),
    Param("live_max_frames", 3000, "live: keep at most this many images of the last rollout", positive),
)
"""Parameters of ``feedback_node`` (``config/ros/feedback_node.yaml`` holds the same defaults)."""

REWARD_SYNTH_NODE: tuple[Param, ...] = (
    Param("publish_attempts", True, "also publish rejected attempts on reward_program (VALIDATION_FAILED)"),
)
"""Parameters of ``reward_synth_node`` (``config/ros/reward_synth_node.yaml`` holds the same defaults)."""


OUTPUTS = ("forward", "trajectory")
"""Joint command messages of ``policy_controller``: ``forward`` (``std_msgs/Float64MultiArray`` on
``joint_commands``) and ``trajectory`` (``trajectory_msgs/JointTrajectory`` on ``joint_trajectory``)."""


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
        Param(
            "prewarm_lead_s",
            0.001,
            "run the policy once this long before each control tick, so the tick's inference finds the network in "
            "the CPU caches (as fast as back to back), s; 0: off; must be below the control period",
            non_negative,
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
