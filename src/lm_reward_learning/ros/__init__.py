"""ROS 2 (Jazzy) nodes of lm_reward_learning: the only place that imports ``rclpy``.

The nodes are thin: each is one class that turns ROS goals, parameters and messages into calls of the
ROS-free core and publishes what the core reports. Modules:

* :mod:`~lm_reward_learning.ros.trainer_node`: action server ``train_policy`` (PPO in a worker
  process, then a rollout published as ``rollout/image``, ``joint_states`` and ``/tf`` and recorded to
  a rosbag2 MCAP file).
* :mod:`~lm_reward_learning.ros.train_worker`: the worker process (ROS-free).
* :mod:`~lm_reward_learning.ros.image_conversion`: numpy ⇄ ``sensor_msgs/Image`` (cv_bridge's output).
* :mod:`~lm_reward_learning.ros.bag`: rosbag2 MCAP writing and reading with ``rosbags``.
* :mod:`~lm_reward_learning.ros.messages`: ROS messages built from the core's plain data.
* :mod:`~lm_reward_learning.ros.node_params`: the nodes' parameter tables (ROS-free), mirrored by
  ``config/ros/<node>.yaml``.
* :mod:`~lm_reward_learning.ros.params`: declaring and checking those parameters; the QoS profiles.

Importing this package does not import ``rclpy``; the node modules do.
"""

from __future__ import annotations
