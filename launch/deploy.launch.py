"""Run an exported policy on a robot, or sim-to-sim: ``ros2 launch lm_reward_learning deploy.launch.py sim:=true``.

Starts ``policy_controller`` (lifecycle node, ``config/ros/policy_controller.yaml``) with ``policy``,
and with ``sim:=true`` also ``mujoco_sim_node`` (``config/ros/mujoco_sim_node.yaml``), which speaks the
topics of a robot driver (``joint_states``, ``imu/data``, ``odom``, ``/tf``; it follows
``joint_commands``). The controller is configured at start (load the policy, check it against the
robot's ``joint_states``; a mismatch leaves it unconfigured with the reason in the log) and activated
once configured when ``activate:=true`` (the default in simulation only). On hardware, activate it
yourself when the robot is ready: ``ros2 lifecycle set /policy_controller activate``; ``deactivate``
sends a damping command. Drive it with ``cmd_vel`` (``geometry_msgs/Twist``).

Arguments (``ros2 launch ... --show-args``): ``sim`` (``true``/``false``), ``policy`` (a directory with
``policy.onnx`` + ``deploy.yaml``, relative to the working directory, or an ``.onnx`` file), ``robot``
(simulated robot; its URDF for RViz), ``sim_mode`` (``realtime``/``lockstep``), ``activate`` (default: ``sim``),
``start_mode`` (``passive``: the operator stands the robot up; ``policy``: unattended, simulation only),
``heartbeat_timeout_s`` (0.2; ``0.0`` with ``start_mode:=policy`` for an unattended simulation),
``joy_layout`` (gamepad on ``joy``), ``driver`` (with ``sim:=false``: ``unitree_go2`` starts ``unitree_go2_bridge``),
``record`` (``true``: ``deploy_recorder`` writes an MCAP bag of the deployment).
With ``sim:=false`` ``robot_state_publisher`` publishes ``robot_description`` and the links' TF from ``joint_states``.
"""

from __future__ import annotations

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.conditions import IfCondition, UnlessCondition
from launch.events import matches_action
from launch.substitutions import Command, LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

PACKAGE = "lm_reward_learning"

ARGUMENTS = (
    ("sim", "true", "simulate the robot with mujoco_sim_node (false: a real robot driver provides the topics)"),
    ("policy", "policies/go2/flat_walk", "policy directory (policy.onnx + deploy.yaml) or .onnx file"),
    ("robot", "go2", "robot simulated by mujoco_sim_node: go2 or g1"),
    ("sim_mode", "realtime", "mujoco_sim_node pacing: realtime or lockstep (one control period per command)"),
    (
        "start_mode",
        "passive",
        "policy_controller after activate: passive (stand it up with ~/stand_up, ~/policy or the gamepad) or policy "
        "(stands up and walks unattended: simulation only)",
    ),
    (
        "heartbeat_timeout_s",
        "0.2",
        "policy_controller damps when the operator's heartbeat (std_msgs/Empty on heartbeat) is older; 0.0: none "
        "needed (an unattended simulation)",
    ),
    ("joy_layout", "unitree", "gamepad layout of joy (config/ros/joystick/layouts.yaml): unitree, xbox, none"),
    (
        "driver",
        "unitree_go2",
        "with sim:=false: unitree_go2 or unitree_g1 (start unitree_go2_bridge / unitree_g1_bridge to the robot's "
        "/lowcmd, /lowstate) or none (your own driver publishes joint_states and imu/data and follows joint_commands)",
    ),
    ("record", "false", "record the deployment (low state, commands, safety state) to bags/deploy_<time> (MCAP)"),
)


def _config(*parts: str) -> PathJoinSubstitution:
    """A file in the installed ``share/lm_reward_learning/config/``."""
    return PathJoinSubstitution([FindPackageShare(PACKAGE), "config", *parts])


def _urdf() -> PathJoinSubstitution:
    """The installed URDF of the ``robot`` argument (``config/ros/urdf/<robot>.urdf``)."""
    return PathJoinSubstitution(
        [FindPackageShare(PACKAGE), "config", "ros", "urdf", [LaunchConfiguration("robot"), ".urdf"]]
    )


