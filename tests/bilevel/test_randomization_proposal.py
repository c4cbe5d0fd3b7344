"""DrEureka in the loop: the offline rules' ranges from a RAPP sweep, the schema and physical-bound checks,
retries with the error, and the last good ranges kept when every answer is rejected."""

from __future__ import annotations

import dataclasses

import pytest

from lm_reward_learning.bilevel.randomization_proposal import (
    ProposalAnswer,
    ProposalRequest,
    RulesProposer,
    build_messages,
    check_proposal,
    propose,
)
from lm_reward_learning.config import load_train_config
from lm_reward_learning.errors import ConfigError
from lm_reward_learning.randomization import describe
from lm_reward_learning.robots import get_robot

SPEC = get_robot("go2")
CURRENT = load_train_config("go2").randomization


def _param(key: str, nominal: float, rapp: list[float] | None, unit: str = "") -> dict:
    values = [{"value": v, "success_rate": 1.0, "vel_rms_mps": 0.1, "works": True} for v in (rapp or [])]
    return {"key": key, "unit": unit, "nominal": nominal, "values": values, "rapp": rapp}


SWEEP = {
    "episodes": 4,
    "seed": 0,
    "success_min": 0.75,
    "rms_max_mps": 0.5,
    "params": [
        _param("physics_material.static_friction_range", 0.8, [0.2, 2.0]),
        _param("add_base_mass.mass_distribution_params", 0.0, [-3.0, 5.0], "kg"),
        _param("push_robot.velocity_range.y", 0.0, [0.0, 1.5], "m/s"),
        _param("action_latency.latency_range_s", 0.0, [0.0, 0.04], "s"),
        _param("joint_calibration.offset_range_rad", 0.0, [-0.1, 0.05], "rad"),
        _param("motor_strength.torque_limit_scale_range", 1.0, None),  # works nowhere: keep the current range
    ],
}


def _request(**kw) -> ProposalRequest:
    return ProposalRequest("go2", "walk forward", SWEEP, CURRENT, **kw)


def test_rules_shrink_the_rapp_span_around_nominal_inside_physical_bounds() -> None:
    answer = RulesProposer().propose(_request())
    cfg = check_proposal(answer.ranges, SPEC)
    # friction: 0.8 + 0.8 * (0.2 - 0.8) = 0.32 ... 0.8 + 0.8 * (2.0 - 0.8) = 1.76, joined with the trained
    # 0.3 ... 1.25: 0.3 ... 1.76
    assert cfg.physics_material.static_friction_range == pytest.approx((0.3, 1.76))
    # mass: 0.8 * [-3, 5] = [-2.4, 4.0] kg (half of the 6.9 kg base may go: -3.46 kg is the bound)
    assert cfg.add_base_mass.mass_distribution_params == pytest.approx((-2.4, 4.0))
    assert cfg.push_robot.velocity_range.x == pytest.approx((-1.2, 1.2))
    assert cfg.action_latency.latency_range_s == pytest.approx((0.0, 0.032))
    assert cfg.joint_calibration.offset_range_rad == pytest.approx((-0.04, 0.04))  # symmetric: the smaller side
    assert cfg.motor_strength == CURRENT.motor_strength  # no working value: unchanged
    assert "not an LLM" in RulesProposer.label


class _Scripted:
    label = "scripted test answers"

    def __init__(self, answers: list[dict]) -> None:
        self.answers, self.seen = list(answers), []

    def propose(self, request: ProposalRequest) -> ProposalAnswer:
        self.seen.append(request.error)
        return ProposalAnswer(ranges=self.answers.pop(0), text="...")


def test_a_rejected_answer_goes_back_with_the_error() -> None:
    bad = {"physics_material": {"static_friction_range": [0.01, 3.0]}}  # outside [0.05, 2.0]
    good = {"physics_material": {"static_friction_range": [0.4, 1.0]}}
    proposer = _Scripted([bad, good])
    record = propose(proposer, _request(), SPEC, retries=2)
    assert record["accepted"] and not record["kept_previous"]
    assert proposer.seen[0] == "" and "outside the physical bounds" in proposer.seen[1]
    assert record["ranges"]["physics_material"] == {"static_friction_range": [0.4, 1.0]}
    assert [bool(a["error"]) for a in record["attempts"]] == [True, False]


def test_when_every_answer_is_rejected_the_last_good_ranges_stay() -> None:
    answers = [{"physics_material": {"friction": [0.4, 1.0]}},  # schema: unknown key
               {"add_base_mass": {"mass_distribution_params": [-6.0, 1.0]}}]  # below half the base mass  # fmt: skip
    record = propose(_Scripted(answers), _request(), SPEC, retries=1)
    assert not record["accepted"] and record["kept_previous"]
    assert record["ranges"] == describe(CURRENT)
    assert "unknown key" in record["attempts"][0]["error"]
    assert "add_base_mass" in record["attempts"][1]["error"]


