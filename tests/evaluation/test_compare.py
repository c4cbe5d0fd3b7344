"""``lmrl compare`` with a tiny budget: table, chart, resume, and configuration checks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from lm_reward_learning.bilevel.config import SYNTHESIS_BACKENDS
from lm_reward_learning.errors import ConfigError
from lm_reward_learning.evaluation.compare import CompareError, run_compare
from lm_reward_learning.evaluation.compare_config import cell_learn_config, load_compare_config

TINY = {
    "reference": "dog_trot",
    "robot": "go2",
    "methods": ["initial", "ours"],
    "seeds": [7],
    "eval_duration_s": 6.0,
    "learn": {
        "iterations": 1,
        "candidates": 1,
        "initial_train_iterations": 1,
        "train_iterations": 1,
        "num_envs": 16,
        "rollout_s": 2.0,
        "num_frames": 2,
        "max_synthesis_retries": 0,
    },
    "method_settings": {"ours": {"mode": "bilevel", "feedback": "motion", "synthesis": "rules"}},
}


def write_config(tmp_path: Path, **changes) -> Path:
    f = tmp_path / "compare.yaml"
    f.write_text(yaml.safe_dump({**TINY, **changes}))
    return f


def test_tiny_comparison_writes_table_and_chart_and_skips_finished_cells(tmp_path) -> None:
    cfg = load_compare_config(path=write_config(tmp_path))
    out = tmp_path / "out"
    result = run_compare(cfg, out)
    assert [(c["method"], c["seed"], c["resumed"]) for c in result.cells] == [("initial", 7, False), ("ours", 7, False)]
    for name in ("compare.json", "compare.md", "compare.png", "compare.yaml"):
        assert (out / name).is_file(), name
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((out / "compare.json").read_text())
    for method in ("initial", "ours"):
        ev = json.loads((out / method / "seed_7" / "evaluation" / "evaluation.json").read_text())
        assert data["summary"][method]["score"] == {"mean": ev["score"], "std": None, "n": 1}
        assert (out / method / "seed_7" / "evaluation" / "footfalls.png").is_file()
    # initial: the loop chain's budget, 1 + 1 x 1 = 2 PPO iterations, without a loop
    assert data["learn_configs"]["initial"]["initial_train_iterations"] == 2
    assert json.loads((out / "initial" / "seed_7" / "status.json").read_text())["best"] == [0, 0]
    ours = json.loads((out / "ours" / "seed_7" / "status.json").read_text())
    assert ours["status"] == "done" and ours["iterations_done"] == 1
    table = (out / "compare.md").read_text()
    assert "| method | seeds | score |" in table and "| reference dog_trot |" in table
    assert "| initial | 1 |" in table and "| ours | 1 |" in table and "Per-feature similarity" in table
    # honest labels: what wrote the feedback and the rewards, and that 2 iterations prove nothing
    assert "feedback by the heuristic motion analyser (not a VLM)" in table
    assert "rewards by the deterministic rules editor (not an LLM)" in table
    assert "**Plumbing check only**: 2 PPO iterations per cell" in table

    stamp = (out / "ours" / "seed_7" / "evaluation" / "evaluation.json").stat().st_mtime_ns
    again = run_compare(cfg, out)  # everything done: nothing is trained or rolled out again
    assert [c["resumed"] for c in again.cells] == [True, True]
    assert (out / "ours" / "seed_7" / "evaluation" / "evaluation.json").stat().st_mtime_ns == stamp
    assert again.summary["ours"]["score"] == result.summary["ours"]["score"]

    # a cell made with another budget is never silently reused
    (out / "ours" / "seed_7" / "cell.json").unlink()
    other = load_compare_config(path=write_config(tmp_path, learn={**TINY["learn"], "train_iterations": 2}))
    with pytest.raises(CompareError, match=r"another configuration \(differs in \['train_iterations'\]\)"):
        run_compare(other, out)


def test_config_resolves_placeholders_and_paths_and_rejects_mislabelled_methods(tmp_path) -> None:
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "dog_pace.yaml").write_text("problems: [x]\n")
    f = write_config(
        tmp_path,
        methods=["human"],
        learn={**TINY["learn"], "task": "move with a {gait} gait ({reference})"},
        method_settings={"human": {"feedback": "human", "human_feedback": "hf/{reference}.yaml"}},
    )
    cfg = load_compare_config(path=f, reference="dog_pace", seeds=(1, 2))
    c = cell_learn_config(cfg, "human", 2)
    assert c.seed == 2 and c.robot == "go2" and c.reference is None
    assert c.task == "move with a pace gait (dog_pace)"
    assert c.human_feedback == str(tmp_path.resolve() / "hf" / "dog_pace.yaml")
    with pytest.raises(ConfigError, match="method 'eureka' needs mode: eureka"):
        load_compare_config(path=write_config(tmp_path, methods=["eureka"], method_settings={"eureka": {}}))
    with pytest.raises(ConfigError, match="methods must be distinct names"):
        load_compare_config(path=write_config(tmp_path), methods=("ours", "gpt"))
    with pytest.raises(ConfigError, match="set per cell"):
        load_compare_config(path=write_config(tmp_path, learn={"seed": 3}))
    with pytest.raises(ConfigError, match="unknown key"):
        load_compare_config(path=write_config(tmp_path, learn={"iteratons": 3}))


def test_bundled_presets_load() -> None:
    smoke = load_compare_config("smoke", methods=("initial", "ours", "human"))
    assert smoke.seeds == (1, 2) and Path(cell_learn_config(smoke, "human", 1).human_feedback).is_file()
    cfg = load_compare_config("default", methods=("ours",), endpoint={"model": "m"})
    assert cell_learn_config(cfg, "ours", 1).feedback_endpoint.model == "m"


@pytest.mark.skipif("reflection" not in SYNTHESIS_BACKENDS, reason="bilevel/config.py does not list `reflection` yet")
def test_eureka_runs_offline_with_the_reflection_tuner() -> None:
    from lm_reward_learning.bilevel.backends import make_feedback, make_synthesis
    from lm_reward_learning.bilevel.reflection import ReflectionSynthesis

    c = cell_learn_config(load_compare_config("smoke"), "eureka", 1)
    assert c.mode == "eureka" and c.synthesis == "reflection"
    assert make_feedback(c) is None and isinstance(make_synthesis(c), ReflectionSynthesis)


def test_a_cell_made_before_a_new_learn_config_key_still_matches(tmp_path) -> None:
    from lm_reward_learning.config import to_dict
    from lm_reward_learning.evaluation.compare import check_same_learn_config

    learn_cfg = cell_learn_config(load_compare_config("smoke"), "ours", 1)
    stored = {k: v for k, v in to_dict(learn_cfg).items() if k != "candidate_timeout_s"}  # an older learn.yaml
    (tmp_path / "learn.yaml").write_text(yaml.safe_dump(stored))
    check_same_learn_config(tmp_path, dataclasses.replace(learn_cfg, candidate_timeout_s=None))
    with pytest.raises(CompareError, match=r"differs in \['candidate_timeout_s'\]"):
        check_same_learn_config(tmp_path, dataclasses.replace(learn_cfg, candidate_timeout_s=60.0))