def _driver(name: str) -> IfCondition:
    """True with ``sim:=false driver:=<name>``."""
    sim, driver = LaunchConfiguration("sim"), LaunchConfiguration("driver")
    return IfCondition(PythonExpression(["'", sim, "' == 'false' and '", driver, f"' == '{name}'"]))


def generate_launch_description() -> LaunchDescription:
    """The launch description: arguments, the simulator (sim:=true), the controller and its transitions."""
    arguments = [
        DeclareLaunchArgument(name, default_value=default, description=doc) for name, default, doc in ARGUMENTS
    ]
    arguments.append(
        DeclareLaunchArgument(
            "activate",
            default_value=LaunchConfiguration("sim"),
            description="activate the controller once configured (default: only in simulation)",
        )
    )
    sim = Node(
        package=PACKAGE,
        executable="mujoco_sim_node",
        name="mujoco_sim_node",
        output="screen",
        parameters=[
            _config("ros", "mujoco_sim_node.yaml"),
            {"robot": LaunchConfiguration("robot"), "mode": LaunchConfiguration("sim_mode")},
        ],
        condition=IfCondition(LaunchConfiguration("sim")),
    )
    controller = LifecycleNode(
        package=PACKAGE,
        executable="policy_controller",
        name="policy_controller",
        namespace="",
        output="screen",
        emulate_tty=True,
        parameters=[
            _config("ros", "policy_controller.yaml"),
            {
                "policy": LaunchConfiguration("policy"),
                "start_mode": LaunchConfiguration("start_mode"),
                "heartbeat_timeout_s": LaunchConfiguration("heartbeat_timeout_s"),
                "joy_layout": LaunchConfiguration("joy_layout"),
            },
        ],
    )
    # On hardware: the robot model for RViz (robot_description, transient local) and the TF of its links from
    # joint_states; in simulation mujoco_sim_node publishes both.
    description = Node(
        package="robot_state_publisher",
        executable="robot_state_publisher",
        name="robot_state_publisher",
        parameters=[{"robot_description": ParameterValue(Command(["cat ", _urdf()]), value_type=str)}],
        condition=UnlessCondition(LaunchConfiguration("sim")),
    )
    # The Unitree robot's bridge: sim:=false and driver:=unitree_go2 / unitree_g1.
    unitree_go2 = Node(
        package=PACKAGE,
        executable="unitree_go2_bridge",
        name="unitree_go2_bridge",
        output="screen",
        parameters=[_config("ros", "unitree_go2_bridge.yaml")],
        condition=_driver("unitree_go2"),
    )
    unitree_g1 = Node(
        package=PACKAGE,
        executable="unitree_g1_bridge",
        name="unitree_g1_bridge",
        output="screen",
        parameters=[_config("ros", "unitree_g1_bridge.yaml")],
        condition=_driver("unitree_g1"),
    )
    recorder = Node(
        package=PACKAGE,
        executable="deploy_recorder",
        name="deploy_recorder",
        output="screen",
        parameters=[_config("ros", "deploy_recorder.yaml"), {"driver": LaunchConfiguration("driver")}],
        condition=IfCondition(LaunchConfiguration("record")),
    )
    configure = EmitEvent(
        event=ChangeState(
            lifecycle_node_matcher=matches_action(controller), transition_id=Transition.TRANSITION_CONFIGURE
        )
    )
    activate_when_configured = RegisterEventHandler(
        OnStateTransition(
            target_lifecycle_node=controller,
            start_state="configuring",
            goal_state="inactive",
            entities=[
                EmitEvent(
                    event=ChangeState(
                        lifecycle_node_matcher=matches_action(controller), transition_id=Transition.TRANSITION_ACTIVATE
                    )
                )
            ],
        ),
        condition=IfCondition(LaunchConfiguration("activate")),
    )
    return LaunchDescription(
        [
            *arguments,
            sim,
            description,
            unitree_go2,
            unitree_g1,
            recorder,
            controller,
            activate_when_configured,
            configure,
        ]
    )
