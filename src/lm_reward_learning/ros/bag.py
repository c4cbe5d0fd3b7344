"""Rollout bags: rosbag2 MCAP files written and read with ``rosbags`` (no ``rosbag2_py`` needed).

A rollout bag is a rosbag2 directory (``metadata.yaml`` + ``<name>_0.mcap``, CDR serialisation),
readable by ``ros2 bag info/play``, ``rosbags`` and ``mcap``. :class:`BagRecorder` stores messages
exactly as they were published: the CDR bytes from ``rclpy.serialization.serialize_message``, with the
message header's stamp as the log time. Topics and their types (:data:`ROLLOUT_TOPICS`):

* ``/rollout/image`` — ``sensor_msgs/msg/Image``, ``rgb8``, the rollout camera;
* ``/joint_states`` — ``sensor_msgs/msg/JointState``: rad, rad/s, N·m, the robot's joint order;
* ``/tf`` — ``tf2_msgs/msg/TFMessage``: ``odom`` → base body, m and unit quaternion;
* ``/training/report`` — ``lm_reward_learning_interfaces/msg/TrainingReport``, once at the end.

Types come from the Jazzy typestore of ``rosbags``; this package's own messages are registered from
their ``.msg`` text (:func:`interfaces_typestore`). This module does not import ``rclpy``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

INTERFACES_PACKAGE = "lm_reward_learning_interfaces"

ROLLOUT_TOPICS: dict[str, str] = {
    "/rollout/image": "sensor_msgs/msg/Image",
    "/joint_states": "sensor_msgs/msg/JointState",
    "/tf": "tf2_msgs/msg/TFMessage",
    "/training/report": f"{INTERFACES_PACKAGE}/msg/TrainingReport",
}
"""Topics of a rollout bag and their message types."""


class BagError(RuntimeError):
    """A bag cannot be written or read (existing path, unknown type or topic, damaged file)."""


def interfaces_msg_dir() -> Path | None:
    """``share/lm_reward_learning_interfaces/msg`` of the installed interfaces, or None if not found."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory(INTERFACES_PACKAGE)) / "msg"
    except PackageNotFoundError:
        return None


def interfaces_typestore(msg_dirs: Iterable[Path] | None = None) -> Any:
    """The ``rosbags`` Jazzy typestore with this package's messages registered from their ``.msg`` text.

    Args:
        msg_dirs: Directories of ``.msg`` files of ``lm_reward_learning_interfaces``; default: the
            installed package's (:func:`interfaces_msg_dir`); none found: only the standard types.
    """
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    typestore = get_typestore(Stores.ROS2_JAZZY)
    if msg_dirs is None:
        found = interfaces_msg_dir()
        msg_dirs = [found] if found is not None else []
    types: dict[str, Any] = {}
    for d in msg_dirs:
        for f in sorted(Path(d).glob("*.msg")):
            types.update(get_types_from_msg(f.read_text(), f"{INTERFACES_PACKAGE}/msg/{f.stem}"))
    if types:
        typestore.register(types)
    return typestore


class BagRecorder:
    """Write already serialized (CDR) messages to a new rosbag2 MCAP directory.

    Use as a context manager; the bag is complete (``metadata.yaml`` written) after :meth:`close`.

    Args:
        path: The bag directory to create; must not exist (a bag is never overwritten).
        topics: ``{topic: msgtype}``, e.g. :data:`ROLLOUT_TOPICS`.
        typestore: ``rosbags`` typestore that knows every type; default :func:`interfaces_typestore`.

    Raises:
        BagError: if ``path`` exists or a type is unknown to the typestore.
    """

    def __init__(self, path: Path, topics: Mapping[str, str], typestore: Any | None = None) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"bag {self.path} already exists; choose a new path (bags are never overwritten)")
        self.typestore = typestore if typestore is not None else interfaces_typestore()
        unknown = sorted(t for t in topics.values() if t not in self.typestore.types)
        if unknown:
            raise BagError(f"message type(s) {unknown} unknown to the typestore; register their .msg definitions")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections = {
            topic: self._writer.add_connection(topic, msgtype, typestore=self.typestore)
            for topic, msgtype in topics.items()
        }
        self.counts: dict[str, int] = dict.fromkeys(topics, 0)
        self._open = True

    def write(self, topic: str, timestamp_ns: int, cdr: bytes) -> None:
        """Append one message.

        Args:
            topic: One of the topics given at construction.
            timestamp_ns: Log time, ns since the epoch (the message's header stamp).
            cdr: The message serialized as CDR (``rclpy.serialization.serialize_message``).

        Raises:
            BagError: for a topic not declared at construction or a closed bag.
        """
        if not self._open:
            raise BagError(f"bag {self.path} is closed")
        try:
            conn = self._connections[topic]
        except KeyError:
            raise BagError(f"topic {topic!r} was not declared; declared: {sorted(self._connections)}") from None
        self._writer.write(conn, int(timestamp_ns), cdr)
        self.counts[topic] += 1

    def close(self) -> None:
        """Finish the MCAP file and write ``metadata.yaml`` (idempotent)."""
        if self._open:
            self._open = False
            self._writer.close()
            log.info("wrote bag %s (%s)", self.path, ", ".join(f"{t}: {n}" for t, n in self.counts.items()))

    def __enter__(self) -> BagRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_bag(path: Path, typestore: Any | None = None, topics: Iterable[str] | None = None) -> dict[str, list]:
    """Read a rosbag2 directory and deserialize its messages.

    Args:
        path: The bag directory (with ``metadata.yaml``).
        typestore: Default :func:`interfaces_typestore`.
        topics: Only these topics; default all.

    Returns:
        ``{topic: [(timestamp_ns, message), ...]}`` in log-time order; messages are ``rosbags``
        dataclasses with the ROS field names.

    Raises:
        BagError: if ``path`` is not a readable rosbag2 directory.
    """
    from rosbags.rosbag2 import Reader
    from rosbags.rosbag2.errors import ReaderError

    typestore = typestore if typestore is not None else interfaces_typestore()
    out: dict[str, list] = {}
    try:
        with Reader(Path(path)) as reader:
            conns = [c for c in reader.connections if topics is None or c.topic in set(topics)]
            for c in conns:
                out.setdefault(c.topic, [])
            for conn, t, raw in reader.messages(connections=conns):
                out[conn.topic].append((t, typestore.deserialize_cdr(raw, conn.msgtype)))
    except ReaderError as exc:
        raise BagError(f"cannot read bag {path}: {exc}") from exc
    return out


def bag_summary(path: Path) -> dict[str, tuple[str, int]]:
    """``{topic: (msgtype, message count)}`` of a rosbag2 directory, from its metadata.

    Raises:
        BagError: if ``path`` is not a readable rosbag2 directory.
    """
    from rosbags.rosbag2 import Reader
    from rosbags.rosbag2.errors import ReaderError

    try:
        with Reader(Path(path)) as reader:
            return {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}
    except ReaderError as exc:
        raise BagError(f"cannot read bag {path}: {exc}") from exc
