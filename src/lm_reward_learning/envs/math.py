"""Small rotation helpers on batched numpy arrays (quaternions are (w, x, y, z), MuJoCo's order)."""

from __future__ import annotations

import numpy as np


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
