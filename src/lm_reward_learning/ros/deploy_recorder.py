"""``deploy_recorder``: the deployment's record, an MCAP bag of low state, commands and safety state (``rosbags``).

Subscribes to ``topics`` (by default :data:`DEPLOY_TOPICS`: the Go2's ``/lowstate`` and ``/lowcmd``, the
driver's ``joint_states``, ``imu/data``, ``foot_force``, the operator's ``joy``, ``cmd_vel`` and
``heartbeat``, the controller's ``joint_commands``, ``policy_controller/safety_state`` and ``/diagnostics``,
the simulator's ``odom``) and writes every message as received (CDR, raw subscriptions: nothing is
deserialized) to a new rosbag2 MCAP directory ``bag`` with the receive time as log time
(:class:`~lm_reward_learning.ros.bag.BagRecorder`). The safety state is subscribed transient local, so
the transitions before the recorder started are in the bag too. Topics whose message package is not
installed (``unitree_go`` in simulation) are skipped with a warning; the bag is closed (``metadata.yaml``
written) on Ctrl-C. Read it with ``ros2 bag info``, ``rosbags`` or
:func:`lm_reward_learning.ros.bag.read_bag`.
"""

from __future__ import annotations

import importlib
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from lm_reward_learning.ros.bag import BagError, BagRecorder, interfaces_typestore
from lm_reward_learning.ros.node_main import spin_node
from lm_reward_learning.ros.node_params import DEPLOY_RECORDER, ParameterError
from lm_reward_learning.ros.params import declare_parameters

UNITREE_PACKAGES = {"unitree_go2": "unitree_go", "unitree_g1": "unitree_hg"}
"""Message package of ``/lowstate`` and ``/lowcmd`` for each ``driver``."""
DEPLOY_TOPICS: dict[str, str] = {
    "/lowstate": "unitree_go/msg/LowState",
    "/lowcmd": "unitree_go/msg/LowCmd",
    "joint_states": "sensor_msgs/msg/JointState",
    "imu/data": "sensor_msgs/msg/Imu",
    "foot_force": "std_msgs/msg/Float32MultiArray",
    "joy": "sensor_msgs/msg/Joy",
    "cmd_vel": "geometry_msgs/msg/Twist",
    "heartbeat": "std_msgs/msg/Empty",
    "joint_commands": "std_msgs/msg/Float64MultiArray",
    "policy_controller/safety_state": "std_msgs/msg/String",
    "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
    "odom": "nav_msgs/msg/Odometry",
}
"""Topics recorded by default and their types (``/lowstate`` and ``/lowcmd``: the ``driver``'s package, ``unitree_go``
for the Go2, ``unitree_hg`` for the G1); a topic of ``topics`` is typed by its name without the leading ``/``
(``lowstate`` and ``/lowstate`` are both LowState)."""
LATCHED = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=20,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


def message_class(msgtype: str) -> Any:
    """The rclpy message class of ``pkg/msg/Name``.

    Raises:
        ImportError: if the package's messages are not installed.
    """
    pkg, _, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


def _typestore_with(msgtypes: set[str]) -> Any:
    """The Jazzy typestore plus the ``.msg`` definitions of the installed packages it lacks (``unitree_go``)."""
    from ament_index_python.packages import get_package_share_directory
    from rosbags.typesys import get_types_from_msg

    typestore = interfaces_typestore()
    extra: dict[str, Any] = {}
    for t in sorted(msgtypes - set(typestore.types)):
        pkg, _, name = t.split("/")
        path = Path(get_package_share_directory(pkg)) / "msg" / f"{name}.msg"
        extra.update(get_types_from_msg(path.read_text(), t))
        for line in path.read_text().splitlines():  # nested types of the same package (MotorState[20] ...)
            field = line.split("#")[0].split()
            if field and field[0][0].isupper() and "/" not in field[0]:
                nested = field[0].split("[")[0]
                text = (path.parent / f"{nested}.msg").read_text()
                extra.update(get_types_from_msg(text, f"{pkg}/msg/{nested}"))
    if extra:
        typestore.register(extra)
    return typestore


class DeployRecorder(Node):
    """The recorder (see the module docstring).

    Raises:
        ParameterError: for an invalid parameter or a topic of unknown type.
        lm_reward_learning.ros.bag.BagError: if the bag exists already.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("deploy_recorder", **kwargs)
        p = declare_parameters(self, DEPLOY_RECORDER, "config/ros/deploy_recorder.yaml")
        package = UNITREE_PACKAGES.get(p["driver"])
        types = {
            k.lstrip("/"): v.replace("unitree_go/", f"{package}/") if package else v
            for k, v in DEPLOY_TOPICS.items()
            if package or not v.startswith("unitree_go/")
        }
        topics = p["topics"] or [t for t in DEPLOY_TOPICS if t.lstrip("/") in types]
        unknown = [t for t in topics if t.lstrip("/") not in types]
        if unknown:
            raise ParameterError(f"topics {unknown} have no known type; record some of {sorted(types)}")
        classes = {}
        for topic in topics:
            try:
                classes[topic] = message_class(types[topic.lstrip("/")])
            except ImportError:
                self.get_logger().warning(f"not recording {topic}: {types[topic.lstrip('/')]} is not installed")
        resolved = {t: self.resolve_topic_name(t) for t in classes}
        bag = Path(p["bag"] or f"bags/deploy_{datetime.now():%Y%m%d_%H%M%S}")
        typestore = _typestore_with({types[t.lstrip("/")] for t in classes})
        try:
            self.recorder = BagRecorder(bag, {resolved[t]: types[t.lstrip("/")] for t in classes}, typestore)
        except BagError as exc:  # the bag exists already: a start-up setting that cannot work, as a bad parameter
            raise ParameterError(str(exc)) from None
        self._lock = threading.Lock()
        for topic, cls in classes.items():
            qos = LATCHED if topic.endswith("safety_state") else qos_profile_sensor_data
            self.create_subscription(cls, topic, self._writer(resolved[topic]), qos, raw=True)
        self.get_logger().info(f"ready: recording {sorted(resolved.values())} to {bag}")

    def _writer(self, topic: str) -> Any:
        def write(raw: bytes) -> None:
            with self._lock:
                self.recorder.write(topic, time.time_ns(), raw)

        return write

    def close(self) -> None:
        """Finish the bag (idempotent)."""
        with self._lock:
            self.recorder.close()
        counts = ", ".join(f"{t}: {n}" for t, n in self.recorder.counts.items())
        self.get_logger().info(f"closed {self.recorder.path} ({counts})")


def main(args: list[str] | None = None) -> None:
    """Record until Ctrl-C or SIGTERM, then close the bag."""
    spin_node(DeployRecorder, "deploy_recorder", args, executor="single_threaded", on_exit=DeployRecorder.close)


if __name__ == "__main__":
    main()
