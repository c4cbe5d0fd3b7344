"""The gait vocabulary of the reward library: each pattern term rewards its pattern and not the others."""

from __future__ import annotations

import dataclasses
import math
from importlib import resources

import pytest
import torch

from lm_reward_learning.reward.sandbox import compile_reward_fn
from lm_reward_learning.reward.static_checks import check_source
from lm_reward_learning.reward.synthetic import synthetic_state

#: Contact states over one stride (4 quarter-stride steps) of each pattern, feet FL, FR, RL, RR.
PATTERNS = {
    "trot": [[1, 0, 0, 1], [1, 0, 0, 1], [0, 1, 1, 0], [0, 1, 1, 0]],
    "pace": [[1, 0, 1, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 1, 0, 1]],
    "bound": [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]],
    "pronk": [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
}
#: Phase offsets (FR, RL, RR after FL) of each pattern.
PHASES = {"trot": (0.5, 0.5, 0.0), "pace": (0.5, 0.0, 0.5), "bound": (0.0, 0.5, 0.5), "pronk": (0.0, 0.0, 0.0)}


@pytest.fixture(scope="module")
def library():
    source = resources.files("lm_reward_learning.reward.library").joinpath("gait_terms.py").read_text()
    assert check_source(source) == []
    namespace_fn = compile_reward_fn(source)  # the bundled library is trusted and compiles here
    return namespace_fn.__globals__


def _state(contacts: list[list[int]], **fields) -> object:
    base = synthetic_state(len(contacts), 12, 4, seed=3)
    c = torch.tensor(contacts, dtype=torch.bool)
    return dataclasses.replace(base, foot_contact=c, commands=torch.tensor([[0.8, 0.0, 0.0]] * len(contacts)), **fields)


@pytest.mark.parametrize("target", sorted(PATTERNS))
def test_foot_contact_sync_prefers_its_own_pattern(library, target: str) -> None:
    sync = library["foot_contact_sync"]
    scores = {shown: float(sync(_state(PATTERNS[shown]), *PHASES[target], 0.1).mean()) for shown in PATTERNS}
    assert scores[target] == pytest.approx(1.0)  # every pair as the pattern says
    assert all(scores[target] > s for shown, s in scores.items() if shown != target), scores


def test_foot_contact_sync_is_zero_without_a_command(library) -> None:
    state = dataclasses.replace(_state(PATTERNS["trot"]), commands=torch.zeros(4, 3))
    assert float(library["foot_contact_sync"](state, 0.5, 0.5, 0.0, 0.1).abs().max()) == 0.0


def test_contact_schedule_costs_nothing_when_the_feet_follow_it(library) -> None:
    """Trot schedule, duty 0.5: at gait phase 0.25 FL and RR stand (phase 0.25 < 0.5), FR and RL swing."""
    schedule = library["contact_schedule_exp"]
    follows = _state(
        [[1, 0, 0, 1]], gait_phase=torch.tensor([0.25]), foot_contact_force=torch.tensor([[200.0, 0.0, 0.0, 200.0]]),
        foot_vel_w=torch.zeros(1, 4, 3),
    )  # fmt: skip
    breaks = dataclasses.replace(follows, foot_contact_force=torch.tensor([[0.0, 200.0, 200.0, 0.0]]))
    args = (0.5, 0.5, 0.0, 0.5, 0.07, 100.0, 0.5)
    assert float(schedule(follows, *args)) == pytest.approx(0.0, abs=1e-3)
    assert float(schedule(breaks, *args)) == pytest.approx(2.0 * (1.0 - math.exp(-4.0)), abs=1e-2)


def test_stepping_frequency_peaks_at_the_target(library) -> None:
    step = library["stepping_frequency_exp"]

    def score(swing_s: float) -> float:
        state = _state([[1, 1, 1, 1]], first_contact=torch.ones(1, 4, dtype=torch.bool),
                       last_air_time_s=torch.full((1, 4), swing_s))  # fmt: skip
        return float(step(state, 2.0, 0.5, 0.5, 0.1))

    # duty 0.5 at 2 Hz: a stride of 0.5 s, swings of 0.25 s
    assert score(0.25) > score(0.4) and score(0.25) > score(0.15)
