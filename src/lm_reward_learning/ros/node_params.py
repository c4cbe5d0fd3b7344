"""Parameter tables of the nodes (ROS-free): names, defaults, meanings and checks.

``config/ros/<node>.yaml`` holds the same values under ``<node>: ros__parameters:`` (a test checks
that the two agree); :func:`lm_reward_learning.ros.params.declare_parameters` declares a table on a
node and refuses bad values with :class:`ParameterError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lm_reward_learning.robots import ROBOTS
from lm_reward_learning.rollout import CAMERA_VIEWS

Check = Callable[[Any], "str | None"]
"""A check returns None for a good value, else what a good value is (``"must be > 0"``)."""


class ParameterError(ValueError):
    """One or more node parameters are invalid; the message lists each with what a valid value is."""


@dataclass(frozen=True)
class Param:
    """One node parameter.

    Attributes:
        name: Parameter name (snake_case, unit suffix where it has a unit: ``_s``, ``_hz``).
        default: Default value; its type is the parameter's type (``0.0`` float, ``0`` int, ``[0.0]``
            float array, ``""`` string, ``False`` bool).
        description: What it does, with unit.
        check: Validation, or None.
        read_only: Whether it can only be set at start-up.
    """

    name: str
    default: Any
    description: str
    check: Check | None = None
    read_only: bool = True


def positive(v: Any) -> str | None:
    """Check: a finite number > 0."""
    return None if isinstance(v, (int, float)) and math.isfinite(v) and v > 0 else "must be a number > 0"


def non_negative(v: Any) -> str | None:
    """Check: a finite number >= 0."""
    return None if isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 else "must be a number >= 0"


def one_of(*choices: str) -> Check:
    """Check: one of ``choices``."""
    return lambda v: None if v in choices else f"must be one of {list(choices)}"


def length(n: int) -> Check:
    """Check: a list of ``n`` finite numbers."""

    def check(v: Any) -> str | None:
        ok = len(v) == n and all(math.isfinite(x) for x in v)
        return None if ok else f"must be a list of {n} finite numbers"

    return check


def problems(params: Sequence[Param], values: dict[str, Any]) -> list[str]:
    """One line per invalid value: ``name=value what-it-must-be (meaning)``; empty when all are good."""
    out = []
    for p in params:
        err = p.check(values[p.name]) if p.check is not None else None
        if err:
            out.append(f"{p.name}={values[p.name]!r} {err} ({p.description})")
    return out


TRAINER_NODE: tuple[Param, ...] = (
    Param("robot", "go2", "robot of goals that name none", one_of(*ROBOTS)),
    Param("runs_dir", "runs", "root of the run directories (relative to the working directory)"),
    Param("train_config", "", "training YAML; empty: config/train/<robot>.yaml"),
    Param("iterations", 0, "PPO iterations of goals that give none; 0: the training config's", non_negative),
    Param("num_envs", 0, "parallel simulations; 0: the training config's", non_negative),
    Param("rollout_duration_s", 5.0, "rollout length of goals that give none, s", positive),
    Param("rollout_command", [0.8, 0.0, 0.0], "rollout velocity command [v_x m/s, v_y m/s, yaw rad/s]", length(3)),
    Param("camera_view", "side", "rollout camera side", one_of(*CAMERA_VIEWS)),
    Param("image_width", 320, "rollout image width, pixels", positive),
    Param("image_height", 240, "rollout image height, pixels", positive),
    Param("realtime_factor", 1.0, "rollout publishing speed vs simulated time; 0: as fast as possible", non_negative),
    Param("odom_frame", "odom", "TF parent frame of the base (the simulator's world frame)"),
    Param("base_frame", "", "TF frame of the base; empty: the robot's base body name (go2: base)"),
    Param("camera_frame", "rollout_camera", "frame_id of rollout images"),
    Param("record_bag", True, "record the rollout to <run>/rollout_bag (rosbag2 MCAP)"),
    Param(
        "cancel_timeout_s", 10.0, "wait this long for the worker to stop on cancel before terminating it, s", positive
    ),
    Param("worker_timeout_s", 600.0, "abort a goal whose worker reports nothing for this long, s", positive),
    Param("feedback_period_s", 0.5, "minimum time between rollout feedback messages, s", positive),
)
"""Parameters of ``trainer_node`` (``config/ros/trainer_node.yaml`` holds the same defaults)."""
