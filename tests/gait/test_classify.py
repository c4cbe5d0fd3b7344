"""Hildebrand gait classes from phases (FL, FR, RL, RR or left, right) and duty factors."""

from __future__ import annotations

import pytest

from lm_reward_learning.gait import BIPED_GAITS, QUADRUPED_GAITS, classify_gait


@pytest.mark.parametrize(
    ("phases", "duty", "gait", "detail"),
    [
        ((0.0, 0.5, 0.5, 0.0), 0.4, "trot", "running trot"),
        ((0.0, 0.5, 0.5, 0.0), 0.6, "trot", "walking trot"),
        ((0.0, 0.45, 0.55, 0.08), 0.4, "trot", "running trot"),  # within ±0.1 of the ideal
        ((0.0, 0.5, 0.0, 0.5), 0.5, "pace", "pace"),
        ((0.0, 0.0, 0.5, 0.5), 0.3, "bound", "bound"),
        ((0.0, 0.04, 0.96, 0.0), 0.3, "pronk", "pronk"),
        # limb phase λ = (φ_FL - φ_RL) mod 1 = 0.25 / 0.75: lateral / diagonal sequence
        ((0.0, 0.5, 0.75, 0.25), 0.7, "walk", "lateral-sequence walk"),
        ((0.0, 0.5, 0.25, 0.75), 0.7, "walk", "diagonal-sequence walk"),
        ((0.0, 0.5, 0.75, 0.25), 0.4, "walk", "lateral-sequence running walk"),
        # RR, then FR+RL together (a diagonal pair), then FL: three beats
        ((0.0, 0.7, 0.7, 0.5), 0.3, "canter/gallop", "canter"),
        ((0.0, 0.15, 0.5, 0.5), 0.3, "canter/gallop", "half-bound"),
        # FL then FR (fore lead right), RL then RR (hind lead right): same side
        ((0.0, 0.15, 0.5, 0.65), 0.3, "canter/gallop", "transverse gallop, lead fore right, lead hind right"),
        # FL then FR (lead right), RR then RL (lead left): opposite sides
        ((0.0, 0.15, 0.65, 0.5), 0.3, "canter/gallop", "rotary gallop, lead fore right, lead hind left"),
    ],
)
def test_quadruped_classes(phases: tuple, duty: float, gait: str, detail: str) -> None:
    got, got_detail = classify_gait(phases, (duty,) * 4)
    assert got == gait
    assert got in QUADRUPED_GAITS
    assert got_detail.startswith(detail)


@pytest.mark.parametrize(
    ("phases", "duty", "gait"),
    [
        ((0.0, 0.5), 0.6, "walk"),
        ((0.0, 0.48), 0.35, "run"),
        ((0.0, 0.97), 0.5, "hop"),
        ((0.0, 0.3), 0.4, "skip"),
    ],
)
def test_biped_classes(phases: tuple, duty: float, gait: str) -> None:
    got, _ = classify_gait(phases, (duty, duty))
    assert got == gait
    assert got in BIPED_GAITS


def test_unknown_phase_gives_no_class() -> None:
    assert classify_gait(None, (0.5,) * 4) == (None, None)
    assert classify_gait((0.0, None, 0.5, 0.5), (0.5,) * 4) == (None, None)


def test_tolerance_is_a_parameter() -> None:
    phases = (0.0, 0.5, 0.35, 0.85)  # diagonal pairs 0.15 apart
    assert classify_gait(phases, (0.4,) * 4)[0] == "walk"
    assert classify_gait(phases, (0.4,) * 4, tol=0.2)[0] == "trot"


#: Footfall phases (FL, FR, RL, RR) and duty factor of each class, rendered as a robot would record them.
PATTERNS = {
    "trot": ((0.0, 0.5, 0.5, 0.0), 0.45, "trot"),
    "pace": ((0.0, 0.5, 0.0, 0.5), 0.5, "pace"),
    "bound": ((0.0, 0.0, 0.5, 0.5), 0.3, "bound"),
    "pronk": ((0.0, 0.0, 0.0, 0.0), 0.3, "pronk"),
    "lateral walk": ((0.0, 0.5, 0.75, 0.25), 0.7, "walk"),
    "diagonal walk": ((0.0, 0.5, 0.25, 0.75), 0.7, "walk"),
    "canter": ((0.0, 0.7, 0.7, 0.5), 0.3, "canter/gallop"),
    "half-bound": ((0.0, 0.2, 0.5, 0.5), 0.3, "canter/gallop"),  # leads of 0.2 of a stride
    "transverse gallop": ((0.0, 0.2, 0.5, 0.7), 0.3, "canter/gallop"),
    "rotary gallop": ((0.0, 0.2, 0.7, 0.5), 0.3, "canter/gallop"),
}


@pytest.mark.parametrize("name", sorted(PATTERNS))
@pytest.mark.parametrize("freq_hz", [1.5, 3.0, 4.5])
def test_classes_survive_the_robots_sampling_a_one_sample_lag_and_contact_noise(name: str, freq_hz: float) -> None:
    """At 50 Hz a 4.5 Hz stride is 11 samples: phases are quantised to 0.09, a lag of one sample is 0.09.

    Every class survives the quantisation and contact noise at every frequency, and a one-sample lag or
    lead of any one foot up to 3 Hz; at 4.5 Hz trot and pace survive it too, while a gallop's 0.2 lead
    is then 2.2 samples (one sample less can make it a bound) and a walk's limb phase of 0.25 lies
    within one sample of 0.35, trot territory (limits of the sampling, classify.py; walks are slow).
    """
    from lm_reward_learning.gait import compute_features, synthetic_gait

    phases, duty, gait = PATTERNS[name]
    dt = 0.02
    copies = [phases]
    if gait in ("trot", "pace") or freq_hz <= 3.0:
        sample = dt * freq_hz  # one sample, in stride fractions
        for foot in (1, 2, 3):
            for sign in (-1, 1):
                shifted = list(phases)
                shifted[foot] = (shifted[foot] + sign * sample) % 1.0
                copies.append(tuple(shifted))
    for i, ph in enumerate(copies):
        traj = synthetic_gait(ph, duty, freq_hz, dt=dt, duration_s=6.0, contact_flip_prob=0.01, seed=i, name=name)
        feats = compute_features(traj)
        assert feats.gait == gait, (name, freq_hz, ph, feats.phase_offsets, feats.gait_detail)


def test_a_slow_irregular_shuffle_is_a_walk_not_a_gallop() -> None:
    gait, detail = classify_gait((0.0, 0.3, 0.6, 0.2), (0.8,) * 4)
    assert gait == "walk" and detail.startswith("irregular walk")
    assert classify_gait((0.0, 0.3, 0.6, 0.2), (0.35,) * 4)[0] == "canter/gallop"


def test_the_sampling_resolution_widens_the_tolerance() -> None:
    phases = (0.0, 0.5, 0.62, 0.12)  # RL and RR a sample late in an 8-sample stride (lag 0.125)
    assert classify_gait(phases, (0.45,) * 4)[0] != "trot"
    assert classify_gait(phases, (0.45,) * 4, resolution=1 / 8)[0] == "trot"
