"""Watch rollouts in RViz, live or from a bag: ``ros2 launch lm_reward_learning view.launch.py [bag:=RUN/rollout_bag]``.

Starts RViz with ``config/rviz/lmrl.rviz`` (rollout image, TF of the robot's bodies, the robot's
model over a grid in ``odom``) and ``robot_state_publisher`` with the URDF of ``robot``
(``config/ros/urdf/<robot>.urdf``) for the RobotModel display. With ``bag:=<rosbag2 directory>`` it also
plays that rollout bag (``ros2 bag play --loop``); without, RViz shows whatever a running ``trainer_node``
publishes.
"""

from __future__ import annotations

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.conditions import LaunchConfigurationNotEquals
from launch.substitutions import Command, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "lm_reward_learning"


def _config(*parts: str) -> PathJoinSubstitution:
    """A file in the installed ``share/lm_reward_learning/config/``."""
    return PathJoinSubstitution([FindPackageShare(PACKAGE), "config", *parts])


def generate_launch_description() -> LaunchDescription:
    """The launch description: arguments, RViz, and the bag player when ``bag`` is given."""
    arguments = [
        DeclareLaunchArgument("bag", default_value="", description="rosbag2 directory to play in a loop; empty: live"),
        DeclareLaunchArgument("rviz_config", default_value=_config("rviz", "lmrl.rviz"), description="RViz config"),
        DeclareLaunchArgument("robot", default_value="go2", description="robot of the RobotModel display: go2 or g1"),
    ]
    urdf = PathJoinSubstitution(
        [FindPackageShare(PACKAGE), "config", "ros", "urdf", [LaunchConfiguration("robot"), ".urdf"]]
    )
    # robot_description (transient local) for RViz's RobotModel, drawn over the bag's (or trainer_node's) TF of every
    # link; robot_state_publisher adds only the fixed foot frames (its joint_states input is left unconnected).
    description = Node(
        package="robot_state_publisher",
        executable="robot_state_publisher",
        name="robot_state_publisher",
        parameters=[{"robot_description": ParameterValue(Command(["cat ", urdf]), value_type=str)}],
        remappings=[("joint_states", "robot_state_publisher/unused_joint_states")],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", LaunchConfiguration("rviz_config")],
    )
    player = ExecuteProcess(
        cmd=["ros2", "bag", "play", "--loop", LaunchConfiguration("bag")],
        output="screen",
        condition=LaunchConfigurationNotEquals("bag", ""),
    )
    return LaunchDescription([*arguments, description, rviz, player])
