"""Learn a reward from a video and watch it: ``ros2 launch lm_reward_learning learn.launch.py video:=... robot:=go2``.

Starts the four nodes of the bi-level loop, each with its ``config/ros/<node>.yaml``:

* ``session_node`` — action server ``learn_reward``; here with ``autostart``, so it starts one session
  from the launch arguments at once (progress in its log; the run goes to ``runs/learn_<time>_<robot>``,
  the policy to ``policies/``); more goals can be sent to ``learn_reward`` afterwards;
* ``trainer_node`` — action server ``train_policy``; rollouts on ``rollout/image``, ``joint_states``,
  ``/tf``, recorded to ``<run>/iter_KK/cand_M/train/rollout_bag``;
* ``feedback_node`` — action server ``get_visual_feedback`` (upper level), publishes ``visual_feedback``;
* ``reward_synth_node`` — action server ``synthesize_reward`` (lower level), publishes ``reward_program``;

and RViz with ``config/rviz/lmrl.rviz`` (and ``robot_state_publisher`` for its RobotModel) unless ``rviz:=false``.
``trainer_node`` and ``session_node`` start without the API keys of the launching shell (secret-looking
variables are unset for them): only the two nodes that call an endpoint hold a key.

Arguments (``ros2 launch ... --show-args``): ``video`` (expert video; empty: the bundled clip),
``robot`` (``go2``, ``g1``), ``feedback`` (``motion``, ``human``, ``openai``), ``synthesis``
(``rules``, ``openai``), ``iterations`` (bi-level loop iterations), ``preset`` (the learn preset,
``config/learn/<preset>.yaml``: ``default`` or ``smoke``), ``rviz`` (``true``/``false``).
Endpoints of the ``openai`` backends: ``session_node``'s ``base_url``/``model``/``api_key_env``
parameters (``config/ros/session_node.yaml``).
"""

from __future__ import annotations

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, UnsetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import Command, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from lm_reward_learning.isolation.policy import is_secret_name

PACKAGE = "lm_reward_learning"

ARGUMENTS = (
    ("video", "", "expert video file; empty: the bundled clip"),
    ("robot", "go2", "robot: go2 or g1"),
    ("feedback", "motion", "feedback backend: motion (offline heuristic analyser, not a VLM), human, openai"),
    ("synthesis", "rules", "reward synthesis backend: rules (offline), openai"),
    ("iterations", "3", "bi-level loop iterations"),
    ("preset", "default", "learn preset, config/learn/<preset>.yaml: default or smoke (a one-minute check)"),
    ("rviz", "true", "start RViz with config/rviz/lmrl.rviz"),
)


def _config(*parts: str) -> PathJoinSubstitution:
    """A file in the installed ``share/lm_reward_learning/config/``."""
    return PathJoinSubstitution([FindPackageShare(PACKAGE), "config", *parts])


def generate_launch_description() -> LaunchDescription:
    """The launch description: arguments, the four nodes of the loop, RViz."""
    arguments = [
        DeclareLaunchArgument(name, default_value=default, description=doc) for name, default, doc in ARGUMENTS
    ]
    session = Node(
        package=PACKAGE,
        executable="session_node",
        name="session_node",
        output="screen",
        emulate_tty=True,
        parameters=[
            _config("ros", "session_node.yaml"),
            {
                "autostart": True,
                "video": ParameterValue(LaunchConfiguration("video"), value_type=str),
                "robot": ParameterValue(LaunchConfiguration("robot"), value_type=str),
                "feedback": ParameterValue(LaunchConfiguration("feedback"), value_type=str),
                "synthesis": ParameterValue(LaunchConfiguration("synthesis"), value_type=str),
                "iterations": ParameterValue(LaunchConfiguration("iterations"), value_type=int),
                "preset": ParameterValue(LaunchConfiguration("preset"), value_type=str),
            },
        ],
    )
    trainer = Node(
        package=PACKAGE,
        executable="trainer_node",
        name="trainer_node",
        output="screen",
        emulate_tty=True,
        parameters=[_config("ros", "trainer_node.yaml"), {"robot": LaunchConfiguration("robot")}],
    )
    feedback = Node(
        package=PACKAGE,
        executable="feedback_node",
        name="feedback_node",
        output="screen",
        emulate_tty=True,
        parameters=[_config("ros", "feedback_node.yaml")],
    )
    synthesis = Node(
        package=PACKAGE,
        executable="reward_synth_node",
        name="reward_synth_node",
        output="screen",
        emulate_tty=True,
        parameters=[_config("ros", "reward_synth_node.yaml")],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", _config("rviz", "lmrl.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    # The robot model for RViz's RobotModel: robot_description (transient local) and the fixed foot frames only; the
    # links' TF comes from trainer_node, so robot_state_publisher's joint_states input is left unconnected.
    urdf = PathJoinSubstitution(
        [FindPackageShare(PACKAGE), "config", "ros", "urdf", [LaunchConfiguration("robot"), ".urdf"]]
    )
    description = Node(
        package="robot_state_publisher",
        executable="robot_state_publisher",
        name="robot_state_publisher",
        parameters=[{"robot_description": ParameterValue(Command(["cat ", urdf]), value_type=str)}],
        remappings=[("joint_states", "robot_state_publisher/unused_joint_states")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    # Only the nodes that call an endpoint (feedback_node: the VLM, reward_synth_node: the LLM) keep the
    # API keys of the launching shell; trainer_node (which runs training) and session_node start without.
    no_keys = [UnsetEnvironmentVariable(name) for name in sorted(os.environ) if is_secret_name(name)]
    keyless = GroupAction([*no_keys, trainer, session], scoped=True, forwarding=True)
    return LaunchDescription([*arguments, keyless, feedback, synthesis, description, rviz])
