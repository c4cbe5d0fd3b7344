"""``lmrl learn`` end to end with tiny budgets: offline backends, resume, and the fake OpenAI server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from bilevel_data import KEY_ENV, TINY_LEARN
from fake_openai_server import chat_reply

from lm_reward_learning.bilevel.backends import make_feedback, make_synthesis
from lm_reward_learning.bilevel.config import load_learn_config
from lm_reward_learning.bilevel.loop import learn
from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.cli import main
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.reward.program import default_program

TINY = TINY_LEARN


@pytest.fixture
def tiny_learn_yaml(tmp_path: Path) -> Path:
    f = tmp_path / "tiny.yaml"
    f.write_text(yaml.safe_dump(TINY))
    return f


def test_offline_learn_run_leaves_policy_report_and_resumable_store(tiny_learn_yaml, tmp_path, capsys) -> None:
    runs = tmp_path / "runs"
    code = main(
        [
            "learn",
            "--config",
            str(tiny_learn_yaml),
            "--runs-dir",
            str(runs),
            "--name",
            "t",
            "--policies-dir",
            str(tmp_path / "pol"),
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    store = LearnStore.open(runs / "t")
    status = store.status()
    assert status["status"] == "done" and status["iterations_done"] == 1
    assert (tmp_path / "pol" / "go2" / "t" / "policy.onnx").is_file()
    assert "policy.onnx" in out and "report.html" in out
    it = store.path / "iter_01"
    fb = json.loads((it / "feedback.json").read_text())
    assert fb["backend"] == "motion (heuristic analyser, not a VLM)" and fb["problems"]
    syn = json.loads((it / "cand_0" / "synthesis.json").read_text())
    assert syn["label"].startswith("rules (deterministic editor, not an LLM)") and syn["kept"] == "new"
    assert "swing_duration_exp" in (it / "cand_0" / "program.py").read_text()
    assert (it / "cand_0" / "diff.patch").read_text().startswith("--- previous")
    for f in ("side_by_side.mp4", "summary.json", "cand_0/rollout.mp4", "cand_0/score.json", "cand_0/train/run.yaml"):
        assert (it / f).is_file(), f
    assert json.loads((store.path / "expert" / "motion.json").read_text())["stride_frequency_hz"] == pytest.approx(
        2.0, rel=0.05
    )  # the bundled Muybridge stride (0.67 Hz playback) with its x3 speed correction
    report = (store.path / "report.html").read_text()
    assert "motion (heuristic analyser, not a VLM)" in report and "data:video/mp4;base64," in report
    assert "data:image/png;base64," in report
    assert "Status: done" in report and "<h2>Progress</h2>" in report
    assert "<h2>Gait</h2>" in report and "the loop's own objective" in report  # the objective yardstick too
    # the history ships with the policy: per iteration the objective score, the gait and the training time
    summary = json.loads((store.path / "learn_summary.json").read_text())
    assert json.loads((tmp_path / "pol" / "go2" / "t" / "learn_summary.json").read_text()) == summary
    assert [row["iteration"] for row in summary["iterations"]] == [0, 1]
    for row in summary["iterations"]:
        score = json.loads((store.path / f"iter_{row['iteration']:02d}" / "cand_0" / "score.json").read_text())
        assert row["score"] == score["score"]
        assert row["trainings"][0]["train_cpu_s"] > 0
        assert ("features" in row and row["gait"] == row["features"]["gait"]) or row["gait_error"]
    total = sum(row["trainings"][0]["train_cpu_s"] for row in summary["iterations"])
    assert summary["train_cpu_s"] == pytest.approx(total, abs=0.1)
    # a finished run resumes to the same result without training again
    mtime = (it / "cand_0" / "train" / "checkpoints" / "latest.pt").stat().st_mtime
    assert main(["learn", "--resume", str(store.path), "--policies-dir", str(tmp_path / "pol"), "--no-progress"]) == 0
    assert (it / "cand_0" / "train" / "checkpoints" / "latest.pt").stat().st_mtime == mtime


class CountingFeedback:
    """Wraps a feedback backend and counts its calls."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.calls = inner, inner.name, 0

    def feedback(self, request):
        self.calls += 1
        return self.inner.feedback(request)


