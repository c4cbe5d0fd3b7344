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
    GaitMorphologyError,
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


def test_features_the_robot_lacks_count_as_zero_and_those_the_reference_lacks_are_skipped() -> None:
    robot = features_from_contacts(_trot_contacts(), DT)  # contacts only: no speed, no base
    result = similarity(robot, reference_features("dog_trot"))
    rows = {r.feature: r for r in result.rows}
    for lacking in ("froude_number", "base_height", "base_height_osc", "base_pitch_osc"):  # the reference has them
        assert rows[lacking].similarity == 0.0 and "not produced by the robot" in rows[lacking].note, lacking
    for skipped in ("stride_frequency", "cost_of_transport"):  # not comparable (no leg length) / not in the reference
        assert rows[skipped].error is None and rows[skipped].note.startswith("skipped"), skipped
        assert rows[skipped].contribution == 0.0
    used = sum(w for k, w in DEFAULT_WEIGHTS.items() if rows[k].error is not None)
    assert rows["phase_offsets"].contribution == pytest.approx(3.0 * rows["phase_offsets"].similarity / used)
    assert sum(r.contribution for r in result.rows) == pytest.approx(result.score)
    assert 0.0 < result.score <= 1.0


def test_a_robot_that_does_not_stride_scores_at_most_005() -> None:
    import numpy as np

    from lm_reward_learning.gait import GaitTrajectory

    n = 500  # 10 s standing at 50 Hz, all feet down, base still at its height
    standing = GaitTrajectory(
        dt=0.02, base_pos_w=np.tile([0.0, 0.0, 0.3], (n, 1)), base_quat_w=np.tile([1.0, 0, 0, 0], (n, 1)),
        base_lin_vel_w=np.zeros((n, 3)), foot_pos_w=np.zeros((n, 4, 3)), foot_contact=np.ones((n, 4), bool),
        foot_names=("FL", "FR", "RL", "RR"), leg_length=0.3,
    )  # fmt: skip
    for name in ("dog_trot", "dog_pace", "dog_canter"):
        result = similarity(compute_features(standing), reference_features(name))
        assert result.score <= 0.05, (name, result.table())
        rows = {r.feature: r for r in result.rows}
        assert rows["duty_factor"].similarity == 0.0 and "does not stride" in rows["duty_factor"].note


def test_a_biped_against_a_quadruped_is_refused() -> None:
    with pytest.raises(GaitMorphologyError, match=r"a biped \(2 feet\) with a quadruped reference \(4 feet\)"):
        similarity(reference_features("human_walk"), reference_features("dog_trot"))


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


DOGS = ("dog_trot", "dog_pace", "dog_canter")


def _window(traj, start: int, stop: int):
    """Samples ``[start, stop)`` of a trajectory (another stretch of a looped clip)."""
    cut = {
        k: getattr(traj, k)[start:stop]
        for k in ("base_pos_w", "base_quat_w", "base_lin_vel_w", "foot_pos_w", "foot_contact")
    }
    return dataclasses.replace(traj, **cut)


@pytest.mark.parametrize("name", DOGS)
def test_a_dog_clip_matches_another_stretch_of_itself_and_not_the_other_gaits(name: str) -> None:
    """The yardstick in absolute terms: >= 0.9 against itself, < 0.6 against the other dog gaits."""
    from lm_reward_learning.gait import load_reference

    clip = load_reference(name, loops=8)
    n = clip.num_steps // 8  # samples per loop of the clip
    first = compute_features(_window(clip, 0, 3 * n))
    later = compute_features(_window(clip, 4 * n + n // 3, 7 * n + n // 3))  # another stretch, other start phase
    assert similarity(later, first).score >= 0.9
    for other in DOGS:
        if other != name:
            assert similarity(later, reference_features(other)).score < 0.6, other
