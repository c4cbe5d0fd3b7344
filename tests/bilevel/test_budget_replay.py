"""Budgets, replay and the answer cache of ``lmrl learn`` against the fake OpenAI server.

One two-iteration learn run per module, with both levels on the fake server: it stops at its token
budget before iteration 2's feedback call and ``--resume`` with a higher limit finishes it. The tests
then check that stop, replay that run with the network disabled, and publish its provenance.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from bilevel_data import KEY_ENV, SECRET_KEY, TINY_LEARN, feedback_request
from fake_openai_server import FakeOpenAIServer, chat_reply

from lm_reward_learning.bilevel import exchanges
from lm_reward_learning.bilevel.backends import call_session, make_feedback
from lm_reward_learning.bilevel.budget import Budget, BudgetExceededError, PriceTable, Spend
from lm_reward_learning.bilevel.config import load_learn_config
from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.cli import main
from lm_reward_learning.errors import ConfigError, LmrlError
from lm_reward_learning.reward.program import default_program

#: Tokens the fake server reports per call: 5,000 prompt + 500 completion.
PROMPT_TOKENS, COMPLETION_TOKENS = 5000, 500
#: Fake prices, USD per million tokens: one call costs (5000 * 1 + 500 * 2) / 1e6 = $0.006.
PRICES = {"models": {"fake-*": {"input": 1.0, "output": 2.0}}}
#: Budget: iteration 1 spends 2 x 5,500 = 11,000 tokens; iteration 2's feedback call, estimated as the
#: largest feedback call so far (5,500), would make 16,500 > 15,000: the loop stops before it.
MAX_TOKENS = 15000


def feedback_json(k: int) -> str:
    return json.dumps(
        {"problems": [f"iteration {k}: the robot shuffles"], "rewrite": [], "remove": [], "add": [], "text": "longer"}
    )


def program(k: int) -> str:
    return default_program("go2").source.replace('"threshold_s": 0.2', f'"threshold_s": 0.{k + 2}')


def replies(k: int):
    usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS}
    return chat_reply(feedback_json(k), **usage), chat_reply(f"```python\n{program(k)}```", **usage)


@dataclass
class PaidRun:
    run: Path
    policies: Path
    stop_code: int
    stop_err: str
    stopped_status: dict
    requests_at_stop: int
    iter0_mtime: float
    resume_code: int
    resume_out: str
    requests: int


@pytest.fixture(scope="module")
def paid_run(tmp_path_factory) -> PaidRun:
    root = tmp_path_factory.mktemp("paid")
    (root / "prices.yaml").write_text(yaml.safe_dump(PRICES))
    endpoint = {"model": "fake-vlm", "api_key_env": KEY_ENV, "max_tokens": 600}
    learn_yaml = {
        **TINY_LEARN,
        "iterations": 2,
        "feedback": "openai",
        "synthesis": "openai",
        "feedback_endpoint": endpoint,
        "synthesis_endpoint": {**endpoint, "model": "fake-coder"},
        "prices": str(root / "prices.yaml"),
    }
    (root / "learn.yaml").write_text(yaml.safe_dump(learn_yaml))
    run, policies = root / "runs" / "paid", root / "pol"
    mp = pytest.MonkeyPatch()
    mp.setenv(KEY_ENV, SECRET_KEY)
    try:
        with FakeOpenAIServer() as server:
            server.script(*replies(1), *replies(2))
            argv = ["learn", "--config", str(root / "learn.yaml"), "--base-url", server.base_url]
            argv += ["--runs-dir", str(root / "runs"), "--name", "paid", "--policies-dir", str(policies)]
            code, err = run_cli([*argv, "--no-progress", "--max-tokens", str(MAX_TOKENS)])
            stopped = LearnStore.open(run).status()
            at_stop = len(server.requests)
            mtime = (run / "iter_00" / "cand_0" / "train" / "checkpoints" / "latest.pt").stat().st_mtime
            resume = ["learn", "--resume", str(run), "--max-tokens", "100000", "--policies-dir", str(policies)]
            code2, out2 = run_cli([*resume, "--no-progress"])
            total = len(server.requests)
    finally:
        mp.undo()
    return PaidRun(run, policies, code, err, stopped, at_stop, mtime, code2, out2, total)


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``lmrl`` with ``argv``: exit code and what it printed (stdout and stderr)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = main(argv)
    return code, buffer.getvalue()


def test_budget_stops_before_the_call_that_would_exceed_it_and_resume_continues(paid_run) -> None:
    assert paid_run.stop_code == 2
    assert paid_run.requests_at_stop == 2  # iteration 1's feedback and synthesis; iteration 2 asked nothing
    assert "budget reached before the feedback call of iteration 2" in paid_run.stop_err
    assert "11,000 tokens spent + 5,500 estimated > --max-tokens 15,000" in paid_run.stop_err
    assert f"--resume {paid_run.run}" in paid_run.stop_err and "Traceback" not in paid_run.stop_err
    assert paid_run.stopped_status["status"] == "stopped"
    # --resume with a higher limit goes on from there: iteration 2's two calls, nothing trained again
    assert paid_run.resume_code == 0, paid_run.resume_out
    assert paid_run.requests == 4
    store = LearnStore.open(paid_run.run)
    assert store.status()["status"] == "done" and store.config().max_total_tokens == 100000
    ckpt = paid_run.run / "iter_00" / "cand_0" / "train" / "checkpoints" / "latest.pt"
    assert ckpt.stat().st_mtime == paid_run.iter0_mtime
    summary = exchanges.usage_summary(paid_run.run)
    # 4 calls x 5,500 tokens; 4 x $0.006
    assert summary["run"]["tokens"] == 22000 and summary["run"]["cost_usd"] == pytest.approx(0.024)
    assert summary["iterations"][1]["tokens"] == summary["iterations"][2]["tokens"] == 11000
    assert "4 paid call(s), 22,000 tokens, $0.0240" in paid_run.resume_out
    report = (paid_run.run / "report.html").read_text()
    assert "<h2>Language models</h2>" in report and "22,000" in report


def test_every_exchange_is_stored_content_addressed_without_media_or_key(paid_run) -> None:
    lines = exchanges.read_log(paid_run.run)
    assert [(x["level"], x["iteration"], x["source"]) for x in lines] == [
        ("feedback", 1, "endpoint"),
        ("synthesis", 1, "endpoint"),
        ("feedback", 2, "endpoint"),
        ("synthesis", 2, "endpoint"),
    ]
    for line in lines:
        f = paid_run.run / "exchanges" / f"{line['exchange']}.json"
        text = f.read_text()
        assert exchanges.digest(exchanges.canonical_json(json.loads(text)).encode()) == line["exchange"]
        assert SECRET_KEY not in text and "base64," not in text  # media as digests, never the bytes
    vlm = exchanges.read_exchange(paid_run.run, lines[0]["exchange"])["request"]
    parts = [p for m in vlm["messages"] if isinstance(m["content"], list) for p in m["content"]]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert all(len(u["sha256"]) == 64 and u["bytes"] > 0 for u in images)
    # 2 expert + 2 robot frames (num_frames: 2), then the robot's footfall diagram
    assert [u["mime"] for u in images] == ["image/jpeg"] * 4 + ["image/png"]
    assert vlm["model"] == "fake-vlm" and vlm["parameters"]["max_tokens"] == 600


def test_replay_reproduces_the_programs_byte_for_byte_with_the_network_disabled(
    paid_run, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)  # no API key either
    real_connect = socket.socket.connect

    def no_network(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError("network disabled by the test")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(OSError("no network")))
    argv = ["learn", "--replay", str(paid_run.run), "--runs-dir", str(tmp_path), "--name", "again"]
    code = main([*argv, "--policies-dir", str(tmp_path / "pol"), "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err
    again = tmp_path / "again"
    for k in (1, 2):
        original = paid_run.run / f"iter_{k:02d}"
        assert (again / f"iter_{k:02d}/cand_0/program.py").read_bytes() == (original / "cand_0/program.py").read_bytes()
        assert (original / "cand_0/program.py").read_text() == program(k)
        fb = json.loads((again / f"iter_{k:02d}/feedback.json").read_text())
        assert fb == json.loads((original / "feedback.json").read_text())
        chosen = [json.loads((d / f"iter_{k:02d}/summary.json").read_text())["chosen"] for d in (again, paid_run.run)]
        assert chosen[0] == chosen[1]
    lines = exchanges.read_log(again)
    assert [x["source"] for x in lines] == ["replay"] * 4
    assert all(x["request_matched"] for x in lines)  # same prompts, same frames: the same decisions led here
    assert exchanges.usage_summary(again)["run"]["cost_usd"] == 0.0
    assert LearnStore.open(again).status()["replay_of"] == str(paid_run.run)


def test_exported_policy_publishes_models_prompts_programs_and_seed(paid_run) -> None:
    out = paid_run.policies / "go2" / "paid"
    prov = yaml.safe_load((out / "provenance.yaml").read_text())
    assert prov["learn"]["seed"] == TINY_LEARN.get("seed", 1) and prov["training"]["seed"] == 1
    assert prov["upper_level"]["model"] == "fake-vlm" and prov["lower_level"]["model"] == "fake-coder"
    assert prov["prompts"]["version"] == "v1" and "feedback_system_v1" in prov["prompts"]["templates"]
    assert (out / "prompts" / "synthesis_system_v1.txt").is_file()
    files = {p["iteration"]: p for p in prov["programs"]}
    assert (out / files[2]["file"]).read_text() == program(2)
    assert (out / "reward.py").read_bytes() == (out / files[prov["best"]["iteration"]]["file"]).read_bytes()
    assert len((out / "exchanges" / "log.jsonl").read_text().splitlines()) == 4
    assert prov["language_models"]["tokens"] == 22000


def test_cache_answers_a_repeated_request_offline(tmp_path, api_key) -> None:
    with FakeOpenAIServer() as server:
        server.script(chat_reply(feedback_json(1)))
        cfg = load_learn_config(
            "smoke", feedback="openai", feedback_endpoint={"base_url": server.base_url, "api_key_env": KEY_ENV}
        )
        store = LearnStore.create(tmp_path / "run", cfg)
        backend = make_feedback(cfg, call_session(cfg, cache_dir=tmp_path / "cache"))
        with exchanges.at(store, "feedback", 1):
            first = backend.feedback(feedback_request(tmp_path))
    # the server is gone: the same request in another run is answered from the cache
    other = LearnStore.create(tmp_path / "other", cfg)
    backend = make_feedback(cfg, call_session(cfg, cache_dir=tmp_path / "cache"))
    with exchanges.at(other, "feedback", 3):
        again = backend.feedback(feedback_request(tmp_path))
    assert again.problems == first.problems and len(server.requests) == 1
    assert [x["source"] for x in exchanges.read_log(other.path)] == ["cache"]
    assert exchanges.usage_summary(other.path)["run"]["cost_usd"] == 0.0


def test_price_table_and_budget_arithmetic(tmp_path) -> None:
    table = PriceTable.load()
    assert table.price("gpt-4o-mini-2024-07-18").input == 0.15  # the specific pattern comes first
    assert table.price("gpt-4o-2024-08-06").output == 10.0
    assert table.cost("gpt-4o", {"prompt_tokens": 1_000_000, "completion_tokens": 100_000}) == pytest.approx(3.5)
    assert table.price("my-local-model") is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  gpt-4o: {input: -1, output: 2}\n")
    with pytest.raises(ConfigError, match="numbers >= 0"):
        PriceTable.load(bad)
    budget = Budget(max_cost_usd=1.0)
    budget.check(Spend(10, 0.5), Spend(10, 0.5, "x"), "call", "hint")  # exactly at the limit: allowed
    with pytest.raises(BudgetExceededError, match=r"\$0.5000 spent \+ \$0.5001 estimated > --max-cost \$1"):
        budget.check(Spend(10, 0.5), Spend(10, 0.5001, "x"), "call", "hint")


def test_max_cost_with_an_unpriced_model_fails_before_anything_runs(tmp_path, api_key) -> None:
    cfg = load_learn_config("smoke", feedback="openai", max_cost_usd=1.0, feedback_endpoint={"model": "my-vlm"})
    with pytest.raises(LmrlError, match=r"price of model 'my-vlm'.*--max-tokens"):
        make_feedback(cfg, call_session(cfg))