class FailingSynthesis:
    """A synthesis backend whose endpoint is down."""

    name = "down"

    def synthesize(self, request):
        raise LmrlError("endpoint timed out after 1 s (fake)")


def test_crash_mid_iteration_resumes_without_repeating_done_steps(tiny_learn_yaml, tmp_path) -> None:
    cfg = load_learn_config(path=tiny_learn_yaml)
    store = LearnStore.create(tmp_path / "run", cfg)
    fb = CountingFeedback(make_feedback(cfg))
    with pytest.raises(LmrlError, match="timed out"):
        learn(cfg, store, fb, FailingSynthesis(), policies_root=tmp_path / "pol", progress=False)
    assert fb.calls == 1
    assert (store.path / "iter_01" / "feedback.json").is_file()
    initial_ckpt = store.path / "iter_00" / "cand_0" / "train" / "checkpoints" / "latest.pt"
    mtime = initial_ckpt.stat().st_mtime
    fb2 = CountingFeedback(make_feedback(cfg))
    result = learn(cfg, store, fb2, make_synthesis(cfg), policies_root=tmp_path / "pol", progress=False)
    assert fb2.calls == 0  # the saved feedback was reused, not asked again
    assert initial_ckpt.stat().st_mtime == mtime  # the initial policy was not retrained
    assert result.onnx_path.is_file() and store.status()["status"] == "done"


