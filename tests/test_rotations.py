"""The rotation helpers: quaternions against rotation matrices, inverses, Euler round trips."""

from __future__ import annotations

import numpy as np
import pytest

from lm_reward_learning.rotations import (
    quat_conjugate,
    quat_from_axis_angle,
    quat_from_roll_pitch_yaw,
    quat_mul,
    quat_normalize,
    quat_rotate,
    quat_rotate_inverse,
    quat_to_rotmat,
    roll_pitch_yaw,
    rotate,
    rotate_inverse,
    yaw_quat,
)


@pytest.fixture
def quats() -> np.ndarray:
    return quat_normalize(np.random.default_rng(0).normal(size=(16, 4)))


def test_a_quarter_turn_about_z_maps_x_to_y() -> None:
    q = quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), np.pi / 2)
    np.testing.assert_allclose(quat_rotate(q, [1.0, 0.0, 0.0]), [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(yaw_quat(np.array([np.pi / 2]))[0], q, atol=1e-12)


def test_matrix_and_quaternion_rotations_agree(quats: np.ndarray) -> None:
    v = np.random.default_rng(1).normal(size=(16, 3))
    r = quat_to_rotmat(quats)
    np.testing.assert_allclose(rotate(r, v), quat_rotate(quats, v), atol=1e-12)
    np.testing.assert_allclose(rotate_inverse(r, v), quat_rotate_inverse(quats, v), atol=1e-12)
    np.testing.assert_allclose(quat_rotate_inverse(quats, quat_rotate(quats, v)), v, atol=1e-12)


def test_product_composes_rotations(quats: np.ndarray) -> None:
    a, b, v = quats[:8], quats[8:], np.ones((8, 3))
    np.testing.assert_allclose(quat_rotate(quat_mul(a, b), v), quat_rotate(a, quat_rotate(b, v)), atol=1e-12)
    identity = quat_mul(a, quat_conjugate(a))
    np.testing.assert_allclose(np.abs(identity), np.tile([1.0, 0.0, 0.0, 0.0], (8, 1)), atol=1e-12)


def test_roll_pitch_yaw_round_trip() -> None:
    rng = np.random.default_rng(2)
    roll, pitch, yaw = rng.uniform(-3, 3, 20), rng.uniform(-1.5, 1.5, 20), rng.uniform(-3, 3, 20)
    back = roll_pitch_yaw(quat_from_roll_pitch_yaw(roll, pitch, yaw))
    np.testing.assert_allclose(back, (roll, pitch, yaw), atol=1e-9)
    # REP 103: a positive pitch tips the nose (body x) down
    nose = quat_rotate(quat_from_roll_pitch_yaw(0.0, 0.3, 0.0), [1.0, 0.0, 0.0])
    assert nose[2] < 0
