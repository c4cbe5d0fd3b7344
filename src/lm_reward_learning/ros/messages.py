"""Build the ROS messages of a rollout and a training report from the core's plain data.

Small pure functions (rclpy message classes in, messages out), shared by the nodes:

* :func:`joint_state_msg` — ``sensor_msgs/msg/JointState``: rad, rad/s, N·m in the robot's joint order;
* :func:`tf_msg` — ``tf2_msgs/msg/TFMessage``: ``odom`` → base, then every body of the robot in its
  parent's frame (m, unit quaternion x, y, z, w; the core's quaternions are w, x, y, z);
* :func:`training_report_msg` — ``lm_reward_learning_interfaces/msg/TrainingReport`` from the worker's
  summary (``reward_stats.json`` record and gait features);
* :func:`visual_feedback_msg` / :func:`feedback_from_msg` — ``VisualFeedback`` ⇄ the loop's
  :class:`~lm_reward_learning.bilevel.protocols.Feedback` (lossless: the measurements travel as JSON);
* :func:`reward_program_msg` — ``RewardProgram`` from a :class:`~lm_reward_learning.ros.synth_logic.ProgramRecord`;
* :func:`named_values` — ``NamedValue[]`` from ``{name: (value, unit)}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped
from lm_reward_learning_interfaces.msg import (
    ComponentChange,
    NamedValue,
    RewardProgram,
    RewardTermStats,
    TrainingReport,
    VisualFeedback,
)
from sensor_msgs.msg import JointState
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage

from lm_reward_learning.bilevel import protocols
from lm_reward_learning.ros.synth_logic import ProgramRecord
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


def _transform(stamp: Time, parent: str, child: str, pos: Any, quat_wxyz: Any) -> TransformStamped:
    t = TransformStamped()
    t.header = header(stamp, parent)
    t.child_frame_id = child
    tr, rot = t.transform.translation, t.transform.rotation
    tr.x, tr.y, tr.z = (float(x) for x in pos)
    rot.w, rot.x, rot.y, rot.z = (float(v) for v in quat_wxyz)
    return t


def tf_msg(
    stamp: Time,
    odom_frame: str,
    base_frame: str,
    sample: Sample,
    bodies: list[tuple[str, str]] | None = None,
    base_body: str = "",
) -> TFMessage:
    """``tf2_msgs/msg/TFMessage`` of one rollout step: ``odom_frame`` → ``base_frame``, then the body tree.

    Args:
        stamp: Header stamp of every transform.
        odom_frame: The world frame's name (the simulator's world; z up).
        base_frame: The base body's frame name.
        sample: The step's state; with ``bodies``, its ``body_pos``/``body_quat`` give every body's pose
            in its parent's frame, so RViz's TF display draws the whole robot (the frames are the MJCF
            body names, which a URDF of the robot would use as link names).
        bodies: ``[(body, parent or "" for the world)]`` in the order of ``sample.body_pos``; None:
            only the base transform.
        base_body: The base body's name in ``bodies`` (renamed to ``base_frame``).
    """
    transforms = [_transform(stamp, odom_frame, base_frame, sample.base_pos_w, sample.base_quat_w)]
    if bodies is not None and sample.body_pos is not None and sample.body_quat is not None:
        for (name, parent), pos, quat in zip(bodies, sample.body_pos, sample.body_quat, strict=True):
            if name == base_body or not parent:
                continue  # the base (and any other free body) is already placed in odom
            frame = base_frame if parent == base_body else parent
            transforms.append(_transform(stamp, frame, name, pos, quat))
    return TFMessage(transforms=transforms)


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


def named_values(values: Mapping[str, tuple[float, str]]) -> list[NamedValue]:
    """``NamedValue[]`` from ``{name: (value, unit)}`` (None becomes NaN)."""
    return [NamedValue(name=n, value=_num(v), unit=u) for n, (v, u) in values.items()]


def _change_msg(c: protocols.ComponentChange) -> ComponentChange:
    params = [NamedValue(name=k, value=float(v), unit="") for k, v in c.params.items()]
    return ComponentChange(name=c.name, instruction=c.instruction, params=params)


def _change(msg: Any) -> protocols.ComponentChange:
    return protocols.ComponentChange(msg.name, msg.instruction, {p.name: float(p.value) for p in msg.params})


def visual_feedback_msg(stamp: Time, iteration: int, fb: protocols.Feedback) -> VisualFeedback:
    """``VisualFeedback`` of loop iteration ``iteration`` (the paper's four parts, text, raw answer, backend)."""
    return VisualFeedback(
        header=header(stamp),
        iteration=int(iteration),
        problems=list(fb.problems),
        rewrite=[_change_msg(c) for c in fb.rewrite],
        remove=list(fb.remove),
        add=[_change_msg(c) for c in fb.add],
        text=fb.text,
        raw=fb.raw,
        backend=fb.backend,
        measurements_json=json.dumps(fb.measurements, default=float),
    )


def feedback_from_msg(msg: Any) -> protocols.Feedback:
    """The loop's :class:`~lm_reward_learning.bilevel.protocols.Feedback` from a ``VisualFeedback``.

    Raises:
        ValueError: if ``measurements_json`` is not a JSON object.
    """
    measurements = json.loads(msg.measurements_json) if msg.measurements_json else {}
    if not isinstance(measurements, dict):
        raise ValueError(f"VisualFeedback.measurements_json must be a JSON object, got {msg.measurements_json[:80]!r}")
    return protocols.Feedback(
        problems=tuple(msg.problems),
        rewrite=tuple(_change(c) for c in msg.rewrite),
        remove=tuple(msg.remove),
        add=tuple(_change(c) for c in msg.add),
        text=msg.text,
        backend=msg.backend,
        raw=msg.raw,
        measurements=measurements,
    )


def reward_program_msg(stamp: Time, rec: ProgramRecord) -> RewardProgram:
    """``RewardProgram`` of one synthesised (or kept) program with its diff and validation verdict."""
    return RewardProgram(
        header=header(stamp),
        iteration=rec.iteration,
        candidate=rec.candidate,
        name=rec.name,
        origin=rec.origin,
        source=rec.source,
        sha256=rec.sha256,
        diff=rec.diff,
        validation_status=RewardProgram.VALIDATION_PASSED if rec.passed else RewardProgram.VALIDATION_FAILED,
        validation_message=rec.message,
        validation_issues=list(rec.issues),
    )
