"""``lmrl learn --resume`` of a run stopped after iteration 0: an endpoint answering malformed JSON,
feedback written as plain sentences, and the per-candidate time limit of the learn config.

One learn run is trained up to iteration 0 per module (its feedback step failed); each test resumes a
copy of it with the learn.yaml changes it needs.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from bilevel_data import KEY_ENV, TINY_LEARN
from fake_openai_server import Reply

from lm_reward_learning.bilevel.backends import make_synthesis
from lm_reward_learning.bilevel.config import EndpointSettings, LearnConfig
from lm_reward_learning.bilevel.loop import learn
from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.cli import main
from lm_reward_learning.config import from_dict, to_dict
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.io import atomic_write_yaml


class UnavailableFeedback:
    """A feedback backend that is down (stops the first run after iteration 0)."""

    name = "unavailable"

    def feedback(self, request):
        raise LmrlError("feedback backend unavailable (fake)")


@pytest.fixture(scope="module")
def after_iteration_0(tmp_path_factory) -> Path:
    """A learn run whose initial program is trained and scored; nothing of iteration 1 is done."""
    root = tmp_path_factory.mktemp("learn")
    cfg = from_dict(LearnConfig, dict(TINY_LEARN), "tiny").check()
    store = LearnStore.create(root / "run", cfg)
    with pytest.raises(LmrlError, match="unavailable"):
        learn(cfg, store, UnavailableFeedback(), make_synthesis(cfg), policies_root=root / "pol", progress=False)
    assert (store.path / "iter_00" / "cand_0" / "score.json").is_file()
    assert not (store.path / "iter_01" / "feedback.json").exists()
    return store.path


def resumable_copy(after_iteration_0: Path, tmp_path: Path, **changes) -> Path:
    """A copy of the stopped run whose learn.yaml has ``changes``."""
    run = Path(shutil.copytree(after_iteration_0, tmp_path / "run"))
    cfg = dataclasses.replace(LearnStore.open(run).config(), **changes)
    atomic_write_yaml(run / "learn.yaml", to_dict(cfg))
    return run


def resume(run: Path, tmp_path: Path, capsys) -> tuple[int, str]:
    code = main(["learn", "--resume", str(run), "--policies-dir", str(tmp_path / "pol"), "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_malformed_json_from_the_endpoint_is_retried_then_exit_2(after_iteration_0, tmp_path, server, api_key, capsys):
    endpoint = EndpointSettings(base_url=server.base_url, model="fake-vlm", api_key_env=KEY_ENV, max_retries=1)
    run = resumable_copy(after_iteration_0, tmp_path, feedback="openai", feedback_endpoint=endpoint)
    server.script(*[Reply(200, '{"id": "chatcmpl-1", "choices": [{"index": 0, "mess')] * 2)
    code, out = resume(run, tmp_path, capsys)
    assert code == 2, out
    assert len(server.requests) == 2  # asked again once (max_retries: 1)
    assert f"{server.base_url} (model fake-vlm) did not answer with a chat completion in 2 attempts" in out
    assert "not valid JSON" in out and "Traceback" not in out
    status = LearnStore.open(run).status()
    assert status["status"] == "failed" and "did not answer with a chat completion" in status["error"]
    assert not (run / "iter_01" / "feedback.json").exists()  # nothing half-written: --resume asks again


def test_feedback_with_plain_sentences_is_used_on_resume(after_iteration_0, tmp_path, capsys):
    feedback_file = tmp_path / "feedback.yaml"
    feedback_file.write_text(
        "problems: [the robot shuffles]\n"
        "rewrite: [make the strides longer]\n"
        "add:\n  - reward forward speed\n  - 'swing_duration_exp: longer swings | target_s=0.3'\n"
    )
    run = resumable_copy(after_iteration_0, tmp_path, feedback="human", human_feedback=str(feedback_file))
    code, out = resume(run, tmp_path, capsys)
    assert code == 0, out
    saved = json.loads((run / "iter_01" / "feedback.json").read_text())
    assert saved["rewrite"] == [{"name": "", "instruction": "make the strides longer", "params": {}}]
    assert saved["add"] == [
        {"name": "", "instruction": "reward forward speed", "params": {}},
        {"name": "swing_duration_exp", "instruction": "longer swings", "params": {"target_s": 0.3}},
    ]
    synthesis = json.loads((run / "iter_01" / "cand_0" / "synthesis.json").read_text())
    assert synthesis["kept"] == "new"  # the structured item was applied by the rules editor
    assert "swing_duration_exp" in (run / "iter_01" / "cand_0" / "program.py").read_text()
    assert "<li>reward forward speed</li>" in (run / "report.html").read_text()
    # A finished run resumes again from its saved free-text feedback.
    assert resume(run, tmp_path, capsys)[0] == 0


def test_candidate_time_limit_of_the_learn_config_stops_the_candidate(after_iteration_0, tmp_path, capsys):
    run = resumable_copy(after_iteration_0, tmp_path, candidate_timeout_s=1.0)
    code, out = resume(run, tmp_path, capsys)
    assert code == 2, out
    assert "every candidate failed to train" in out and "1 s limit" in out
    record = json.loads((run / "iter_01" / "cand_0" / "failed.json").read_text())
    assert record["failure"] == "timeout" and record["time_limit_s"] == 1.0
    assert record["worker"].startswith("pid ")
