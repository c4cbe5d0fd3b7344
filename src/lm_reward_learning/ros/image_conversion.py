"""numpy RGB frames ⇄ ``sensor_msgs/msg/Image`` (encoding ``rgb8``), byte for byte as cv_bridge does.

ROS 2 ``cv_bridge`` is not installable from PyPI, so the nodes use :func:`to_image_msg` /
:func:`from_image_msg`, which build the same message as ``CvBridge().cv2_to_imgmsg(frame, "rgb8")``
(height, width, encoding, ``is_bigendian`` only for big-endian dtypes, row-major data,
``step = len(data) // height``) and read it back like ``imgmsg_to_cv2(msg, "rgb8")`` (rows padded to
``step`` are cut). Where cv_bridge exists, :func:`cv_bridge_image_msg` uses it, and a test checks
that both give identical messages.

:func:`image_fields` is the ROS-free core of the conversion; the ``sensor_msgs`` import happens only in
the functions that build or read messages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ENCODING = "rgb8"
"""The one encoding used for rollout frames: 8-bit RGB, 3 channels, row-major."""


class ImageConversionError(ValueError):
    """A frame or message cannot be converted (wrong shape, dtype, encoding or size)."""


def image_fields(frame: np.ndarray) -> dict[str, Any]:
    """Return the ``sensor_msgs/Image`` fields (except the header) for an RGB frame.

    Args:
        frame: uint8 RGB image. Shape ``(height, width, 3)``; any memory layout.

    Returns:
        ``{"height", "width", "encoding", "is_bigendian", "step", "data"}``; ``data`` is the
        row-major bytes, ``step = width * 3`` bytes.

    Raises:
        ImageConversionError: if ``frame`` is not uint8 of shape ``(H, W, 3)`` with ``H, W > 0``.
    """
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or 0 in frame.shape:
        raise ImageConversionError(
            f"expected a uint8 RGB frame of shape (height, width, 3), got {frame.dtype} {frame.shape}; "
            "render with mujoco.Renderer (uint8 RGB) or convert with np.asarray(x, np.uint8)"
        )
    data = frame.tobytes()  # C order, as cv_bridge
    height = int(frame.shape[0])
    return {
        "height": height,
        "width": int(frame.shape[1]),
        "encoding": ENCODING,
        "is_bigendian": False,  # uint8 has no byte order; cv_bridge sets True only for '>' dtypes
        "step": len(data) // height,
        "data": data,
    }


def to_image_msg(frame: np.ndarray, header: Any | None = None) -> Any:
    """Build a ``sensor_msgs/msg/Image`` (``rgb8``) from an RGB frame, as cv_bridge would.

    Args:
        frame: uint8 RGB image. Shape ``(height, width, 3)``.
        header: ``std_msgs/msg/Header`` (stamp, ``frame_id`` of the camera); default: empty.

    Raises:
        ImageConversionError: on a frame that is not uint8 ``(H, W, 3)``.
    """
    from sensor_msgs.msg import Image

    fields = image_fields(frame)
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height = fields["height"]
    msg.width = fields["width"]
    msg.encoding = fields["encoding"]
    msg.is_bigendian = fields["is_bigendian"]
    msg.data = fields["data"]
    msg.step = fields["step"]
    return msg


def from_image_msg(msg: Any) -> np.ndarray:
    """Read an ``rgb8`` ``sensor_msgs/msg/Image`` (rclpy or rosbags message) into a numpy frame.

    Returns:
        uint8 RGB image, shape ``(height, width, 3)`` (a copy; rows padded to ``step`` are cut).

    Raises:
        ImageConversionError: if the encoding is not ``rgb8`` or the data is shorter than
            ``height * step``.
    """
    if msg.encoding != ENCODING:
        raise ImageConversionError(f"expected encoding {ENCODING!r}, got {msg.encoding!r}")
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    buf = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data, dtype=np.uint8)
    if step < 3 * w or buf.size < h * step:
        raise ImageConversionError(
            f"image data has {buf.size} bytes, step {step}; {h} rows of {w} rgb8 pixels need "
            f"step >= {3 * w} and {h * max(step, 3 * w)} bytes"
        )
    return buf[: h * step].reshape(h, step)[:, : 3 * w].reshape(h, w, 3).copy()


def cv_bridge_image_msg(frame: np.ndarray, header: Any | None = None) -> Any:
    """The same message built by ROS 2 ``cv_bridge`` (where a ROS installation provides it).

    Raises:
        ImportError: if ``cv_bridge`` is not installed (it has no PyPI wheel).
    """
    from cv_bridge import CvBridge

    return CvBridge().cv2_to_imgmsg(np.asarray(frame), encoding=ENCODING, header=header)


def cv_bridge_available() -> bool:
    """Whether ROS 2 ``cv_bridge`` can be imported here (a ROS installation; never the PyPI wheels)."""
    try:
        import cv_bridge  # noqa: F401
    except ImportError:
        return False
    return True


def frame_to_msg(frame: np.ndarray, header: Any | None = None, *, use_cv_bridge: bool | None = None) -> Any:
    """``sensor_msgs/msg/Image`` of a frame: with cv_bridge where installed, else :func:`to_image_msg`.

    Args:
        frame: uint8 RGB image. Shape ``(height, width, 3)``.
        header: ``std_msgs/msg/Header``; default: empty.
        use_cv_bridge: Force one path; default: cv_bridge if :func:`cv_bridge_available`.
    """
    if use_cv_bridge is None:
        use_cv_bridge = _CV_BRIDGE
    return cv_bridge_image_msg(frame, header) if use_cv_bridge else to_image_msg(frame, header)


_CV_BRIDGE = cv_bridge_available()
