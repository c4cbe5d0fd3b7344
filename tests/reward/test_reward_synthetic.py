"""Synthetic state batches: deterministic, consistent, and round-tripped through files."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import torch

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.reward.batch import load_state_batch, save_state_batch
from lm_reward_learning.reward.state import RewardState
from lm_reward_learning.reward.synthetic import synthetic_state


def assert_states_equal(a: RewardState, b: RewardState) -> None:
    for f in fields(RewardState):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y), f.name
        else:
            assert x == y, f.name


def test_same_seed_same_state_other_seed_other_state() -> None:
    assert_states_equal(synthetic_state(8, 12, 4, seed=3), synthetic_state(8, 12, 4, seed=3))
    assert not torch.equal(synthetic_state(8, 12, 4, seed=3).joint_pos, synthetic_state(8, 12, 4).joint_pos)


def test_shapes_and_dtypes() -> None:
    s = synthetic_state(5, 23, 2, dt=0.01)
    assert s.num_envs == 5
    assert s.joint_pos.shape == (5, 23)
    assert s.foot_pos_w.shape == (5, 2, 3)
    assert s.foot_contact.dtype == torch.bool
    assert s.first_contact.dtype == torch.bool
    assert s.base_height.shape == (5,)
    assert s.base_pos_w.dtype == torch.float32
    assert s.dt == 0.01


def test_values_are_physically_consistent() -> None:
    s = synthetic_state(256, 12, 4)
    torch.testing.assert_close(s.base_quat_w.norm(dim=1), torch.ones(256))
    torch.testing.assert_close(s.projected_gravity_b.norm(dim=1), torch.ones(256))
    # Tilt <= 0.3 rad, so gravity's z component in the base frame is below -cos(0.3) = -0.955.
    assert float(s.projected_gravity_b[:, 2].max()) <= -0.955
    # Speeds are preserved by the rotation into the base frame.
    torch.testing.assert_close(s.base_lin_vel_b.norm(dim=1), s.base_lin_vel_w.norm(dim=1))
    # Air time is zero in contact, contact time zero in the air; touchdowns are contacts.
    assert bool((s.feet_air_time_s[s.foot_contact] == 0).all())
    assert bool((s.feet_contact_time_s[~s.foot_contact] == 0).all())
    assert bool((s.foot_contact | ~s.first_contact).all())
    assert bool((s.foot_pos_w[..., 2][s.foot_contact] == 0).all())
    assert bool(((s.gait_phase >= 0) & (s.gait_phase < 1)).all())


def test_upright_quaternion_gives_gravity_down() -> None:
    import numpy as np

    from lm_reward_learning.rotations import quat_rotate_inverse

    q = np.array([[1.0, 0.0, 0.0, 0.0], [0.7071068, 0.7071068, 0.0, 0.0]])  # identity, 90° roll
    g = quat_rotate_inverse(q, np.array([[0.0, 0.0, -1.0]] * 2))
    np.testing.assert_allclose(g, [[0.0, 0.0, -1.0], [0.0, -1.0, 0.0]], atol=1e-6)


def test_batch_round_trip(tmp_path: Path) -> None:
    state = synthetic_state(4, 12, 4, seed=7)
    path = save_state_batch(state, tmp_path / "b.pt")
    assert_states_equal(load_state_batch(path), state)


def test_batch_missing_field(tmp_path: Path) -> None:
    data = synthetic_state(2, 3, 2).to_dict()
    del data["commands"]
    torch.save(data, tmp_path / "b.pt")
    with pytest.raises(LmrlError, match="lacks the field 'commands'"):
        load_state_batch(tmp_path / "b.pt")


def test_bad_sizes() -> None:
    with pytest.raises(ValueError, match="sizes must be positive"):
        synthetic_state(0, 12, 4)
