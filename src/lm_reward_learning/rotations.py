"""Rotation helpers in numpy: the one set of them (quaternions, rotation matrices, Euler angles).

Quaternions are ``(w, x, y, z)`` (MuJoCo's order, as in :class:`~lm_reward_learning.reward.state.RewardState`;
Isaac Lab 3's ``(x, y, z, w)`` is converted by its backend) and rotate vectors from the body frame to
the world frame. The quaternion functions accept arrays of shape ``(..., 4)`` / ``(..., 3)`` and
broadcast; the rotation-matrix functions (the simulator's hot path) take batches ``(N, 4)`` / ``(N, 3)``.
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


def quat_to_rotmat(q: np.ndarray) -> np.ndarray:
    """Rotation matrices of unit quaternions.

    Args:
        q: Quaternions (w, x, y, z). Shape ``(N, 4)``.

    Returns:
        ``R`` with ``v_w = R @ v_b``. Shape ``(N, 3, 3)``.
    """
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    r = np.empty((q.shape[0], 3, 3), dtype=q.dtype)
    r[:, 0, 0] = 1 - 2 * (y * y + z * z)
    r[:, 0, 1] = 2 * (x * y - w * z)
    r[:, 0, 2] = 2 * (x * z + w * y)
    r[:, 1, 0] = 2 * (x * y + w * z)
    r[:, 1, 1] = 1 - 2 * (x * x + z * z)
    r[:, 1, 2] = 2 * (y * z - w * x)
    r[:, 2, 0] = 2 * (x * z - w * y)
    r[:, 2, 1] = 2 * (y * z + w * x)
    r[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return r


def rotate_inverse(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """World-frame vectors expressed in the body frame: ``R^T v``.

    Args:
        r: Rotation matrices from :func:`quat_to_rotmat`. Shape ``(N, 3, 3)``.
        v: Vectors, world frame. Shape ``(N, 3)``.

    Returns:
        The vectors in the body frame. Shape ``(N, 3)``.
    """
    return np.einsum("nji,nj->ni", r, v)


def rotate(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Body-frame vectors expressed in the world frame: ``R v``. Shapes as :func:`rotate_inverse`."""
    return np.einsum("nij,nj->ni", r, v)


def yaw_quat(yaw: np.ndarray) -> np.ndarray:
    """Quaternions of rotations about world z. ``yaw`` in rad, shape ``(N,)``; returns ``(N, 4)``."""
    half = 0.5 * yaw
    return np.stack([np.cos(half), np.zeros_like(half), np.zeros_like(half), np.sin(half)], axis=1)


def quat_rotate_inverse(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate world vector(s) ``v`` into the frame of unit quaternion(s) ``q``: ``q* ⊗ v ⊗ q``. Shape ``(..., 3)``."""
    return quat_rotate(quat_conjugate(q), v)