def test_learn_with_openai_backends_against_fake_server(tiny_learn_yaml, tmp_path, server, api_key, capsys) -> None:
    feedback = {
        "problems": ["The robot shuffles; the horse gallops with long strides."],
        "rewrite": [{"name": "feet_air_time", "instruction": "reward longer swings", "params": {"threshold_s": 0.3}}],
        "remove": [],
        "add": [],
        "text": "Longer strides.",
    }
    program = default_program("go2").source.replace('"threshold_s": 0.2', '"threshold_s": 0.3')
    assert program != default_program("go2").source
    server.script(chat_reply(json.dumps(feedback)), chat_reply(f"Here it is:\n```python\n{program}```\n"))
    code = main(
        [
            "learn",
            "--config",
            str(tiny_learn_yaml),
            "--feedback",
            "openai",
            "--synthesis",
            "openai",
            "--base-url",
            server.base_url,
            "--model",
            "fake-model",
            "--api-key-env",
            KEY_ENV,
            "--runs-dir",
            str(tmp_path / "runs"),
            "--name",
            "o",
            "--policies-dir",
            str(tmp_path / "pol"),
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert len(server.requests) == 2
    vlm, llm = server.requests
    images = [
        p
        for m in vlm.body["messages"]
        if isinstance(m["content"], list)
        for p in m["content"]
        if p.get("type") == "image_url"
    ]
    assert len(images) >= 2 and all(p["image_url"]["url"].startswith("data:image/") for p in images)
    assert "long strides" in json.dumps(llm.body["messages"])  # the feedback reached the LLM prompt
    it = tmp_path / "runs" / "o" / "iter_01"
    assert json.loads((it / "feedback.json").read_text())["backend"] == "openai:fake-model"
    assert (it / "cand_0" / "program.py").read_text() == program
    syn = json.loads((it / "cand_0" / "synthesis.json").read_text())
    assert syn["kept"] == "new" and syn["usage"]["completion_tokens"] > 0
    assert (it / "feedback_exchange.json").is_file()
    for f in (tmp_path / "runs" / "o").rglob("*"):
        if f.is_file() and f.suffix in (".json", ".yaml", ".py", ".html"):
            assert api_key not in f.read_text(errors="ignore"), f


def test_bad_inputs_fail_before_anything_is_spent(tmp_path, capsys) -> None:
    assert main(["learn", "--video", str(tmp_path / "missing.mp4"), "--runs-dir", str(tmp_path / "r")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "r").exists()
    assert main(["learn", "--feedback", "vlm9000", "--runs-dir", str(tmp_path / "r")]) == 2
    assert "unknown feedback 'vlm9000'" in capsys.readouterr().err
    assert main(["learn", "--mode", "eureka", "--runs-dir", str(tmp_path / "r")]) == 2
    assert "--synthesis openai" in capsys.readouterr().err
    assert main(["learn", "--resume", str(tmp_path)]) == 2
    assert "not a learn run" in capsys.readouterr().err


def test_candidates_train_in_parallel_on_a_local_pool(tmp_path) -> None:
    f = tmp_path / "par.yaml"
    f.write_text(yaml.safe_dump({**TINY, "candidates": 2, "parallel": "local"}))
    cfg = load_learn_config(path=f)
    store = LearnStore.create(tmp_path / "run", cfg)
    learn(cfg, store, make_feedback(cfg), make_synthesis(cfg), policies_root=tmp_path / "pol", progress=False)
    summary = json.loads((store.path / "iter_01" / "summary.json").read_text())
    assert len(summary["scores"]) == 2
    for m in (0, 1):
        assert (store.path / "iter_01" / f"cand_{m}" / "train" / "checkpoints" / "latest.pt").is_file()


@pytest.mark.parametrize("sampling", ["uniform", "motion", "grid"])
def test_frames_for_the_feedback_backend(sampling, tmp_path) -> None:
    import numpy as np

    from lm_reward_learning.bilevel.steps import frames_for_feedback

    cfg = load_learn_config("smoke", frame_sampling=sampling, num_frames=4)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(40, 48, 64, 3), dtype=np.uint8)
    out = frames_for_feedback(cfg, frames, "robot")
    if sampling == "grid":  # one SDS-style image: 2 x 2 tiles of 48 x 64
        assert out.shape[0] == 1 and out.shape[1] >= 2 * 48 and out.shape[2] >= 2 * 64
    else:
        assert out.shape == (4, 48, 64, 3)
        assert all(any((f == g).all() for g in frames) for f in out)  # real frames of the clip


class BombSynthesis:
    """Writes a program that passes the dry run (192 recorded states) and raises in training (16 envs)."""

    name = "bomb"
    SOURCE = (
        "def compute_reward(state):\n"
        "    if state.num_envs < 100:\n"
        "        x = [1][5]\n"
        "    r = torch.zeros(state.num_envs)\n"
        "    return r, {'zero_l1': r}\n"
    )

    def synthesize(self, request):
        from lm_reward_learning.bilevel.protocols import SynthesisResult

        return SynthesisResult(source=self.SOURCE, backend="bomb (test)")


@pytest.mark.parametrize("where", [{"parallel": "none"}, {"candidate_timeout_s": 600}], ids=["here", "worker"])
def test_a_reward_that_fails_in_training_keeps_the_previous_program(tmp_path, where) -> None:
    f = tmp_path / "bomb.yaml"
    f.write_text(yaml.safe_dump({**TINY, **where}))
    cfg = load_learn_config(path=f)
    store = LearnStore.create(tmp_path / "run", cfg)
    result = learn(cfg, store, make_feedback(cfg), BombSynthesis(), policies_root=tmp_path / "pol", progress=False)
    cand = store.path / "iter_01" / "cand_0"
    assert json.loads((cand / "synthesis.json").read_text())["kept"] == "new"  # it passed validation
    failed = json.loads((cand / "failed.json").read_text())
    assert failed["error_kind"] == "RewardRuntimeError" and failed["worker"]
    assert failed["reward_failure"]["kind"] == "exception" and failed["reward_failure"]["line"] == 3
    assert "IndexError" in failed["message"]
    summary = json.loads((store.path / "iter_01" / "summary.json").read_text())
    assert summary["kept_previous"] and summary["failed"] == [0] and summary["scores"] == []
    assert (result.best.iteration, result.best.index) == (0, 0)  # the previous program's policy
    assert store.status()["status"] == "done" and result.onnx_path.is_file()
    # resuming does not train the failed program again
    mtime = (cand / "train" / "run.yaml").stat().st_mtime
    learn(cfg, store, make_feedback(cfg), BombSynthesis(), policies_root=tmp_path / "pol", progress=False)
    assert (cand / "train" / "run.yaml").stat().st_mtime == mtime
