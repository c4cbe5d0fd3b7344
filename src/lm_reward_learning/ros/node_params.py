"""Parameter tables of the nodes (ROS-free): names, defaults, meanings and checks.

``config/ros/<node>.yaml`` holds the same values under ``/**/<node>: ros__parameters:`` (a test checks
that the two agree); :func:`lm_reward_learning.ros.params.declare_parameters` declares a table on a
node and refuses bad values with :class:`ParameterError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lm_reward_learning.bilevel.config import FEEDBACK_BACKENDS, SYNTHESIS_BACKENDS
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


def empty_or_one_of(*choices: str) -> Check:
    """Check: empty (meaning "the default") or one of ``choices``."""
    return lambda v: None if v == "" or v in choices else f"must be empty or one of {list(choices)}"


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


def learn_preset(v: Any) -> str | None:
    """Check: the name of a learn preset, ``config/learn/<name>.yaml``."""
    from lm_reward_learning.config import config_dir

    presets = sorted(p.stem for p in (config_dir() / "learn").glob("*.yaml"))
    return None if v in presets else f"must be a learn preset: one of {presets} (config/learn/<preset>.yaml)"


def start_up_overrides(node: Any) -> dict[str, Any]:
    """The parameters given to ``node`` (an rclpy node) at start-up that apply to it: ``{name: value}``.

    These come from ``--params-file`` files and ``-p`` arguments. rclpy has no public accessor; its
    ``Node`` keeps them in ``_parameter_overrides`` (Foxy to Jazzy).
    """
    return {name: p.value for name, p in getattr(node, "_parameter_overrides", {}).items()}


def report_start_up_parameters(node: Any, params: Sequence[Param], overrides: dict[str, Any] | None = None) -> None:
    """Log which of ``params`` were given to ``node`` at start-up; warn when none was (a parameter file whose
    top-level key does not match the node is ignored by rcl without a word)."""
    overrides = start_up_overrides(node) if overrides is None else overrides
    names = {p.name for p in params}
    given = sorted(n for n in overrides if n in names)
    log = node.get_logger()
    if given:
        log.info(f"{len(given)} of {len(params)} parameters set at start-up: {', '.join(given)}")
    else:
        log.warning(
            f"no parameter file or -p argument set any parameter of {node.get_fully_qualified_name()}: all "
            f"defaults. A parameter file's top-level key must match the node: '/**/{node.get_name()}:' "
            "matches it in any namespace."
        )


TRAINER_NODE: tuple[Param, ...] = (
    Param("robot", "go2", "robot of goals that name none", one_of(*ROBOTS)),
    Param("runs_dir", "runs", "root of the run directories (relative to the working directory)"),
    Param("train_config", "", "training YAML; empty: config/train/<robot>.yaml"),
    Param(
        "backend",
        "",
        "trainer backend: empty (the training config's, mujoco) or isaaclab",
        empty_or_one_of("mujoco", "isaaclab"),
    ),
    Param("device", "", "torch/Warp device of the isaaclab backend (cpu, cuda:0); empty: the config's"),
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


SESSION_NODE: tuple[Param, ...] = (
    Param("runs_dir", "runs", "root of new learn runs (relative to the working directory)"),
    Param("policies_dir", "policies", "root of the exported ONNX policies"),
    Param("preset", "default", "learn preset: config/learn/<preset>.yaml (default, smoke)", learn_preset),
    Param("learn_config", "", "a learn YAML used instead of the preset; empty: the preset"),
    Param("video", "", "expert video of goals that give none; empty: the learn config's (the bundled clip)"),
    Param("robot", "", "robot of goals that name none; empty: the learn config's", empty_or_one_of(*ROBOTS)),
    Param(
        "feedback",
        "",
        "feedback backend of goals that name none; empty: the learn config's",
        empty_or_one_of(*FEEDBACK_BACKENDS),
    ),
    Param(
        "synthesis",
        "",
        "synthesis backend of goals that name none; empty: the learn config's",
        empty_or_one_of(*SYNTHESIS_BACKENDS),
    ),
    Param("iterations", 0, "loop iterations of goals that give none; 0: the learn config's", non_negative),
    Param("base_url", "", "OpenAI-compatible endpoint of both levels (as lmrl learn --base-url); empty: the config's"),
    Param("model", "", "model name of both levels (as lmrl learn --model); empty: the config's"),
    Param("api_key_env", "", "environment variable holding the API key; empty: the config's (OPENAI_API_KEY)"),
    Param("autostart", False, "run one session from these parameters at start-up (learn.launch.py does)"),
    Param("server_timeout_s", 60.0, "wait this long for trainer_node, feedback_node, reward_synth_node, s", positive),
    Param("train_timeout_s", 7200.0, "abort a training goal (PPO + rollout) that takes longer, s", positive),
    Param("feedback_timeout_s", 900.0, "abort a feedback goal that takes longer, s", positive),
    Param("synthesis_timeout_s", 900.0, "abort a synthesis goal that takes longer, s", positive),
    Param("lost_server_s", 20.0, "abort a step whose action server has been gone this long, s", positive),
    Param("cancel_timeout_s", 30.0, "on cancel, wait this long for the running step to stop, s", positive),
)
"""Parameters of ``session_node`` (``config/ros/session_node.yaml`` holds the same defaults)."""

FEEDBACK_NODE: tuple[Param, ...] = (
    Param(
        "rollout_source",
        "bag",
        "robot frames from the rollout bag, or from live rollout/image messages",
        one_of("bag", "live"),
    ),
    Param("live_gap_s", 1.0, "live: a pause this long between images starts a new rollout, s", positive),
    Param("live_max_frames", 3000, "live: keep at most this many images of the last rollout", positive),
)
"""Parameters of ``feedback_node`` (``config/ros/feedback_node.yaml`` holds the same defaults)."""

REWARD_SYNTH_NODE: tuple[Param, ...] = (
    Param("publish_attempts", True, "also publish rejected attempts on reward_program (VALIDATION_FAILED)"),
)
"""Parameters of ``reward_synth_node`` (``config/ros/reward_synth_node.yaml`` holds the same defaults)."""
