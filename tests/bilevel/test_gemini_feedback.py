"""The ``gemini`` feedback backend on the real ``google-genai`` SDK against a fake Gemini server, and video
content parts for OpenAI-compatible servers (frames as the fallback)."""

from __future__ import annotations

import base64
import dataclasses
import json

import numpy as np
import pytest
from bilevel_data import KEY_ENV, SECRET_KEY, feedback_request, solid_frames
from fake_gemini_server import FakeGeminiServer, gemini_error, gemini_reply
from fake_openai_server import chat_reply, error_reply

from lm_reward_learning.bilevel.backends import make_feedback
from lm_reward_learning.bilevel.config import load_learn_config
from lm_reward_learning.bilevel.endpoint import EndpointAuthError, EndpointConfig, EndpointRateLimitError
from lm_reward_learning.bilevel.gemini_endpoint import GeminiChat
from lm_reward_learning.bilevel.openai_backend import OpenAIFeedback
from lm_reward_learning.video.io import write_video

FEEDBACK = json.dumps({"problems": ["the robot trots; the horse gallops"], "rewrite": [], "add": [], "text": "x"})


@pytest.fixture
def clips_request(tmp_path):
    """A feedback request whose expert and rollout clips are real MP4 files."""
    rng = np.random.default_rng(0)
    write_video(tmp_path / "expert.mp4", rng.integers(0, 255, (20, 48, 64, 3), dtype=np.uint8), 10.0)
    write_video(tmp_path / "rollout.mp4", solid_frames([40 * (k % 6) for k in range(20)], 48, 64), 10.0)
    return feedback_request(tmp_path)


@pytest.fixture
def gemini():
    with FakeGeminiServer() as fake:
        yield fake


def gemini_backend(server, api_key_env: str = KEY_ENV, **endpoint) -> OpenAIFeedback:
    cfg = load_learn_config(
        "smoke",
        feedback="gemini",
        feedback_endpoint={"base_url": server.base_url, "model": "fake-gemini", "api_key_env": api_key_env, **endpoint},
    )
    return make_feedback(cfg)


def mime(data: dict) -> str:
    """The MIME type of an ``inlineData``/``fileData`` part (the API takes camel or snake case; the SDK sends snake)."""
    return data.get("mimeType", data.get("mime_type"))


def media(body: dict, kind: str) -> list[dict]:
    """The ``inlineData`` or ``fileData`` of every part of a ``generateContent`` body."""
    return [p[kind] for c in body["contents"] for p in c["parts"] if kind in p]


def test_video_reaches_the_fake_gemini_endpoint_as_video(gemini, api_key, clips_request, tmp_path) -> None:
    gemini.script(gemini_reply(FEEDBACK, prompt_tokens=1234, completion_tokens=56, thoughts=10))
    backend = gemini_backend(gemini)
    fb = backend.feedback(clips_request)
    assert fb.problems == ("the robot trots; the horse gallops",) and fb.backend == "gemini:fake-gemini"
    (request,) = gemini.generate_requests()
    assert request.path == "/v1beta/models/fake-gemini:generateContent"
    assert request.headers["x-goog-api-key"] == SECRET_KEY
    body = request.body
    inline = media(body, "inlineData")
    videos = [p for p in inline if mime(p) == "video/mp4"]
    assert [base64.urlsafe_b64decode(v["data"]) for v in videos] == [
        (tmp_path / "expert.mp4").read_bytes(),
        (tmp_path / "rollout.mp4").read_bytes(),
    ]  # the clips themselves, expert first, not frames
    assert [mime(p) for p in inline] == ["video/mp4", "video/mp4"]  # no frames
    assert "upper level of a reward-learning loop" in body["systemInstruction"]["parts"][0]["text"]
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert "Watch both videos" in json.dumps(body["contents"])
    assert backend.last_exchange["usage"] == {"prompt_tokens": 1234, "completion_tokens": 66}  # thoughts billed
    recorded = json.dumps(backend.last_exchange["messages"])
    assert "<expert video: mp4" in recorded and "base64" not in recorded


def test_large_clips_go_through_the_files_api_once(gemini, api_key, clips_request, tmp_path) -> None:
    gemini.script(gemini_reply(FEEDBACK), gemini_reply(FEEDBACK))
    backend = gemini_backend(gemini, inline_media_max_bytes=1000)  # both clips are larger: upload them
    backend.feedback(clips_request)
    backend.feedback(dataclasses.replace(clips_request, iteration=2))
    starts = [r for r in gemini.requests if r.headers.get("x-goog-upload-command") == "start"]
    assert len(starts) == 2 and all(r.headers["x-goog-upload-protocol"] == "resumable" for r in starts)
    assert sorted(gemini.uploads.values()) == sorted(
        [(tmp_path / "expert.mp4").read_bytes(), (tmp_path / "rollout.mp4").read_bytes()]
    )  # each clip uploaded once, though asked about twice
    assert any(r.method == "GET" for r in gemini.requests)  # polled until ACTIVE
    for request in gemini.generate_requests():
        files = media(request.body, "fileData")
        assert [mime(f) for f in files] == ["video/mp4", "video/mp4"]
        uploaded = {"files/" + f.get("fileUri", f.get("file_uri")).rsplit("/", 1)[-1] for f in files}
        assert uploaded == set(gemini.uploads)
        assert not [p for p in media(request.body, "inlineData") if mime(p) == "video/mp4"]


