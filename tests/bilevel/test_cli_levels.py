"""``lmrl learn``'s endpoint flags: one endpoint for both levels, or one per level."""

from __future__ import annotations

import json

from bilevel_data import KEY_ENV, feedback_request, sample_feedback, synthesis_request
from fake_openai_server import FakeOpenAIServer, chat_reply

from lm_reward_learning.bilevel.backends import make_feedback, make_synthesis
from lm_reward_learning.bilevel.config import load_learn_config
from lm_reward_learning.cli import build_parser, learn_endpoints
from lm_reward_learning.reward.program import default_program


def cfg_of(argv: list[str]):
    args = build_parser().parse_args(["learn", *argv])
    return learn_endpoints(load_learn_config("smoke", feedback=args.feedback, synthesis=args.synthesis), args)


def test_shared_flags_set_both_levels_and_level_flags_win() -> None:
    cfg = cfg_of(["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--synthesis-model", "coder"])
    assert (cfg.feedback_endpoint.base_url, cfg.feedback_endpoint.model) == ("http://127.0.0.1:9/v1", "m")
    assert (cfg.synthesis_endpoint.base_url, cfg.synthesis_endpoint.model) == ("http://127.0.0.1:9/v1", "coder")
    cfg = cfg_of(["--feedback-api-key-env", "VLM_KEY", "--api-key-env", "BOTH_KEY"])
    assert cfg.feedback_endpoint.api_key_env == "VLM_KEY" and cfg.synthesis_endpoint.api_key_env == "BOTH_KEY"
    untouched = cfg_of([])
    assert untouched.feedback_endpoint == load_learn_config("smoke").feedback_endpoint


def test_each_level_reaches_its_own_server_and_model(tmp_path, api_key) -> None:
    program = default_program("go2").source
    with FakeOpenAIServer() as vlm, FakeOpenAIServer() as llm:
        vlm.script(chat_reply(json.dumps({"problems": ["shuffles"]})))
        llm.script(chat_reply(f"```python\n{program}```"))
        cfg = cfg_of(
            [
                "--feedback", "openai", "--synthesis", "openai", "--api-key-env", KEY_ENV,
                "--feedback-base-url", vlm.base_url, "--feedback-model", "fake-vlm",
                "--synthesis-base-url", llm.base_url, "--synthesis-model", "fake-coder",
            ]
        )  # fmt: skip
        assert make_feedback(cfg).feedback(feedback_request(tmp_path)).problems == ("shuffles",)
        assert make_synthesis(cfg).synthesize(synthesis_request(sample_feedback())).source.strip() == program.strip()
    assert [r.body["model"] for r in vlm.requests] == ["fake-vlm"]
    assert [r.body["model"] for r in llm.requests] == ["fake-coder"]
