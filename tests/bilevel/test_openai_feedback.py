"""OpenAIFeedback against the fake server through the real openai client: images, parsing, the key."""

from __future__ import annotations

import base64
import io
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from bilevel_data import KEY_ENV, SECRET_KEY, feedback_request
from fake_openai_server import FakeOpenAIServer, chat_reply
from PIL import Image

from lm_reward_learning.bilevel.endpoint import EndpointConfig
from lm_reward_learning.bilevel.extract import BackendResponseError
from lm_reward_learning.bilevel.openai_backend import ImageOptions, OpenAIFeedback
from lm_reward_learning.bilevel.protocols import FeedbackBackend
from lm_reward_learning.errors import LmrlError

GOOD = {
    "problems": ["the robot trots; the horse gallops"],
    "rewrite": [{"name": "lin_vel_z_l2", "instruction": "penalise less", "params": {"weight": -0.5}}],
    "remove": [],
    "add": [{"name": "gait_frequency_exp", "instruction": "match 2.1 Hz", "params": {"target_hz": 2.1}}],
    "text": "gallop",
}


def endpoint(server: FakeOpenAIServer, **kw) -> EndpointConfig:
    return EndpointConfig(base_url=server.base_url, model="fake-vlm", api_key_env=KEY_ENV, **kw)


def decode(url: str) -> np.ndarray:
    header, _, data = url.partition(",")
    assert header == "data:image/jpeg;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def test_frames_arrive_as_downscaled_data_urls_in_time_order(server, api_key, tmp_path: Path) -> None:
    server.script(chat_reply(json.dumps(GOOD)))
    backend = OpenAIFeedback(endpoint(server, json_mode=True), ImageOptions(max_frames=4, max_side=128))
    assert isinstance(backend, FeedbackBackend)
    feedback = backend.feedback(feedback_request(tmp_path))

    body = server.requests[0].body
    assert body["model"] == "fake-vlm"
    assert body["response_format"] == {"type": "json_object"}
    parts = body["messages"][1]["content"]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(urls) == 4 + 4
    images = [decode(u) for u in urls]
    # Expert 320x240 → longest side 128 → 128x96 (H, W = 96, 128); robot 100x200 → 64x128.
    assert all(im.shape == (96, 128, 3) for im in images[:4])
    assert all(im.shape == (128, 64, 3) for im in images[4:])
    # 12 expert frames, 4 kept: linspace(0, 11, 4) = 0, 3.67, 7.33, 11 → frames 0, 4, 7, 11 → grey 0, 80, 140, 220.
    # 6 rollout frames, 4 kept: linspace(0, 5, 4) = 0, 1.67, 3.33, 5 → frames 0, 2, 3, 5 → grey 0, 80, 120, 200.
    means = [float(im.mean()) for im in images]
    np.testing.assert_allclose(means, [0, 80, 140, 220, 0, 80, 120, 200], atol=3)

    assert feedback.backend == "openai:fake-vlm"
    assert feedback.problems == ("the robot trots; the horse gallops",)
    assert feedback.rewrite[0].params == {"weight": -0.5}
    assert feedback.add[0].name == "gait_frequency_exp"
    assert feedback.raw == json.dumps(GOOD)
    exchange = backend.last_exchange
    assert exchange["prompt_version"] == "v1"
    assert exchange["templates"] == ["feedback_system_v1", "feedback_user_v1"]
    assert exchange["usage"] == {"prompt_tokens": 11, "completion_tokens": 7}
    assert "base64" not in json.dumps(exchange)  # images are described, not embedded


