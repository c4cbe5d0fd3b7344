"""Learn a reward from a video and watch it: ``ros2 launch lm_reward_learning learn.launch.py video:=... robot:=go2``.

Starts ``trainer_node`` (action server ``train_policy``; rollouts on ``rollout/image``,
``joint_states``, ``/tf``, recorded to ``<run>/rollout_bag``) with ``config/ros/trainer_node.yaml``,
and RViz with ``config/rviz/lmrl.rviz`` unless ``rviz:=false``.

Arguments (``ros2 launch ... --show-args``): ``video`` (expert video; empty: the bundled clip),
``robot`` (``go2``, ``g1``), ``feedback`` (``motion``, ``human``, ``openai``), ``synthesis``
(``rules``, ``openai``), ``iterations`` (bi-level loop iterations), ``rviz`` (``true``/``false``).

TODO(#4): ``video``, ``feedback``, ``synthesis`` and ``iterations`` go to ``session_node`` (the
``learn_reward`` action server that runs the bi-level loop and starts the session from these
parameters), which is added here with ``feedback_node`` and ``reward_synth_node`` once
``lm_reward_learning.bilevel`` lands; until then they are declared and unused.
"""

from __future__ import annotations

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = "lm_reward_learning"

ARGUMENTS = (
    ("video", "", "expert video file; empty: the bundled clip"),
    ("robot", "go2", "robot: go2 or g1"),
    ("feedback", "motion", "feedback backend: motion (offline heuristic analyser, not a VLM), human, openai"),
    ("synthesis", "rules", "reward synthesis backend: rules (offline), openai"),
    ("iterations", "3", "bi-level loop iterations"),
    ("rviz", "true", "start RViz with config/rviz/lmrl.rviz"),
)


def _config(*parts: str) -> PathJoinSubstitution:
    """A file in the installed ``share/lm_reward_learning/config/``."""
    return PathJoinSubstitution([FindPackageShare(PACKAGE), "config", *parts])


def generate_launch_description() -> LaunchDescription:
    """The launch description: arguments, trainer_node, RViz."""
    arguments = [
        DeclareLaunchArgument(name, default_value=default, description=doc) for name, default, doc in ARGUMENTS
    ]
    trainer = Node(
        package=PACKAGE,
        executable="trainer_node",
        name="trainer_node",
        output="screen",
        emulate_tty=True,
        parameters=[_config("ros", "trainer_node.yaml"), {"robot": LaunchConfiguration("robot")}],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", _config("rviz", "lmrl.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([*arguments, trainer, rviz])
