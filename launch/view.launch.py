"""Watch rollouts in RViz, live or from a bag: ``ros2 launch lm_reward_learning view.launch.py [bag:=RUN/rollout_bag]``.

Starts RViz with ``config/rviz/lmrl.rviz`` (rollout image, TF of the robot's bodies, the robot's
frames over a grid in ``odom``). With ``bag:=<rosbag2 directory>`` it also plays that rollout bag
(``ros2 bag play --loop``); without, RViz shows whatever a running ``trainer_node`` publishes.
"""

from __future__ import annotations

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.conditions import LaunchConfigurationNotEquals
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
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
    ]
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
    return LaunchDescription([*arguments, rviz, player])
