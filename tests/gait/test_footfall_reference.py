"""Footfall references (bound, pronk): Hildebrand's phases with the DeepMimic dog canter's size and timing."""

from __future__ import annotations

from itertools import combinations

import pytest

from lm_reward_learning.gait import load_reference, reference_features, reference_label, similarity
from lm_reward_learning.gait.contacts import circular_distance
from lm_reward_learning.gait.footfall_reference import FOOTFALL_REFERENCES

QUADRUPED_REFERENCES = ("dog_trot", "dog_pace", "dog_canter", "hildebrand_bound", "hildebrand_pronk")


@pytest.mark.parametrize("name", sorted(FOOTFALL_REFERENCES))
def test_phases_are_the_definition(name: str) -> None:
    feats = reference_features(name)
    want = FOOTFALL_REFERENCES[name].phase_offsets
    # 27 samples a stride: a half-stride lag lands on sample 13 (13/27 = 0.481), within one sample of 0.5
    for got, expected in zip(feats.phase_offsets, want, strict=True):
        assert circular_distance(got, expected) <= 1 / 27 + 1e-9
    assert feats.gait == FOOTFALL_REFERENCES[name].expected_gait
    assert reference_label(name) == name


@pytest.mark.parametrize("name", sorted(FOOTFALL_REFERENCES))
def test_size_and_timing_are_the_dog_canters(name: str) -> None:
    feats, canter = reference_features(name), reference_features("dog_canter")
    assert feats.leg_length_m == pytest.approx(canter.leg_length_m)
    assert feats.stride_frequency_hz == pytest.approx(canter.stride_frequency_hz, rel=1e-4)
    assert feats.forward_speed_mps == pytest.approx(canter.forward_speed_mps, rel=1e-3)
    assert sum(feats.duty_factor) / 4 == pytest.approx(sum(canter.duty_factor) / 4, abs=1 / 27)
    assert feats.base_height_osc_m == pytest.approx(canter.base_height_osc_m, rel=0.05)
    assert feats.num_strides >= 6


def test_bound_pitches_pronk_does_not_and_neither_rolls() -> None:
    bound, pronk = reference_features("hildebrand_bound"), reference_features("hildebrand_pronk")
    assert bound.base_pitch_osc_rad == pytest.approx(reference_features("dog_canter").base_pitch_osc_rad, rel=0.05)
    assert pronk.base_pitch_osc_rad == pytest.approx(0.0, abs=1e-9)
    assert bound.base_roll_osc_rad == pytest.approx(0.0, abs=1e-9) == pronk.base_roll_osc_rad
    # flight: bound 1 - 2 * duty (two girdles in turn), pronk 1 - duty (all feet together)
    duty = bound.duty_factor[0]
    assert bound.flight_fraction == pytest.approx(1 - 2 * duty, abs=1 / 27)
    assert pronk.flight_fraction == pytest.approx(1 - duty, abs=1 / 27)


def test_quadruped_references_are_told_apart() -> None:
    # a reference scores 1 against itself and below 0.7 (the learned gaits' bar) against every other one
    for name in QUADRUPED_REFERENCES:
        assert similarity(reference_features(name), reference_features(name)).score == pytest.approx(1.0)
    for a, b in combinations(QUADRUPED_REFERENCES, 2):
        assert similarity(reference_features(a), reference_features(b)).score < 0.7, (a, b)


def test_trajectory_is_a_quadruped_at_the_dogs_height() -> None:
    traj = load_reference("hildebrand_bound")
    assert traj.foot_names == ("FL", "FR", "RL", "RR")
    assert traj.dt == pytest.approx(1 / 60)
    assert traj.base_pos_w[:, 2].mean() == pytest.approx(reference_features("dog_canter").base_height_mean_m, rel=0.01)
