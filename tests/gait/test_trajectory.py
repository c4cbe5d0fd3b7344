"""GaitTrajectory validation: shapes, values and the too-short error."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.gait import GaitInputError, GaitTrajectory, TrajectoryTooShortError, synthetic_gait
from lm_reward_learning.gait.trajectory import MIN_SAMPLES


def _fields(num_steps: int = 20, num_feet: int = 4) -> dict:
    quat = np.zeros((num_steps, 4))
    quat[:, 0] = 2.0  # not unit: normalised on construction
    return {
        "dt": 0.02,
        "base_pos_w": np.zeros((num_steps, 3)),
        "base_quat_w": quat,
        "base_lin_vel_w": np.zeros((num_steps, 3)),
        "foot_pos_w": np.zeros((num_steps, num_feet, 3)),
        "foot_contact": np.ones((num_steps, num_feet), dtype=int),
        "leg_length": 0.3,
    }


def test_valid_trajectory_is_normalised() -> None:
    traj = GaitTrajectory(**_fields())
    assert traj.foot_names == ("FL", "FR", "RL", "RR")
    assert traj.foot_contact.dtype == bool
    np.testing.assert_allclose(traj.base_quat_w[:, 0], 1.0)
    assert traj.num_steps == 20 and traj.num_feet == 4
    assert traj.duration_s == pytest.approx(20 * 0.02)  # 0.4 s


def test_biped_gets_left_right_names() -> None:
    assert GaitTrajectory(**_fields(num_feet=2)).foot_names == ("left", "right")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("base_pos_w", np.zeros((20, 2)), "base_pos_w must have shape"),
        ("base_quat_w", np.zeros((19, 4)), "base_quat_w must have shape (20, 4)"),
        ("base_lin_vel_w", np.zeros((20, 3, 1)), "base_lin_vel_w must have shape"),
        ("foot_pos_w", np.zeros((20, 4, 2)), "foot_pos_w must have shape"),
        ("foot_contact", np.ones((20, 3), dtype=bool), "foot_contact must have shape (T, F) = (20, 4)"),
        ("foot_contact", np.full((20, 4), 0.5), "must be bool"),
        ("foot_names", ("a", "b"), "2 names for 4 feet"),
        ("dt", 0.0, "dt must be a positive"),
        ("leg_length", -1.0, "leg_length must be a positive"),
        ("mass_kg", 0.0, "mass_kg must be a positive"),
        ("joint_torques", np.zeros((20, 12)), "give both joint_torques and joint_vel"),
    ],
)
def test_malformed_input_is_rejected(field: str, value: object, message: str) -> None:
    with pytest.raises(GaitInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GaitTrajectory(**{**_fields(), field: value})


def test_nan_and_zero_quaternion_are_rejected() -> None:
    pos = np.zeros((20, 3))
    pos[5, 2] = np.nan
    with pytest.raises(GaitInputError, match="NaN"):
        GaitTrajectory(**{**_fields(), "base_pos_w": pos})
    with pytest.raises(GaitInputError, match="zero-norm"):
        GaitTrajectory(**{**_fields(), "base_quat_w": np.zeros((20, 4))})


def test_unsupported_number_of_feet() -> None:
    with pytest.raises(GaitInputError, match="got 3 feet"):
        GaitTrajectory(**_fields(num_feet=3))


def test_joint_shapes_must_match() -> None:
    fields = {**_fields(), "joint_torques": np.zeros((20, 12)), "joint_vel": np.zeros((20, 8))}
    with pytest.raises(GaitInputError, match="joint_vel must have shape"):
        GaitTrajectory(**fields)


def test_fewer_than_min_samples_is_too_short() -> None:
    with pytest.raises(TrajectoryTooShortError) as info:
        GaitTrajectory(**_fields(num_steps=MIN_SAMPLES - 1))
    assert isinstance(info.value, LmrlError)
    assert info.value.needed_s == pytest.approx(MIN_SAMPLES * 0.02)


def test_trajectory_is_frozen() -> None:
    traj = synthetic_gait((0.0, 0.5, 0.5, 0.0), 0.4, 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        traj.dt = 0.1  # type: ignore[misc]
