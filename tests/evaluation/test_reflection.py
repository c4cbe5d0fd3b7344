"""The ``reflection`` backend (Eureka-style reflection tuner, not an LLM): parsing, rules, edits."""

from __future__ import annotations

import pytest
import torch

from lm_reward_learning.bilevel.protocols import ComponentChange, Feedback, SynthesisRequest
from lm_reward_learning.bilevel.reflection import (
    LABEL,
    ReflectionSynthesis,
    parse_reflection,
    plan_edits,
    term_weights,
)
from lm_reward_learning.bilevel.rules import apply_feedback, current_params, split_program
from lm_reward_learning.reward.program import default_program, load_reward_fn
from lm_reward_learning.reward.synthetic import synthetic_state

# The format of lm_reward_learning.bilevel.steps.reflection_text (weighted per-step means).
REFLECTION = """Training ran 80 PPO iterations. Per-step mean of each term at iterations [0, 26, 53, 79]:
  track_lin_vel_xy_exp: 0.2, 0.4, 0.5, 0.6
  track_ang_vel_z_exp: 0.5, 0.6, 0.7, 0.7
  lin_vel_z_l2: -0.9, -0.8, -0.7, -0.75
  ang_vel_xy_l2: -0.1, -0.1, -0.1, -0.1
  joint_torques_l2: -0.05, n/a, -0.05, -0.05
  episode return: 1.5, 2.5, n/a, 4.0
  episode length (s): 2.0, 5.5, 9.0, 12.5
"""
GO2 = default_program("go2").source


def request(source: str = GO2, reflection: str | None = REFLECTION, candidate: int = 0) -> SynthesisRequest:
    return SynthesisRequest(1, candidate, "go2", "trot", source, "env", reward_reflection=reflection)


def test_parse_reads_terms_summaries_and_missing_values() -> None:
    r = parse_reflection(REFLECTION)
    assert r.iterations == 80
    assert list(r.terms) == [
        "track_lin_vel_xy_exp",
        "track_ang_vel_z_exp",
        "lin_vel_z_l2",
        "ang_vel_xy_l2",
        "joint_torques_l2",
    ]
    assert r.terms["joint_torques_l2"] == (-0.05, None, -0.05, -0.05)
    assert r.episode_return == (1.5, 2.5, None, 4.0) and r.episode_length_s[-1] == 12.5
    assert r.last("lin_vel_z_l2") == -0.75 and r.last("missing") is None
    assert parse_reflection("No training statistics yet.").terms == {}
    assert parse_reflection(None).iterations is None


def test_weights_come_from_params_scales_and_library_terms() -> None:
    w = term_weights(GO2)  # config of Isaac Lab's Go2 flat task
    assert w["track_lin_vel_xy_exp"] == 1.5 and w["lin_vel_z_l2"] == -2.0 and w["joint_torques_l2"] == -2.0e-4
    edited, _ = apply_feedback(
        GO2,
        Feedback(
            problems=(),
            rewrite=(ComponentChange("lin_vel_z_l2", "", {"weight_scale": 0.5}),),
            add=(ComponentChange("swing_duration_exp", "", {"weight": 0.8}),),
            remove=("ang_vel_xy_l2",),
        ),
    )
    w = term_weights(edited)
    assert w["lin_vel_z_l2"] == -1.0  # -2.0 * 0.5
    assert w["swing_duration_exp"] == 0.8
    assert "ang_vel_xy_l2" not in w


def test_rules_fire_on_the_arithmetic_of_the_last_means() -> None:
    # Tracking: u = 0.6 / 1.5 = 0.4 < 0.5 -> raise; 0.7 / 0.75 = 0.93 -> keep.
    # Penalties: P = 0.6 + 0.7 = 1.3; |-0.75| = 0.75 > 0.5 * 1.3 = 0.65 -> cut; 0.1 and 0.05 stay.
    edits = plan_edits(parse_reflection(REFLECTION), term_weights(GO2))
    assert [(e.name, e.factor) for e in edits] == [("track_lin_vel_xy_exp", 1.5), ("lin_vel_z_l2", 0.5)]
    assert "0.40 of its best" in edits[0].reason and "1.3" in edits[1].reason
    stronger = plan_edits(parse_reflection(REFLECTION), term_weights(GO2), strength=2)
    assert [e.factor for e in stronger] == [1.5**2, 0.5**2]
    # without a known weight the tracking rule cannot tell "low"; the penalty rule still works
    assert [e.name for e in plan_edits(parse_reflection(REFLECTION), {})] == ["lin_vel_z_l2"]


def test_backend_edits_deterministically_and_the_program_computes_scaled_terms() -> None:
    backend = ReflectionSynthesis()
    first = backend.synthesize(request())
    assert first.source == backend.synthesize(request()).source  # deterministic
    assert first.backend == LABEL and "not an LLM" in LABEL
    assert "scaled track_lin_vel_xy_exp by 1.5" in first.raw_response
    assert "scaled lin_vel_z_l2 by 0.5" in first.raw_response
    assert split_program(first.source)[1].scales == {"track_lin_vel_xy_exp": 1.5, "lin_vel_z_l2": 0.5}
    state = synthetic_state(16, 12, 4, seed=3)
    _, base = load_reward_fn(GO2)(state)
    reward, comps = load_reward_fn(first.source, trusted=True)(state)
    torch.testing.assert_close(comps["track_lin_vel_xy_exp"], 1.5 * base["track_lin_vel_xy_exp"])
    torch.testing.assert_close(comps["lin_vel_z_l2"], 0.5 * base["lin_vel_z_l2"])
    torch.testing.assert_close(comps["ang_vel_xy_l2"], base["ang_vel_xy_l2"])
    torch.testing.assert_close(reward, sum(comps.values()))
    # candidate 1 explores the stronger edit: 1.5^2 and 0.5^2
    second = backend.synthesize(request(candidate=1))
    assert split_program(second.source)[1].scales == {"track_lin_vel_xy_exp": 2.25, "lin_vel_z_l2": 0.25}


def test_library_terms_get_a_new_weight_and_quiet_reflections_change_nothing() -> None:
    with_swing, _ = apply_feedback(
        GO2, Feedback(problems=(), add=(ComponentChange("stance_duration_l1", "", {"weight": -0.5}),))
    )
    text = "Training ran 5 PPO iterations.\n  track_lin_vel_xy_exp: 1.2\n  stance_duration_l1: -1.0\n"
    # u = 1.2 / 1.5 = 0.8 -> keep; P = 1.2, |-1.0| > 0.6 -> stance weight -0.5 * 0.5 = -0.25
    out = ReflectionSynthesis().synthesize(request(with_swing, text))
    assert current_params(out.source)["stance_duration_l1"]["weight"] == pytest.approx(-0.25)
    quiet = ReflectionSynthesis().synthesize(request(GO2, "No training statistics yet."))
    assert quiet.source == GO2 and "no change" in quiet.raw_response
