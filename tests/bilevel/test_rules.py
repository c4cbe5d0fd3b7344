"""The rules editor (offline lower level): edits, idempotence, validity, and the values it produces."""

from __future__ import annotations

import pytest
import torch

from lm_reward_learning.bilevel.protocols import ComponentChange, Feedback, SynthesisRequest
from lm_reward_learning.bilevel.rules import (
    MARKER,
    RulesEditError,
    RulesSynthesis,
    apply_feedback,
    current_params,
    library,
    split_program,
)
from lm_reward_learning.reward.batch import save_state_batch
from lm_reward_learning.reward.program import default_program, load_reward_fn
from lm_reward_learning.reward.synthetic import synthetic_state
from lm_reward_learning.reward.validator import validate_programs

FB = Feedback(
    problems=("strides too fast",),
    rewrite=(ComponentChange("lin_vel_z_l2", "allow bounce", {"weight_scale": 0.5}),),
    add=(ComponentChange("swing_duration_exp", "longer swings", {"target_s": 0.25, "bogus": 3.0}),),
    remove=("ang_vel_xy_l2",),
)


def test_library_terms_have_weights_and_arguments() -> None:
    lib = library()
    assert {"swing_duration_exp", "stance_duration_l1", "base_height_osc_l2", "flight_phase_exp"} <= set(lib)
    for term in lib.values():
        assert "weight" in term.params
        assert set(term.args) <= set(term.params)


def test_edit_adds_scales_removes_and_logs() -> None:
    src, log = apply_feedback(default_program("go2").source, FB)
    assert MARKER in src and "def base_reward(state):" in src
    assert "removed base term ang_vel_xy_l2" in log
    assert any("scaled lin_vel_z_l2 by 0.5" in x for x in log)
    assert any("added swing_duration_exp" in x and "ignored unknown params ['bogus']" in x for x in log)
    params = current_params(src)
    assert params["swing_duration_exp"]["target_s"] == 0.25
    assert params["swing_duration_exp"]["weight"] == library()["swing_duration_exp"].params["weight"]


def test_second_edit_regenerates_only_the_section() -> None:
    once, _ = apply_feedback(default_program("go2").source, FB)
    twice, log = apply_feedback(
        once, Feedback(problems=(), rewrite=(ComponentChange("swing_duration_exp", "stronger", {"weight": 2.0}),))
    )
    assert twice.count(MARKER) == 1 and twice.count("def base_reward(state):") == 1
    assert current_params(twice)["swing_duration_exp"] == {**current_params(once)["swing_duration_exp"], "weight": 2.0}
    base_once, section_once = split_program(once)
    base_twice, section_twice = split_program(twice)
    del section_once
    assert base_once == base_twice
    assert section_twice.removed == ["ang_vel_xy_l2"] and section_twice.scales == {"lin_vel_z_l2": 0.5}
    assert any("updated swing_duration_exp" in x for x in log)


def test_edited_programs_pass_validation_and_compute_the_scaled_terms(tmp_path) -> None:
    once, _ = apply_feedback(default_program("go2").source, FB)
    batch = tmp_path / "b.pt"
    state = synthetic_state(32, 12, 4, seed=1)
    save_state_batch(state, batch)
    (result,) = validate_programs([once], batch)
    assert result.ok, result.issues
    _, base = load_reward_fn(default_program("go2").source)(state)
    reward, comps = load_reward_fn(once, trusted=True)(state)
    assert "ang_vel_xy_l2" not in comps
    torch.testing.assert_close(comps["lin_vel_z_l2"], 0.5 * base["lin_vel_z_l2"])
    torch.testing.assert_close(comps["track_lin_vel_xy_exp"], base["track_lin_vel_xy_exp"])
    # swing_duration_exp = weight * sum over landing feet of (air/0.25) exp(-((air - 0.25)/std)^2), gated
    p = current_params(once)["swing_duration_exp"]
    landed = state.first_contact.float()
    air = state.last_air_time_s
    expect = torch.sum((air / 0.25) * torch.exp(-(((air - 0.25) / p["std_s"]) ** 2)) * landed, dim=1)
    expect = expect * (torch.linalg.norm(state.commands[:, :2], dim=1) > p["min_command"]).float()
    torch.testing.assert_close(comps["swing_duration_exp"], p["weight"] * expect)
    torch.testing.assert_close(reward, sum(comps.values()))


def test_unknown_term_without_scale_is_left_out_and_said() -> None:
    fb = Feedback(problems=(), add=(ComponentChange("galloping_magic", "do it"),))
    src, log = apply_feedback(default_program("go2").source, fb)
    assert "galloping_magic" not in src.split(MARKER)[1]
    assert any("left out 'galloping_magic'" in x for x in log)


def test_free_text_item_is_left_out_and_said() -> None:
    fb = Feedback(problems=(), add=(ComponentChange("", "reward forward speed"),))
    src, log = apply_feedback(default_program("go2").source, fb)
    assert log == ["left out free-text item 'reward forward speed': the rules editor edits named terms only"]
    assert src == apply_feedback(default_program("go2").source, Feedback(problems=()))[0]  # nothing changed


def test_rules_backend_needs_feedback_and_a_compute_reward() -> None:
    req = SynthesisRequest(1, 0, "go2", "walk", default_program("go2").source, "env")
    with pytest.raises(RulesEditError, match="--synthesis openai"):
        RulesSynthesis().synthesize(req)
    with pytest.raises(RulesEditError, match="no top-level compute_reward"):
        apply_feedback("PARAMS = {}\n", FB)
    result = RulesSynthesis().synthesize(
        SynthesisRequest(1, 0, "go2", "walk", default_program("go2").source, "env", feedback=FB)
    )
    assert result.backend.startswith("rules (deterministic editor, not an LLM)")
    assert "swing_duration_exp" in result.raw_response


def test_a_gait_pattern_sets_the_pattern_timing_and_flight_terms() -> None:
    from lm_reward_learning.bilevel.protocols import Feedback, GaitPattern

    fb = Feedback(problems=("it trots; the horse gallops",), gait_pattern=GaitPattern("bound", None, 0.35, 2.0))
    source, log = apply_feedback(default_program("go2").source, fb)
    params = current_params(source)
    sync = params["foot_contact_sync"]
    assert (sync["phase_fr"], sync["phase_rl"], sync["phase_rr"]) == (0.0, 0.5, 0.5)  # bound: pairs together
    assert params["stepping_frequency_exp"]["target_hz"] == 2.0
    assert params["swing_duration_exp"]["target_s"] == pytest.approx(0.325)  # (1 - 0.35) / 2 Hz
    assert params["stance_duration_l1"]["target_s"] == pytest.approx(0.175)
    assert "flight_phase_exp" in params and any("gait pattern" in line for line in log)
    from lm_reward_learning.reward.static_checks import check_source

    assert check_source(source) == []  # the edited program is an ordinary, valid reward program
    # then a walk: no flight, the walk's phases
    walk = Feedback(problems=("x",), gait_pattern=GaitPattern("walk"))
    params = current_params(apply_feedback(source, walk)[0])
    assert "flight_phase_exp" not in params
    assert params["foot_contact_sync"]["phase_rl"] == 0.75