def test_key_is_sent_as_bearer_and_never_logged_or_returned(server, api_key, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx", "httpx2", "httpcore", "httpcore2"):
        caplog.set_level(logging.DEBUG, logger=name)
    server.script(chat_reply(json.dumps(GOOD)))
    config = endpoint(server)
    backend = OpenAIFeedback(config)
    feedback = backend.feedback(feedback_request(tmp_path))

    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert "response_format" not in server.requests[0].body  # json_mode is off by default
    texts = [
        caplog.text,
        repr(feedback),
        json.dumps(feedback.to_dict()),
        json.dumps(backend.last_exchange),
        repr(config),
        json.dumps(config.to_record()),
        repr(backend.__dict__),
    ]
    assert caplog.records  # the SDK did log at debug level
    assert not [t for t in texts if SECRET_KEY in t]


def test_explicit_api_key_overrides_the_environment(server, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    server.script(chat_reply(json.dumps(GOOD)))
    config = EndpointConfig(base_url=server.base_url, model="m", api_key="sk-explicit", api_key_env=KEY_ENV)
    OpenAIFeedback(config).feedback(feedback_request(tmp_path))
    assert server.requests[0].headers["authorization"] == "Bearer sk-explicit"
    assert "sk-explicit" not in repr(config)


def test_answer_in_a_fenced_block_with_prose_is_parsed(server, api_key, tmp_path) -> None:
    answer = f"Here is my comparison.\n```json\n{json.dumps(GOOD, indent=2)}\n```\nHope it helps."
    server.script(chat_reply(answer))
    feedback = OpenAIFeedback(endpoint(server)).feedback(feedback_request(tmp_path))
    assert feedback.text == "gallop"
    assert feedback.raw == answer


def test_answer_without_json_raises_with_an_excerpt(server, api_key, tmp_path) -> None:
    server.script(chat_reply("The robot trots while the horse gallops; I suggest longer swings."))
    backend = OpenAIFeedback(endpoint(server), format_retries=0)
    with pytest.raises(BackendResponseError, match="no JSON object") as info:
        backend.feedback(feedback_request(tmp_path))
    assert "The robot trots while the horse gallops" in str(info.value)
    assert isinstance(info.value, LmrlError)


def test_changes_written_as_sentences_are_accepted_without_asking_again(server, api_key, tmp_path) -> None:
    answer = {**GOOD, "rewrite": ["make the strides longer"], "add": ["reward forward speed", *GOOD["add"]]}
    server.script(chat_reply(json.dumps(answer)))
    feedback = OpenAIFeedback(endpoint(server), format_retries=1).feedback(feedback_request(tmp_path))
    assert len(server.requests) == 1  # no format retry
    assert [(c.name, c.instruction) for c in feedback.rewrite] == [("", "make the strides longer")]
    assert [(c.name, c.params) for c in feedback.add] == [("", {}), ("gait_frequency_exp", {"target_hz": 2.1})]


def test_malformed_structure_names_what_is_wrong(server, api_key, tmp_path) -> None:
    bad = {"problems": ["x"], "rewrite": [{"name": "lin vel!", "instruction": "..."}], "add": [{"name": "a_b"}]}
    server.script(chat_reply(json.dumps(bad)))
    with pytest.raises(BackendResponseError) as info:
        OpenAIFeedback(endpoint(server), format_retries=0).feedback(feedback_request(tmp_path))
    message = str(info.value)
    assert "malformed" in message
    assert "rewrite[0].name: 'lin vel!' is not a component name" in message
    assert "add[0]: missing 'instruction'" in message
    assert '"problems"' in message  # the excerpt of the answer


def test_format_retry_quotes_the_problem_and_recovers(server, api_key, tmp_path) -> None:
    server.script(chat_reply('{"rewrite": []}'), chat_reply(json.dumps(GOOD), prompt_tokens=20))
    backend = OpenAIFeedback(endpoint(server), format_retries=1)
    feedback = backend.feedback(feedback_request(tmp_path))
    assert feedback.problems == ("the robot trots; the horse gallops",)
    second = server.requests[1].body["messages"]
    assert second[-2] == {"role": "assistant", "content": '{"rewrite": []}'}
    assert "missing key 'problems'" in second[-1]["content"]
    assert backend.last_exchange["usage"] == {"prompt_tokens": 31, "completion_tokens": 14}
    assert len(backend.last_exchange["answers"]) == 2
