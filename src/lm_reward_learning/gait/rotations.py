"""Small quaternion helpers in numpy, batched over leading axes.

Quaternions are ``(w, x, y, z)`` (MuJoCo's order, as in
:class:`~lm_reward_learning.reward.state.RewardState`) and rotate vectors from the body frame to the
world frame. All functions accept arrays of shape ``(..., 4)`` / ``(..., 3)`` and broadcast.
"""

from __future__ import annotations

import numpy as np


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a ⊗ b`` (apply ``b`` first, then ``a``). Shape ``(..., 4)``."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=float), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=float), -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    """Conjugate (the inverse of a unit quaternion). Shape ``(..., 4)``."""
    q = np.asarray(q, dtype=float)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternion(s). Shape ``(..., 4)``. The caller checks for zero norms."""
    q = np.asarray(q, dtype=float)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vector(s) ``v`` by unit quaternion(s) ``q``: ``q ⊗ v ⊗ q*``. Shape ``(..., 3)``."""
    q = np.asarray(q, dtype=float)
    v = np.asarray(v, dtype=float)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def quat_from_axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Quaternion(s) for a rotation of ``angle`` (rad) about unit ``axis``. Shape ``(..., 4)``."""
    angle = np.asarray(angle, dtype=float)[..., None]
    axis = np.asarray(axis, dtype=float)
    return np.concatenate([np.cos(angle / 2.0), np.sin(angle / 2.0) * axis], axis=-1)


def quat_from_roll_pitch_yaw(roll: np.ndarray, pitch: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Quaternion(s) from intrinsic z-y'-x'' (yaw, then pitch, then roll) Euler angles, rad.

    The inverse of :func:`roll_pitch_yaw`. Shape ``(..., 4)``.
    """
    qx = quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), roll)
    qy = quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), pitch)
    qz = quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), yaw)
    return quat_mul(qz, quat_mul(qy, qx))


def roll_pitch_yaw(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roll, pitch, yaw (rad) of unit quaternion(s) ``q`` in a z-up world frame.

    Intrinsic z-y'-x'' convention (aerospace): yaw about world z, then pitch about the new y (nose
    down is positive, as in ROS REP 103), then roll about the new x. Pitch is in ``[-π/2, π/2]``.

    Returns:
        ``(roll, pitch, yaw)``, each of shape ``q.shape[:-1]``.
    """
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=float), -1, 0)
    roll = np.arctan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2.0 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    return roll, pitch, yaw
