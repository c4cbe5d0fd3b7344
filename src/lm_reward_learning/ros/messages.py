"""Build the ROS messages of a rollout and a training report from the core's plain data.

Small pure functions (rclpy message classes in, messages out), shared by the nodes:

* :func:`joint_state_msg` — ``sensor_msgs/msg/JointState``: rad, rad/s, N·m in the robot's joint order;
* :func:`tf_msg` — ``tf2_msgs/msg/TFMessage`` with one ``odom`` → base transform (m, unit quaternion
  x, y, z, w; the core's quaternions are w, x, y, z);
* :func:`training_report_msg` — ``lm_reward_learning_interfaces/msg/TrainingReport`` from the worker's
  summary (``reward_stats.json`` record and gait features).
"""

from __future__ import annotations

import math
from typing import Any

from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped
from lm_reward_learning_interfaces.msg import NamedValue, RewardTermStats, TrainingReport
from sensor_msgs.msg import JointState
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage

from lm_reward_learning.ros.train_worker import Sample


def header(stamp: Time, frame_id: str = "") -> Header:
    """``std_msgs/msg/Header`` with ``stamp`` and ``frame_id``."""
    return Header(stamp=stamp, frame_id=frame_id)


def joint_state_msg(stamp: Time, names: list[str], sample: Sample) -> JointState:
    """``sensor_msgs/msg/JointState`` of one rollout step (position rad, velocity rad/s, effort N·m)."""
    return JointState(
        header=header(stamp),
        name=list(names),
        position=[float(x) for x in sample.joint_pos],
        velocity=[float(x) for x in sample.joint_vel],
        effort=[float(x) for x in sample.joint_effort],
    )


def tf_msg(stamp: Time, parent_frame: str, child_frame: str, sample: Sample) -> TFMessage:
    """``tf2_msgs/msg/TFMessage`` with the base pose: ``parent_frame`` (odom) → ``child_frame`` (base)."""
    t = TransformStamped()
    t.header = header(stamp, parent_frame)
    t.child_frame_id = child_frame
    t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
        float(x) for x in sample.base_pos_w
    )
    w, x, y, z = (float(v) for v in sample.base_quat_w)
    t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z, t.transform.rotation.w = x, y, z, w
    return TFMessage(transforms=[t])


def _num(v: Any) -> float:
    return float(v) if v is not None else math.nan


def training_report_msg(stamp: Time, summary: dict[str, Any]) -> TrainingReport:
    """``TrainingReport`` from the worker's ``done`` summary (see ``train_worker._summary``)."""
    last = summary.get("last") or {}
    return TrainingReport(
        header=header(stamp),
        run_dir=summary["run_dir"],
        robot=summary["robot"],
        iterations_done=int(summary["iterations_done"]),
        env_steps=int(last.get("env_steps") or 0),
        mean_episode_return=_num(last.get("mean_episode_return")),
        mean_episode_length_s=_num(last.get("mean_episode_length_s")),
        explosions=int(last.get("explosions") or 0),
        terms=[
            RewardTermStats(name=name, mean=_num(s.get("mean")), min=_num(s.get("min")), max=_num(s.get("max")))
            for name, s in sorted((last.get("terms") or {}).items())
        ],
        gait_features=[
            NamedValue(name=name, value=float(value), unit=unit)
            for name, (value, unit) in sorted(summary.get("gait_features", {}).items())
        ],
    )
