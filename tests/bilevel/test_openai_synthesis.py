"""OpenAISynthesis against the fake server: prompt content per mode, code extraction, usage."""

from __future__ import annotations

import dataclasses

import pytest
from bilevel_data import KEY_ENV, PROGRAM, sample_feedback, synthesis_request
from fake_openai_server import FakeOpenAIServer, chat_reply

from lm_reward_learning.bilevel.endpoint import EndpointConfig
from lm_reward_learning.bilevel.extract import BackendResponseError
from lm_reward_learning.bilevel.openai_backend import OpenAISynthesis
from lm_reward_learning.bilevel.protocols import ComponentChange, SynthesisBackend
from lm_reward_learning.reward.static_checks import STATE_ATTRS, check_source

ANSWER = f"I lower the vertical-velocity penalty.\n\n```python\n{PROGRAM}```\n"


def backend(server: FakeOpenAIServer) -> OpenAISynthesis:
    return OpenAISynthesis(EndpointConfig(base_url=server.base_url, model="fake-llm", api_key_env=KEY_ENV))


def test_feedback_mode_sends_the_four_parts_and_returns_the_program(server, api_key) -> None:
    server.script(chat_reply(ANSWER, prompt_tokens=1234, completion_tokens=56))
    synth = backend(server)
    assert isinstance(synth, SynthesisBackend)
    result = synth.synthesize(synthesis_request(sample_feedback()))

    assert result.source == PROGRAM
    assert check_source(result.source) == []
    assert result.backend == "openai:fake-llm"
    assert result.raw_response == ANSWER
    assert result.usage == {"prompt_tokens": 1234, "completion_tokens": 56}
    assert [m["template"] for m in result.prompt] == ["synthesis_system_v1", "synthesis_user_v1"]

    sent = server.requests[0].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]
    assert all("template" not in m for m in sent)  # recorded, not sent
    assert [m["content"] for m in sent] == [m["content"] for m in result.prompt]
    system, user = sent[0]["content"], sent[1]["content"]
    for rule in ("def compute_reward(state):", "PARAMS", "try`/`except", "multiplies the total by dt", "_l2"):
        assert rule in system
    assert all(name in system for name in STATE_ATTRS)
    for part in (
        "- the robot trots; the horse gallops",
        "- lin_vel_z_l2: penalise less (suggested: weight=-0.5)",
        "Components to remove:\n- ang_vel_xy_l2",
        "- gait_frequency_exp: match 2.1 Hz (suggested: target_hz=2.1)",
        "gallop forward like the horse",
        "lin_vel_z_l2: mean -0.12 -> -0.03",  # the reward reflection
        PROGRAM.strip(),
    ):
        assert part in user
    assert "REJECTED" not in user


def test_free_text_items_reach_the_prompt_as_written(server, api_key) -> None:
    server.script(chat_reply(ANSWER))
    feedback = dataclasses.replace(sample_feedback(), add=(ComponentChange("", "reward forward speed"),))
    backend(server).synthesize(synthesis_request(feedback))
    user = server.requests[0].body["messages"][1]["content"]
    assert "Components to add:\n- reward forward speed\n" in user + "\n"
    assert ": reward forward speed" not in user  # no empty name in front of it


def test_eureka_mode_has_no_feedback_section_and_states_the_task(server, api_key) -> None:
    server.script(chat_reply(ANSWER))
    result = backend(server).synthesize(synthesis_request(feedback=None))
    user = server.requests[0].body["messages"][1]["content"]
    assert "gallop forward like the horse" in user
    assert "FEEDBACK" not in user
    assert "Problems:" not in user
    assert "REWARD REFLECTION" in user
    assert result.prompt[1]["template"] == "eureka_user_v1"


def test_retry_prompt_carries_the_validator_error(server, api_key) -> None:
    error = "line 3: `import numpy as np`: import statements are not allowed"
    server.script(chat_reply(ANSWER))
    backend(server).synthesize(synthesis_request(sample_feedback(), previous_error=error))
    user = server.requests[0].body["messages"][1]["content"]
    assert "YOUR PREVIOUS PROGRAM WAS REJECTED" in user
    assert error in user


def test_answer_without_code_raises(server, api_key) -> None:
    server.script(chat_reply("I would reward longer swings and a lower body."))
    with pytest.raises(BackendResponseError, match="answered without code") as info:
        backend(server).synthesize(synthesis_request(sample_feedback()))
    assert "I would reward longer swings" in str(info.value)
    assert "iteration 2 candidate 0" in str(info.value)


def test_truncated_answer_hints_at_max_tokens(server, api_key) -> None:
    server.script(chat_reply("Let me think about the gait", finish_reason="length"))
    with pytest.raises(BackendResponseError, match="raise max_tokens"):
        backend(server).synthesize(synthesis_request(sample_feedback()))


def test_max_tokens_param_and_temperature_are_configurable(server, api_key) -> None:
    server.script(chat_reply(ANSWER))
    config = EndpointConfig(
        base_url=server.base_url,
        model="m",
        api_key_env=KEY_ENV,
        temperature=None,
        max_tokens=999,
        token_limit_param="max_completion_tokens",
        extra_headers={"X-Route": "lab"},
    )
    OpenAISynthesis(config).synthesize(synthesis_request(sample_feedback()))
    request = server.requests[0]
    assert request.body["max_completion_tokens"] == 999
    assert "max_tokens" not in request.body
    assert "temperature" not in request.body
    assert request.headers["x-route"] == "lab"
