"""Endpoint failures through the real openai client: retries, timeouts, auth, connection, config."""

from __future__ import annotations

import socket
import time

import pytest
from bilevel_data import KEY_ENV, PROGRAM, SECRET_KEY, sample_feedback, synthesis_request
from fake_openai_server import FakeOpenAIServer, Reply, chat_reply, error_reply

from lm_reward_learning.bilevel.endpoint import (
    EndpointAuthError,
    EndpointConfig,
    EndpointConnectionError,
    EndpointError,
    EndpointRateLimitError,
    EndpointRequestError,
    EndpointResponseError,
    EndpointServerError,
    EndpointTimeoutError,
)
from lm_reward_learning.bilevel.openai_backend import OpenAISynthesis
from lm_reward_learning.errors import ConfigError, LmrlError

ANSWER = f"```python\n{PROGRAM}```"


def synth(server: FakeOpenAIServer, **kw) -> OpenAISynthesis:
    config = EndpointConfig(base_url=server.base_url, model="fake-llm", api_key_env=KEY_ENV, **kw)
    return OpenAISynthesis(config)


@pytest.mark.parametrize(("status", "retries"), [(500, 1), (503, 2), (429, 1), (429, 2)])
def test_transient_failures_are_retried(server, api_key, status, retries) -> None:
    server.script(*[error_reply(status)] * retries, chat_reply(ANSWER))
    result = synth(server, max_retries=retries).synthesize(synthesis_request(sample_feedback()))
    assert result.source == PROGRAM
    assert len(server.requests) == retries + 1


def test_server_errors_after_all_retries(server, api_key) -> None:
    server.script(*[error_reply(500, "upstream exploded")] * 3)
    with pytest.raises(EndpointServerError) as info:
        synth(server, max_retries=2).synthesize(synthesis_request(sample_feedback()))
    message = str(info.value)
    assert "HTTP 500 through 3 attempts" in message
    assert "upstream exploded" in message
    assert len(server.requests) == 3
    assert isinstance(info.value, EndpointError)
    assert isinstance(info.value, LmrlError)


def test_rate_limit_after_all_retries_suggests_slowing_down(server, api_key) -> None:
    server.script(*[error_reply(429, "Rate limit reached")] * 2)
    with pytest.raises(EndpointRateLimitError, match="lower the request rate") as info:
        synth(server, max_retries=1).synthesize(synthesis_request(sample_feedback()))
    assert "retry later" in str(info.value)
    assert len(server.requests) == 2


def test_timeout_names_the_limit_and_how_to_raise_it(server, api_key) -> None:
    server.script(chat_reply(ANSWER, delay_s=5.0))
    start = time.monotonic()
    with pytest.raises(EndpointTimeoutError) as info:
        synth(server, timeout_s=0.3, max_retries=0).synthesize(synthesis_request(sample_feedback()))
    assert time.monotonic() - start < 3.0
    assert "timeout_s=0.3 s" in str(info.value)
    assert "raise timeout_s" in str(info.value)


def test_401_names_the_environment_variable_and_is_not_retried(server, api_key) -> None:
    server.script(error_reply(401, f"Incorrect API key provided: {SECRET_KEY}"))
    with pytest.raises(EndpointAuthError) as info:
        synth(server, max_retries=2).synthesize(synthesis_request(sample_feedback()))
    message = str(info.value)
    assert f"set the environment variable {KEY_ENV}" in message
    assert SECRET_KEY not in message  # redacted even when the server echoes it
    assert info.value.__cause__ is None  # the SDK error quoting the key is not chained
    assert len(server.requests) == 1


def test_missing_key_is_reported_before_any_request(monkeypatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    config = EndpointConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key_env=KEY_ENV)
    with pytest.raises(EndpointAuthError, match=f"set the environment variable {KEY_ENV}"):
        OpenAISynthesis(config)
    local = EndpointConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key_env=KEY_ENV, require_api_key=False)
    OpenAISynthesis(local)  # a local server without keys


def test_connection_refused_names_the_base_url(api_key) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    config = EndpointConfig(base_url=base_url, model="m", api_key_env=KEY_ENV, max_retries=0, timeout_s=5)
    with pytest.raises(EndpointConnectionError) as info:
        OpenAISynthesis(config).synthesize(synthesis_request(sample_feedback()))
    assert f"cannot connect to {base_url}" in str(info.value)
    assert "base_url" in str(info.value)


def test_bad_request_and_not_found_say_what_to_check(server, api_key) -> None:
    server.script(error_reply(400, "Invalid parameter: response_format"), error_reply(404, "model not found"))
    with pytest.raises(EndpointRequestError, match="json_mode: false"):
        synth(server).synthesize(synthesis_request(sample_feedback()))
    with pytest.raises(EndpointRequestError, match="check the model name"):
        synth(server).synthesize(synthesis_request(sample_feedback()))


def test_config_from_dict_rejects_unknown_keys_and_bad_values() -> None:
    config = EndpointConfig.from_dict({"base_url": "http://h/v1", "model": "m", "timeout_s": 5, "json_mode": True})
    assert config.timeout_s == 5.0
    assert config.json_mode
    with pytest.raises(ConfigError, match="unknown key"):
        EndpointConfig.from_dict({"base_url": "http://h/v1", "model": "m", "timeout": 5})
    with pytest.raises(ConfigError, match="http"):
        EndpointConfig(base_url="h/v1", model="m")
    with pytest.raises(ConfigError, match="max_retries"):
        EndpointConfig(base_url="http://h/v1", model="m", max_retries=-1)


# Answers with HTTP 200 that are not chat completions: a truncated JSON body, a proxy's HTML page, JSON
# of another shape. The SDK neither retries these nor raises one of its errors for them.
MALFORMED = {
    "truncated_json": Reply(200, '{"id": "chatcmpl-1", "choices": [{"index": 0, "message": {"role": "assis'),
    "html_page": Reply(200, "<html><body>502 Bad Gateway</body></html>", content_type="text/html"),
    "json_list": Reply(200, "[1, 2, 3]"),
    "no_choices": Reply(200, '{"id": "chatcmpl-1", "object": "chat.completion"}'),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_answer_is_retried_then_an_endpoint_error(server, api_key, kind) -> None:
    server.script(*[MALFORMED[kind]] * 3)
    start = time.monotonic()
    with pytest.raises(EndpointResponseError) as info:
        synth(server, max_retries=2).synthesize(synthesis_request(sample_feedback()))
    assert len(server.requests) == 3  # retried max_retries times
    assert time.monotonic() - start >= 1.5 - 0.1  # backoff 0.5 s, then 1 s
    message = str(info.value)
    assert f"{server.base_url} (model fake-llm) did not answer with a chat completion in 3 attempts" in message
    assert "check base_url" in message
    assert isinstance(info.value, EndpointError) and isinstance(info.value, LmrlError)


def test_malformed_json_names_the_problem_and_quotes_the_body(server, api_key) -> None:
    server.script(MALFORMED["truncated_json"])
    with pytest.raises(EndpointResponseError, match=r"not valid JSON .*it begins: .*chatcmpl-1"):
        synth(server, max_retries=0).synthesize(synthesis_request(sample_feedback()))


def test_malformed_answer_then_a_good_one_recovers(server, api_key) -> None:
    server.script(MALFORMED["truncated_json"], MALFORMED["html_page"], chat_reply(ANSWER))
    result = synth(server, max_retries=2).synthesize(synthesis_request(sample_feedback()))
    assert result.source == PROGRAM
    assert len(server.requests) == 3
