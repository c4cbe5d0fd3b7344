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
