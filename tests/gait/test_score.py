"""Gait similarity score: identity, monotonic fall under known perturbations, the table, weights."""

from __future__ import annotations

import dataclasses
import math
from itertools import pairwise

import pytest

from lm_reward_learning.gait import (
    DEFAULT_WEIGHTS,
    TEXTBOOK_PHASES,
    GaitInputError,
    compute_features,
    features_from_contacts,
    reference_features,
    similarity,
    synthetic_gait,
)
from lm_reward_learning.gait.score import _COMPARISONS

F_HZ = 1.25  # with dt = 0.01 s: 80 samples per stride, phase steps of 1/80 fall on samples
DT = 0.01


def _trot(rr_shift: float = 0.0, speed: float = 1.0, **kwargs: object):
    fl, fr, rl, rr = TEXTBOOK_PHASES["trot"]
    traj = synthetic_gait(
        (fl, fr, rl, rr + rr_shift), 0.4, F_HZ, dt=DT, speed_mps=speed, height_amplitude=0.01, **kwargs
    )
    return compute_features(traj)


def test_comparisons_cover_the_weights() -> None:
    assert tuple(_COMPARISONS) == tuple(DEFAULT_WEIGHTS)


@pytest.mark.parametrize("name", ["dog_trot", "dog_canter", "human_walk"])
def test_score_of_a_motion_against_itself_is_one(name: str) -> None:
    feats = reference_features(name)
    result = similarity(feats, feats)
    assert result.score == pytest.approx(1.0, abs=1e-12)
    assert sum(r.contribution for r in result.rows) == pytest.approx(result.score)


def test_score_falls_monotonically_with_phase_perturbation() -> None:
    reference = _trot()
    # RR lands 0, 4, 8, 16, 24 samples (0 to 0.3 of a stride) after FL instead of with it
    scores = [similarity(_trot(rr_shift=s), reference).score for s in (0.0, 0.05, 0.1, 0.2, 0.3)]
    assert scores[0] == pytest.approx(1.0)
    assert all(a > b for a, b in pairwise(scores)), scores
    # phase row: mean circular error over FR, RL, RR = 0.3 / 3 = 0.1 -> normalised error 1
    row = {r.feature: r for r in similarity(_trot(rr_shift=0.3), reference).rows}["phase_offsets"]
    assert row.error == pytest.approx(1.0)
    assert row.similarity == pytest.approx(math.exp(-1.0))


def test_score_falls_monotonically_with_speed_perturbation() -> None:
    reference = _trot(speed=1.0)
    scores = [similarity(_trot(speed=v), reference).score for v in (1.0, 1.1, 1.25, 1.5, 2.0)]
    assert scores[0] == pytest.approx(1.0)
    assert all(a > b for a, b in pairwise(scores)), scores
    # speed row at 1.25 m/s: dimensionless speeds differ by 25 % of the reference -> error 1
    row = {r.feature: r for r in similarity(_trot(speed=1.25), reference).rows}["froude_number"]
    assert row.error == pytest.approx(1.0)


def test_dynamically_similar_gaits_match_across_sizes() -> None:
    # a 4x larger animal at the same Froude number: v scales with sqrt(L) (x2), f with 1/sqrt(L) (/2),
    # heights with L (x4): every dimensionless feature is equal
    small = compute_features(
        synthetic_gait(TEXTBOOK_PHASES["trot"], 0.4, 2.0, speed_mps=1.0, leg_length=0.3, base_height=0.3)
    )
    large = compute_features(
        synthetic_gait(
            TEXTBOOK_PHASES["trot"], 0.4, 1.0, speed_mps=2.0, leg_length=1.2, base_height=1.2, duration_s=8.0
        )
    )
    assert small.froude_number == pytest.approx(large.froude_number)
    assert similarity(small, large).score == pytest.approx(1.0)


def test_trot_is_closer_to_trot_than_to_pace() -> None:
    trot = reference_features("dog_trot")
    robot = _trot()
    assert similarity(robot, trot).score > similarity(robot, reference_features("dog_pace")).score
    rows = {r.feature: r for r in similarity(reference_features("dog_pace"), trot).rows}
    assert rows["gait"].robot == "pace" and rows["gait"].reference == "trot"
    assert rows["phase_offsets"].error > 2.0  # pace vs trot: FR/RL/RR half a stride off in part


def test_missing_features_are_skipped_and_weights_renormalised() -> None:
    robot = features_from_contacts(_trot_contacts(), DT)  # video-like: contacts only
    result = similarity(robot, reference_features("dog_trot"))
    rows = {r.feature: r for r in result.rows}
    for skipped in ("froude_number", "stride_frequency", "base_height", "cost_of_transport"):
        assert rows[skipped].error is None and rows[skipped].note.startswith("skipped"), skipped
        assert rows[skipped].contribution == 0.0
    used = sum(DEFAULT_WEIGHTS[k] for k in ("duty_factor", "phase_offsets", "flight_fraction", "gait"))
    assert rows["phase_offsets"].contribution == pytest.approx(3.0 * rows["phase_offsets"].similarity / used)
    assert sum(r.contribution for r in result.rows) == pytest.approx(result.score)
    assert 0.0 < result.score <= 1.0


def test_different_numbers_of_feet_are_not_compared_per_foot() -> None:
    rows = {r.feature: r for r in similarity(reference_features("human_walk"), reference_features("dog_trot")).rows}
    assert rows["phase_offsets"].error is None and "2 feet vs 4" in rows["phase_offsets"].note


def test_weights() -> None:
    reference = _trot()
    perturbed = _trot(rr_shift=0.2)
    only_speed = similarity(perturbed, reference, weights={k: 0.0 for k in DEFAULT_WEIGHTS} | {"froude_number": 1})
    assert only_speed.score == pytest.approx(1.0)  # the speeds are equal
    with pytest.raises(GaitInputError, match="unknown gait feature weight 'speed'"):
        similarity(reference, reference, weights={"speed": 1.0})
    with pytest.raises(GaitInputError, match="must be a finite number >= 0"):
        similarity(reference, reference, weights={"duty_factor": -1.0})
    with pytest.raises(GaitInputError, match="nothing to compare"):
        similarity(reference, reference, weights=dict.fromkeys(DEFAULT_WEIGHTS, 0.0))


def test_table_shows_every_feature() -> None:
    table = similarity(_trot(rr_shift=0.1), _trot()).table()
    for feature in DEFAULT_WEIGHTS:
        assert f"| {feature} |" in table
    assert table.splitlines()[-1].startswith("score = ")


def _trot_contacts():
    traj = synthetic_gait(TEXTBOOK_PHASES["trot"], 0.4, F_HZ, dt=DT)
    return dataclasses.replace(traj).foot_contact
