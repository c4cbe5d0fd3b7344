"""Gait features on synthetic gaits with known timing, checked against hand-computed numbers.

Unless stated otherwise the synthetic gaits use f = 1.25 Hz and dt = 0.01 s, so one stride is
1 / (1.25 * 0.01) = 80 samples and every phase below (multiples of 0.05 = 4 samples) falls on a
sample. A 4 s record holds 400 samples; FL touches down at samples 80, 160, 240, 320 (sample 0 has
no swing sample before it), i.e. 3 complete strides of the reference foot.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from lm_reward_learning.gait import (
    GRAVITY,
    TEXTBOOK_PHASES,
    TrajectoryTooShortError,
    compute_features,
    features_from_contacts,
    synthetic_gait,
)
from lm_reward_learning.gait.contacts import circular_distance, circular_mean, debounce_contacts

F_HZ = 1.25
DT = 0.01


def _gait(name: str, duty: float = 0.4, **kwargs: object):
    return synthetic_gait(TEXTBOOK_PHASES[name], duty, F_HZ, dt=DT, **kwargs)


@pytest.mark.parametrize(
    ("name", "duty", "phases", "flight", "gait"),
    [
        # trot: diagonal pairs (FL+RR, FR+RL) in phase, the two pairs half a stride apart.
        # Each pair is down for 0.4 of a stride, at [0, 0.4) and [0.5, 0.9): flight 0.1 + 0.1 = 0.2.
        ("trot", 0.4, (0.0, 0.5, 0.5, 0.0), 0.2, "trot"),
        # pace: ipsilateral pairs (FL+RL, FR+RR) in phase; same flight arithmetic as the trot.
        ("pace", 0.4, (0.0, 0.5, 0.0, 0.5), 0.2, "pace"),
        # bound: fore pair and hind pair in phase, half a stride apart; flight again 0.2.
        ("bound", 0.4, (0.0, 0.0, 0.5, 0.5), 0.2, "bound"),
        # pronk: all four feet down during [0, 0.4): flight 1 - 0.4 = 0.6.
        ("pronk", 0.4, (0.0, 0.0, 0.0, 0.0), 0.6, "pronk"),
        # walk: footfalls a quarter stride apart (FL 0, RR 0.25, FR 0.5, RL 0.75), duty 0.6 > 0.5:
        # at any time at least two feet are down, so there is no flight.
        ("walk", 0.6, (0.0, 0.5, 0.75, 0.25), 0.0, "walk"),
    ],
)
def test_textbook_gaits(name: str, duty: float, phases: tuple, flight: float, gait: str) -> None:
    feats = compute_features(_gait(name, duty))
    assert feats.stride_frequency_hz == pytest.approx(F_HZ)  # touchdowns 80 samples = 0.8 s apart
    assert feats.stride_period_s == pytest.approx(0.8)
    assert feats.num_strides == 3
    # duty factor over whole strides: 0.4 * 80 = 32 (0.6 * 80 = 48) contact samples of every 80
    assert feats.duty_factor == pytest.approx((duty,) * 4)
    assert feats.phase_offsets == pytest.approx(phases)
    assert feats.flight_fraction == pytest.approx(flight)
    assert feats.gait == gait


def test_walk_is_lateral_sequence() -> None:
    # limb phase λ = (φ_FL - φ_RL) mod 1 = (0 - 0.75) mod 1 = 0.25 < 0.5: lateral sequence
    assert "lateral-sequence walk" in compute_features(_gait("walk", 0.6)).gait_detail


def test_rotary_gallop() -> None:
    # FL 0, FR 0.15 (fore lead right), RR 0.5, RL 0.65 (hind lead left): leads on opposite sides
    feats = compute_features(_gait("rotary_gallop", 0.3))
    assert feats.phase_offsets == pytest.approx((0.0, 0.15, 0.65, 0.5))
    assert feats.gait == "canter/gallop"
    assert feats.gait_detail.startswith("rotary gallop")


def test_biped_walk() -> None:
    feats = compute_features(_gait("biped_walk", 0.6))
    assert feats.foot_names == ("left", "right")
    assert feats.phase_offsets == pytest.approx((0.0, 0.5))
    assert feats.duty_factor == pytest.approx((0.6, 0.6))
    assert feats.gait == "walk"


def test_biped_run_has_flight() -> None:
    feats = compute_features(_gait("biped_walk", 0.35))
    # each foot down for 0.35 of a stride, half a stride apart: flight 2 * (0.5 - 0.35) = 0.3
    assert feats.flight_fraction == pytest.approx(0.3)
    assert feats.gait == "run"


def test_speed_froude_and_stride_length() -> None:
    feats = compute_features(_gait("trot", speed_mps=1.5, leg_length=0.3))
    assert feats.forward_speed_mps == pytest.approx(1.5)
    # Fr = v² / (g L) = 2.25 / (9.81 * 0.3) = 2.25 / 2.943 = 0.764526
    assert feats.froude_number == pytest.approx(0.764526, rel=1e-5)
    assert GRAVITY == 9.81
    # stride length = v / f = 1.5 / 1.25 = 1.2 m
    assert feats.stride_length_m == pytest.approx(1.2)
    # dimensionless speed v / sqrt(g L) = 1.5 / sqrt(2.943) = 0.874372
    assert feats.dimensionless_speed == pytest.approx(0.874372, rel=1e-5)
    # dimensionless frequency f sqrt(L / g) = 1.25 * sqrt(0.3 / 9.81) = 1.25 * 0.174874 = 0.218593
    assert feats.dimensionless_stride_frequency == pytest.approx(0.218593, rel=1e-5)


def test_speed_sign_follows_the_heading() -> None:
    traj = _gait("trot", speed_mps=1.0)
    backwards = dataclasses.replace(traj, base_lin_vel_w=-traj.base_lin_vel_w)
    assert compute_features(backwards).forward_speed_mps == pytest.approx(-1.0)
    # sideways drift within a stride averages out: +0.3 m/s and -0.3 m/s lateral in turn
    wobble = traj.base_lin_vel_w.copy()
    wobble[:, 1] = np.where(np.arange(traj.num_steps) % 80 < 40, 0.3, -0.3)
    assert compute_features(dataclasses.replace(traj, base_lin_vel_w=wobble)).forward_speed_mps == (
        pytest.approx(1.0, rel=0.01)
    )


def test_base_oscillations() -> None:
    feats = compute_features(
        _gait("trot", base_height=0.28, height_amplitude=0.02, pitch_amplitude=0.05, roll_amplitude=0.08)
    )
    # sines over whole cycles (5 strides of 80 samples) have standard deviation amplitude / sqrt(2)
    assert feats.base_height_mean_m == pytest.approx(0.28)
    assert feats.base_height_osc_m == pytest.approx(0.02 / math.sqrt(2))  # 0.014142
    assert feats.base_pitch_osc_rad == pytest.approx(0.05 / math.sqrt(2))  # 0.035355
    assert feats.base_roll_osc_rad == pytest.approx(0.08 / math.sqrt(2))  # 0.056569


def test_cost_of_transport() -> None:
    traj = _gait("trot", speed_mps=1.5)
    torques = np.tile([2.0, -3.0], (traj.num_steps, 1))  # N·m
    joint_vel = np.ones((traj.num_steps, 2))  # rad/s
    traj = dataclasses.replace(traj, joint_torques=torques, joint_vel=joint_vel, mass_kg=10.0)
    # power Σ|τω| = |2·1| + |-3·1| = 5 W; over 399 intervals of 0.01 s: 19.95 J.
    # distance 1.5 m/s * 3.99 s = 5.985 m. CoT = 19.95 / (10 * 9.81 * 5.985) = 0.0339789
    assert compute_features(traj).cost_of_transport == pytest.approx(0.0339789, rel=1e-5)


def test_cost_of_transport_needs_joint_data_and_travel() -> None:
    assert compute_features(_gait("trot")).cost_of_transport is None
    traj = _gait("trot", speed_mps=0.0)
    traj = dataclasses.replace(traj, joint_torques=np.ones((400, 2)), joint_vel=np.ones((400, 2)), mass_kg=10.0)
    assert compute_features(traj).cost_of_transport is None  # no distance travelled


def test_noisy_contacts_are_robust() -> None:
    # 3 % of contact samples flipped at random; dt = 0.005 s (160 samples per stride), 8 s.
    traj = synthetic_gait(TEXTBOOK_PHASES["trot"], 0.4, F_HZ, dt=0.005, duration_s=8.0, contact_flip_prob=0.03, seed=1)
    feats = compute_features(traj)
    assert feats.stride_frequency_hz == pytest.approx(F_HZ, rel=0.02)
    assert feats.duty_factor == pytest.approx((0.4,) * 4, abs=0.03)
    for got, want in zip(feats.phase_offsets, (0.0, 0.5, 0.5, 0.0), strict=True):
        assert circular_distance(got, want) < 0.03
    assert feats.gait == "trot"


def test_features_from_contacts_leaves_unmeasurable_fields_none() -> None:
    traj = _gait("pace")
    feats = features_from_contacts(traj.foot_contact, DT)
    assert feats.gait == "pace"
    assert feats.stride_frequency_hz == pytest.approx(F_HZ)
    for field in (
        "forward_speed_mps",
        "froude_number",
        "stride_length_m",
        "base_height_mean_m",
        "base_pitch_osc_rad",
        "cost_of_transport",
        "leg_length_m",
    ):
        assert getattr(feats, field) is None, field
    with_speed = features_from_contacts(traj.foot_contact, DT, forward_speed_mps=1.5, leg_length_m=0.3)
    assert with_speed.froude_number == pytest.approx(0.764526, rel=1e-5)  # as above
    assert with_speed.base_height_mean_m is None


def test_standing_still_has_no_stride() -> None:
    # 7 s of all feet down: longer than 3 / 0.5 Hz = 6 s, so no error, but nothing to time
    feats = features_from_contacts(np.ones((700, 4), dtype=bool), DT)
    assert feats.stride_frequency_hz is None
    assert feats.phase_offsets is None
    assert feats.gait is None
    assert feats.duty_factor == (1.0, 1.0, 1.0, 1.0)
    assert feats.flight_fraction == 0.0


def test_too_short_says_how_long_to_record() -> None:
    # 1.5 s: FL touches down only at sample 80 (0 complete strides); FR touches down at samples
    # 40 and 120, so a stride is 0.8 s and 3 strides = 2.4 s are asked for.
    traj = _gait("trot", duration_s=1.5)
    with pytest.raises(TrajectoryTooShortError, match=r"record at least 2\.4 s") as info:
        compute_features(traj)
    assert info.value.got_s == pytest.approx(1.5)
    assert info.value.needed_s == pytest.approx(2.4)


def test_too_short_without_any_stride() -> None:
    with pytest.raises(TrajectoryTooShortError, match=r"record at least 6\.0 s"):
        features_from_contacts(np.ones((100, 2), dtype=bool), DT)


def test_debounce_fills_gaps_and_drops_blips() -> None:
    c = np.array([1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1], dtype=bool)[:, None]
    # the 1-sample gap at index 2 is filled, the 1-sample blip at index 9 dropped; the edge run at
    # index 13 is kept (cut by the record, not short)
    want = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1], dtype=bool)[:, None]
    np.testing.assert_array_equal(debounce_contacts(c, 2), want)


def test_circular_helpers() -> None:
    assert circular_distance(0.95, 0.05) == pytest.approx(0.1)
    assert circular_mean(np.array([0.98, 0.02])) == pytest.approx(0.0, abs=1e-12)
    assert circular_mean(np.array([0.4, 0.6])) == pytest.approx(0.5)


def test_to_dict_is_json_friendly() -> None:
    d = compute_features(_gait("trot")).to_dict()
    assert d["gait"] == "trot" and isinstance(d["duty_factor"], list)
