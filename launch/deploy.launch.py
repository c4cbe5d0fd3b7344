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
(simulated robot), ``sim_mode`` (``realtime``/``lockstep``), ``activate`` (default: ``sim``).
"""

from __future__ import annotations

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
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
    ("joy_layout", "unitree", "gamepad layout of joy (config/ros/joystick/layouts.yaml): unitree, xbox, none"),
)


def _config(*parts: str) -> PathJoinSubstitution:
    """A file in the installed ``share/lm_reward_learning/config/``."""
    return PathJoinSubstitution([FindPackageShare(PACKAGE), "config", *parts])


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
                "joy_layout": LaunchConfiguration("joy_layout"),
            },
        ],
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
    return LaunchDescription([*arguments, sim, controller, activate_when_configured, configure])
