"""ROS 2 (Jazzy) nodes of lm_reward_learning: the only place that imports ``rclpy``.

The nodes are thin: each is one class that turns ROS goals, parameters and messages into calls of the
ROS-free core and publishes what the core reports. Modules:

* :mod:`~lm_reward_learning.ros.trainer_node`: action server ``train_policy`` (PPO in a worker
  process, then a rollout published as ``rollout/image``, ``joint_states`` and ``/tf`` and recorded to
  a rosbag2 MCAP file).
* :mod:`~lm_reward_learning.ros.train_worker`: the worker process (ROS-free).
* :mod:`~lm_reward_learning.ros.session_node`: action server ``learn_reward``, the bi-level loop across
  the nodes (:mod:`~lm_reward_learning.ros.session_logic`, :mod:`~lm_reward_learning.ros.candidates`).
* :mod:`~lm_reward_learning.ros.feedback_node`: action ``get_visual_feedback``, publishes
  ``VisualFeedback`` (:mod:`~lm_reward_learning.ros.feedback_logic`).
* :mod:`~lm_reward_learning.ros.reward_synth_node`: action ``synthesize_reward``, publishes
  ``RewardProgram`` (:mod:`~lm_reward_learning.ros.synth_logic`).
* :mod:`~lm_reward_learning.ros.policy_controller`: lifecycle node running an exported ONNX policy on a
  robot (logic in :mod:`lm_reward_learning.deploy`).
* :mod:`~lm_reward_learning.ros.mujoco_sim_node`: the robot in MuJoCo behind a driver's topics
  (sim-to-sim).
* :mod:`~lm_reward_learning.ros.image_conversion`: numpy ⇄ ``sensor_msgs/Image`` (cv_bridge's output).
* :mod:`~lm_reward_learning.ros.bag`: rosbag2 MCAP writing and reading with ``rosbags``.
* :mod:`~lm_reward_learning.ros.messages`: ROS messages built from the core's plain data.
* :mod:`~lm_reward_learning.ros.node_params`: every node's parameter table and the checks (ROS-free),
  mirrored by ``config/ros/<node>.yaml``.
* :mod:`~lm_reward_learning.ros.params`: declaring and checking those parameters; the QoS profiles.
* :mod:`~lm_reward_learning.ros.node_main`: the one ``main()`` body of every node (``spin_node``):
  executor, Ctrl-C/SIGTERM, exit codes.

Importing this package does not import ``rclpy``; the node modules do.
"""

from __future__ import annotations
