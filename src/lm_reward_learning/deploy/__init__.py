"""Deploying an exported policy on a robot: the ROS-free parts of ``policy_controller`` and ``mujoco_sim_node``.

A policy exported by ``lmrl export`` (``policy.onnx`` + ``deploy.yaml``, the same facts in the ONNX
``metadata_props``; mjlab's convention) runs on a robot through these pieces, each tested without ROS:

* :mod:`~lm_reward_learning.deploy.policy` — :class:`DeployedPolicy`: loads and checks the ONNX file
  against its deployment facts (:class:`DeployFacts`), runs onnxruntime on one thread.
* :mod:`~lm_reward_learning.deploy.observation` — :class:`ObservationBuilder`: the actor observation
  from joint states (mapped by name, :class:`JointMap`), the IMU and the velocity command, exactly as
  :class:`~lm_reward_learning.envs.mujoco_env.MujocoVecEnv` builds it in training.
* :mod:`~lm_reward_learning.deploy.modes` — the controller's modes (passive, stand_up, policy,
  sit_down, hold, damping) and the transitions an operator may ask for;
  :mod:`~lm_reward_learning.deploy.safety` — :class:`SafetySupervisor`: that mode machine with its
  ramps, clamps, rate limit, sensor and heartbeat watchdogs, e-stop, tilt limits, non-finite
  handling and damping, as a pure state machine of time and inputs.
* :mod:`~lm_reward_learning.deploy.joystick` — ``sensor_msgs/Joy`` as mode requests (button
  combinations) and velocity commands (teleop_twist_joy's conventions), layouts from YAML.
* :mod:`~lm_reward_learning.deploy.velocity` — :class:`VelocityCommand`: ``cmd_vel`` as the policy sees
  it (timeout, clamp to the trained command ranges, acceleration limit).
* :mod:`~lm_reward_learning.deploy.core` — :class:`ControllerCore`: one control tick (observation →
  inference → safety → joint command) plus the loop statistics (:mod:`~lm_reward_learning.deploy.stats`)
  the node reports on ``/diagnostics``.
* :mod:`~lm_reward_learning.deploy.commands` — joint commands as flat arrays for a ros2_control forward
  command controller (order mapped by name); :mod:`~lm_reward_learning.deploy.limits` — the robot
  model's joint ranges for the target clamp.
* :mod:`~lm_reward_learning.deploy.sim` — :class:`~lm_reward_learning.deploy.sim.SimRobot`: the
  robot in MuJoCo, driven by joint position targets with kp/kd and read out as a robot driver would
  (joint states, IMU, odometry); imported on its own because it needs ``mujoco``.

Conventions: joint-indexed arrays are in the policy's joint order (``DeployFacts.joint_names``) unless
said otherwise; quaternions from and to ROS are ``(x, y, z, w)`` (``sensor_msgs/Imu``), MuJoCo's are
``(w, x, y, z)``; the IMU's angular velocity is in the base frame and its orientation is the base in
the world (REP 145); times are seconds of a monotonic clock.
"""

from __future__ import annotations

from lm_reward_learning.deploy.core import ControllerCore
from lm_reward_learning.deploy.modes import TransitionRefusedError
from lm_reward_learning.deploy.observation import JointMap, ObservationBuilder
from lm_reward_learning.deploy.policy import DeployedPolicy, DeployError, DeployFacts, PolicyMismatchError
from lm_reward_learning.deploy.safety import JointCommand, Mode, SafetyConfig, SafetySupervisor, Sensors
from lm_reward_learning.deploy.stats import LoopStats
from lm_reward_learning.deploy.velocity import VelocityCommand

__all__ = [
    "ControllerCore",
    "DeployError",
    "DeployFacts",
    "DeployedPolicy",
    "JointCommand",
    "JointMap",
    "LoopStats",
    "Mode",
    "ObservationBuilder",
    "PolicyMismatchError",
    "SafetyConfig",
    "SafetySupervisor",
    "Sensors",
    "TransitionRefusedError",
    "VelocityCommand",
]