def test_check_proposal_refuses_bad_shapes() -> None:
    with pytest.raises(ConfigError, match="not a range"):
        check_proposal({"motor_strength": {"torque_limit_scale_range": [1.2, 0.8]}}, SPEC)
    with pytest.raises(ConfigError, match="mapping"):
        check_proposal(["friction", 0.5], SPEC)


def test_prompt_carries_the_rapp_bounds_schema_and_error() -> None:
    msgs = build_messages(dataclasses.replace(_request(), error="randomization.x is wrong"))
    system, user = msgs[0]["content"], msgs[1]["content"]
    assert "physics_material.static_friction_range: [low, high]" in system
    assert "[0.05, 2.0]" in system  # the physical bound of friction
    assert "physics_material.static_friction_range: works in [0.2, 2]" in user
    assert "motor_strength.torque_limit_scale_range: works nowhere" in user
    assert "YOUR PREVIOUS RANGES WERE REJECTED" in user and "randomization.x is wrong" in user


def test_openai_proposer_asks_the_endpoint_and_records_its_answer(server, api_key) -> None:
    import json

    from bilevel_data import KEY_ENV
    from fake_openai_server import chat_reply

    from lm_reward_learning.bilevel.openai_backend import EndpointConfig
    from lm_reward_learning.bilevel.randomization_proposal import OpenAIProposer

    too_wide = {"randomization": {"push_robot": {"interval_range_s": [5, 10], "velocity_range": {"x": [-3, 3]}}}}
    fine = {"reasoning": "RAPP-bounded", "randomization": {"physics_material": {"static_friction_range": [0.3, 1.5]}}}
    server.script(chat_reply(json.dumps(too_wide)), chat_reply(json.dumps(fine), prompt_tokens=900))
    endpoint = EndpointConfig(base_url=server.base_url, model="fake-llm", api_key_env=KEY_ENV, json_mode=True)
    proposer = OpenAIProposer(endpoint)
    record = propose(proposer, _request(), SPEC, retries=2)
    assert record["accepted"] and record["backend"].startswith("openai (fake-llm")
    assert record["ranges"]["physics_material"]["static_friction_range"] == [0.3, 1.5]
    assert "push_robot.velocity_range" in record["attempts"][0]["error"]
    second_user = server.requests[1].body["messages"][1]["content"]
    assert "YOUR PREVIOUS RANGES WERE REJECTED" in second_user
    assert server.requests[0].body["response_format"] == {"type": "json_object"}
    assert record["attempts"][1]["usage"]["prompt_tokens"] == 900


def test_learn_with_proposed_randomization_end_to_end(tmp_path, monkeypatch) -> None:
    import json

    import yaml
    from bilevel_data import TINY_LEARN

    from lm_reward_learning.cli import main
    from lm_reward_learning.evaluation import rapp

    small = tuple(p for p in rapp.SWEEP if p.key.startswith(("physics_material", "action_latency")))
    monkeypatch.setattr(rapp, "SWEEP", tuple(dataclasses.replace(p, values=p.values[2:4]) for p in small))
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({**TINY_LEARN, "randomization_train_iterations": 1, "randomization_episodes": 1}))
    args = ["learn", "--config", str(cfg), "--runs-dir", str(tmp_path / "runs"), "--name", "t"]
    assert main([*args, "--randomization", "propose", "--policies-dir", str(tmp_path / "pol"), "--no-progress"]) == 0
    store = tmp_path / "runs" / "t"
    sweep = json.loads((store / "randomization" / "sweep.json").read_text())
    assert [p["key"] for p in sweep["params"]] == [p.key for p in small]
    proposal = json.loads((store / "randomization" / "proposal.json").read_text())
    assert proposal["backend"] == "rules (offline, not an LLM)"
    retrained = yaml.safe_load((store / "randomization" / "train" / "run.yaml").read_text())
    # the proposal less the curriculum: a warm-started policy gets the full ranges from the start
    assert retrained["randomization"] == {k: v for k, v in proposal["ranges"].items() if k != "curriculum_steps"}
    assert retrained["status"] == "done"
    battery = json.loads((store / "robustness" / "robustness.json").read_text())
    assert [p["label"] for p in battery["policies"]] == ["before (loop's best)", "after (proposed ranges)"]
    deploy = yaml.safe_load((tmp_path / "pol" / "go2" / "t" / "deploy.yaml").read_text())
    assert deploy["randomization"] == retrained["randomization"]  # the retrained policy is the exported one
    report = (store / "report.html").read_text()
    assert "Randomization proposed by the lower level (DrEureka)" in report and "<h2>Robustness</h2>" in report


def test_rules_never_narrow_a_trained_range() -> None:
    sweep = {**SWEEP, "params": [_param("push_robot.velocity_range.y", 0.0, [0.0, 0.5], "m/s")]}
    cfg = check_proposal(RulesProposer().propose(dataclasses.replace(_request(), sweep=sweep)).ranges, SPEC)
    # 0.8 x 0.5 m/s = 0.4 m/s where the policy works, but it was trained with +-1 m/s pushes: kept
    assert cfg.push_robot.velocity_range.y == pytest.approx((-1.0, 1.0))