def test_gemini_errors_say_what_to_do_without_the_key(gemini, api_key) -> None:
    config = EndpointConfig(base_url=gemini.base_url, model="fake-gemini", api_key_env=KEY_ENV, max_retries=0)
    gemini.script(gemini_error(401, f"API key not valid: {SECRET_KEY}"), gemini_error(429, "quota exhausted"))
    chat = GeminiChat(config)
    with pytest.raises(EndpointAuthError, match=f"set the environment variable {KEY_ENV}") as auth:
        chat.complete([{"role": "user", "content": "hi"}])
    assert SECRET_KEY not in str(auth.value)
    with pytest.raises(EndpointRateLimitError, match=r"HTTP 429.*quota exhausted"):
        chat.complete([{"role": "user", "content": "hi"}])


def test_gemini_defaults_replace_untouched_openai_defaults(monkeypatch) -> None:
    from lm_reward_learning.bilevel.config import level_endpoint

    cfg = load_learn_config("smoke", feedback="gemini", synthesis="openai")
    vlm, llm = level_endpoint(cfg, "feedback"), level_endpoint(cfg, "synthesis")
    assert (vlm.base_url, vlm.api_key_env) == ("https://generativelanguage.googleapis.com", "GEMINI_API_KEY")
    assert vlm.model.startswith("gemini-") and llm.model == "gpt-4o"


def test_openai_compatible_server_gets_video_parts_and_frames_when_it_refuses(server, api_key, clips_request) -> None:
    config = EndpointConfig(base_url=server.base_url, model="fake-video-vlm", api_key_env=KEY_ENV, max_retries=0)
    server.script(chat_reply(FEEDBACK))
    OpenAIFeedback(config, video=True).feedback(clips_request)
    parts = server.requests[0].body["messages"][1]["content"]
    videos = [p["video_url"]["url"] for p in parts if p["type"] == "video_url"]
    assert len(videos) == 2 and all(u.startswith("data:video/mp4;base64,") for u in videos)
    assert not [p for p in parts if p["type"] == "image_url"]
    # a server without video support: the request is refused once, then frames go instead
    server.script(error_reply(400, "video input is not supported by this model"), chat_reply(FEEDBACK))
    backend = OpenAIFeedback(config, video=True)
    assert backend.feedback(clips_request).problems == ("the robot trots; the horse gallops",)
    refused, sent = server.requests[1].body, server.requests[2].body
    assert "video_url" in json.dumps(refused) and "video_url" not in json.dumps(sent)
    assert "image_url" in json.dumps(sent) and backend.video is False


def test_lmrl_learn_with_gemini_sends_the_stored_clips_and_the_evidence(gemini, api_key, tmp_path, capsys) -> None:
    import yaml
    from bilevel_data import TINY_LEARN

    from lm_reward_learning.bilevel.exchanges import read_log
    from lm_reward_learning.cli import main

    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY_LEARN))
    gemini.script(gemini_reply(FEEDBACK))
    argv = ["learn", "--config", str(tmp_path / "tiny.yaml"), "--feedback", "gemini", "--synthesis", "rules"]
    argv += ["--feedback-base-url", gemini.base_url, "--feedback-model", "fake-gemini"]
    argv += ["--feedback-api-key-env", KEY_ENV, "--runs-dir", str(tmp_path / "runs"), "--name", "g"]
    assert main([*argv, "--policies-dir", str(tmp_path / "pol"), "--no-progress"]) == 0, capsys.readouterr().err
    run = tmp_path / "runs" / "g"
    (request,) = gemini.generate_requests()
    inline = media(request.body, "inlineData")
    assert [base64.urlsafe_b64decode(p["data"]) for p in inline if mime(p) == "video/mp4"] == [
        (run / "expert" / "clip.mp4").read_bytes(),
        (run / "iter_00" / "cand_0" / "rollout.mp4").read_bytes(),
    ]
    assert [mime(p) for p in inline].count("image/png") == 1  # the robot's footfall diagram
    text = json.dumps(request.body["contents"])
    assert "HARD FACTS" in text and "per-leg contact timing" in text
    assert json.loads((run / "iter_01" / "feedback.json").read_text())["backend"] == "gemini:fake-gemini"
    assert [(x["provider"], x["source"]) for x in read_log(run)] == [("gemini", "endpoint")]
    assert (run / "iter_01" / "footfalls.png").is_file() and (run / "iter_01" / "evidence.json").is_file()


def test_gemini_writes_the_reward_program_at_the_lower_level(gemini, api_key) -> None:
    from bilevel_data import sample_feedback, synthesis_request

    from lm_reward_learning.bilevel.backends import make_synthesis
    from lm_reward_learning.reward.program import default_program

    program = default_program("go2").source
    gemini.script(gemini_reply(f"Here:\n```python\n{program}```", prompt_tokens=900, completion_tokens=300))
    cfg = load_learn_config(
        "smoke",
        synthesis="gemini",
        synthesis_endpoint={"base_url": gemini.base_url, "model": "fake-coder", "api_key_env": KEY_ENV},
    )
    result = make_synthesis(cfg).synthesize(synthesis_request(sample_feedback()))
    assert result.source.strip() == program.strip() and result.backend == "gemini:fake-coder"
    assert result.usage == {"prompt_tokens": 900, "completion_tokens": 300}
    (request,) = gemini.generate_requests()
    assert request.path == "/v1beta/models/fake-coder:generateContent"
    assert "gait_frequency_exp" in json.dumps(request.body["contents"])  # the feedback reached the prompt
    assert "responseMimeType" not in json.dumps(request.body.get("generationConfig", {}))
