"""Grounded evidence for the judge: measured facts, contact timing, footfall diagram; a contradiction of a
hard fact is sent back once, then overruled in the stored feedback (fake OpenAI server, real SDK)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from bilevel_data import KEY_ENV, feedback_request
from test_motion_feedback import rollout_npz

from lm_reward_learning.bilevel import evidence
from lm_reward_learning.bilevel.endpoint import EndpointConfig
from lm_reward_learning.bilevel.openai_backend import OpenAIFeedback
from lm_reward_learning.bilevel.protocols import Feedback

from fake_openai_server import chat_reply  # isort: skip


def facts(ev: evidence.Evidence) -> dict[str, bool]:
    return {f.name: f.value for f in ev.facts}


def test_measured_facts_contact_timing_and_footfall_diagram(tmp_path) -> None:
    png = tmp_path / "footfalls.png"
    ev = evidence.measure(
        rollout_npz(tmp_path / "a.npz", 2.0, fell=True, speed=0.8), {"stride_frequency_hz": 2.0}, 0.8, png
    )
    assert facts(ev) == {"fell": True, "moved_forward": True, "speed_near_command": True}
    assert "FELL" in ev.facts[0].statement
    assert ev.footfall_png == png.read_bytes() and ev.footfall_png.startswith(b"\x89PNG")
    assert len(ev.contacts) == 4 and ev.to_dict()["footfall_png"] == f"{len(ev.footfall_png)} bytes"
    # a perfect trot: duty factor 0.5 on every foot, 2 Hz strides -> 0.25 s stance and swing, diagonal pairs
    assert all(c["duty_factor"] == pytest.approx(0.5, abs=0.03) for c in ev.contacts)
    assert all(c["mean_stance_s"] == pytest.approx(0.25, abs=0.03) for c in ev.contacts)
    assert [c["phase_lag"] for c in ev.contacts] == pytest.approx([0.0, 0.5, 0.5, 0.0], abs=0.03)
    assert ev.robot["stride_frequency_hz"] == pytest.approx(2.0, rel=0.05)
    # 6 s at 0.1 m/s = 0.6 m travelled, but 0.1 m/s is far from the 0.8 m/s command (off by > 50 %)
    slow = evidence.measure(rollout_npz(tmp_path / "b.npz", 2.0, speed=0.1), None, 0.8)
    assert facts(slow) == {"fell": False, "moved_forward": True, "speed_near_command": False}
    still = evidence.measure(rollout_npz(tmp_path / "c.npz", 2.0, speed=0.0), None, 0.8)
    assert facts(still)["moved_forward"] is False and "DID NOT MOVE" in still.facts[1].statement


def answer(observed_fell: bool | None, text: str = "Longer strides.") -> str:
    data = {"problems": ["the strides are too short"], "rewrite": [], "remove": [], "add": [], "text": text}
    if observed_fell is not None:
        data["observed"] = {"fell": observed_fell, "moved_forward": True, "speed_near_command": True}
    return json.dumps(data)


@pytest.fixture
def fell_request(tmp_path):
    ev = evidence.measure(
        rollout_npz(tmp_path / "fell.npz", 2.0, fell=True), {"stride_frequency_hz": 2.0}, 0.8, tmp_path / "f.png"
    )
    return dataclasses.replace(feedback_request(tmp_path), evidence=ev)


def backend(server) -> OpenAIFeedback:
    return OpenAIFeedback(EndpointConfig(base_url=server.base_url, model="fake-vlm", api_key_env=KEY_ENV))


def test_a_contradicted_hard_fact_is_retried_then_overruled(server, api_key, fell_request) -> None:
    server.script(chat_reply(answer(False)), chat_reply(answer(None, "The robot keeps its balance throughout.")))
    fb = backend(server).feedback(fell_request)
    assert len(server.requests) == 2
    first = json.dumps(server.requests[0].body["messages"])
    assert "HARD FACTS" in first and "The robot FELL" in first and "data:image/png;base64," in first
    retry = server.requests[1].body["messages"][-1]["content"]
    assert "contradicts facts measured in the simulation" in retry and '"observed": {"fell": false}' in retry
    assert fb.problems[0].startswith("[measured] The robot FELL") and fb.problems[1] == "the strides are too short"
    (record,) = fb.measurements["overruled"]
    assert record["fact"] == "fell" and record["measured"] is True and record["answer_said"] == '"keeps its balance"'
    assert "cannot override" in record["reason"] and "[overruled:" in fb.text
    stored = Feedback.from_dict(json.loads(json.dumps(fb.to_dict())))  # as feedback.json keeps it
    assert stored.measurements["overruled"][0]["fact"] == "fell" and stored.problems == fb.problems


def test_a_corrected_answer_is_kept_and_a_consistent_one_asked_once(server, api_key, fell_request) -> None:
    server.script(chat_reply(answer(False)), chat_reply(answer(True)))
    fb = backend(server).feedback(fell_request)
    assert len(server.requests) == 2 and "overruled" not in fb.measurements
    assert fb.problems == ("the strides are too short",) and fb.measurements["evidence"]["facts"][0]["value"] is True
    server.script(chat_reply(answer(True, "The robot falls after two strides.")))
    assert backend(server).feedback(fell_request).problems == ("the strides are too short",)
    assert len(server.requests) == 3


def test_text_claims_count_only_against_the_measured_value(fell_request) -> None:
    ev = fell_request.evidence
    fine = Feedback(problems=("The robot falls over after two strides.",))
    assert evidence.contradictions(ev, {}, fine) == []
    wrong = Feedback(problems=("It does not fall, but it drags its feet.",))
    assert [w["fact"] for w in evidence.contradictions(ev, {}, wrong)] == ["fell"]
