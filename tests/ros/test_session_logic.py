"""The ROS-free logic of session_node, feedback_node and reward_synth_node (no rclpy, no training).

Goals → learn runs as ``lmrl learn`` makes them, the resume rule of a candidate's training, the
rollout bags of a run, the live rollout buffer, a synthesis step read back from the store, and the
nodes' parameter YAML files against their parameter tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from ros_harness import shipped_params

from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.ros.candidates import latest_bag, load_current, plan_training
from lm_reward_learning.ros.feedback_logic import LiveRollout, robot_frames
from lm_reward_learning.ros.node_params import FEEDBACK_NODE, REWARD_SYNTH_NODE, SESSION_NODE, problems
from lm_reward_learning.ros.session_logic import LearnGoal, SessionDefaults, open_session
from lm_reward_learning.ros.synth_logic import read_outcome
from lm_reward_learning.training.run_dir import RunDir

TINY = {"iterations": 1, "initial_train_iterations": 3, "train_iterations": 2, "num_envs": 16, "rollout_s": 2.0}


@pytest.fixture
def defaults(tmp_path: Path) -> SessionDefaults:
    f = tmp_path / "tiny.yaml"
    f.write_text(yaml.safe_dump(TINY))
    return SessionDefaults(runs_dir=tmp_path / "runs", learn_config=str(f))


@pytest.mark.parametrize(
    ("node", "table"),
    [("session_node", SESSION_NODE), ("feedback_node", FEEDBACK_NODE), ("reward_synth_node", REWARD_SYNTH_NODE)],
)
def test_parameter_yaml_matches_the_declared_parameters(node, table):
    params = shipped_params(node)
    declared = {p.name: p.default for p in table}
    assert params == declared
    assert all(type(params[k]) is type(v) for k, v in declared.items())
    assert problems(table, params) == []


def test_parameter_checks_name_the_bad_value():
    values = {p.name: p.default for p in SESSION_NODE} | {"feedback": "gpt", "server_timeout_s": -1.0}
    bad = problems(SESSION_NODE, values)
    assert bad[0].startswith("feedback='gpt' must be empty or one of ['motion', 'openai', 'gemini', 'human'")
    assert bad[1].startswith("server_timeout_s=-1.0 must be a number > 0")


@pytest.mark.parametrize(
    ("goal", "expected"),
    [
        (LearnGoal(video="/nonexistent/clip.mp4"), "Expert video /nonexistent/clip.mp4 does not exist"),
        (LearnGoal(robot="spot"), "unknown robot 'spot'"),
        (LearnGoal(feedback="gpt"), "unknown feedback 'gpt'"),
        (LearnGoal(synthesis="llm"), "unknown synthesis 'llm'"),
        (LearnGoal(run_name="../escape"), "must be a plain directory name"),
        (LearnGoal(resume_run_dir="/nonexistent/run"), "is not a learn run"),
    ],
    ids=["missing-video", "unknown-robot", "unknown-feedback", "unknown-synthesis", "bad-run-name", "not-a-run"],
)
def test_bad_goals_raise_with_the_reason_and_create_nothing(defaults, goal, expected):
    with pytest.raises(LmrlError, match=None) as info:
        open_session(goal, defaults)
    assert expected in str(info.value)
    assert not defaults.runs_dir.exists()


def test_a_goal_creates_the_run_as_lmrl_learn_does_with_absolute_paths(defaults, tmp_path, monkeypatch):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    cfg, store = open_session(LearnGoal(video="clip.mp4", iterations=2, run_name="r"), defaults)

    assert store.path == (tmp_path / "runs" / "r").resolve()
    assert cfg.video == str(video.resolve()) and cfg.iterations == 2 and cfg.num_envs == 16
    assert store.config() == cfg and store.status()["status"] == "running"
    with pytest.raises(LmrlError, match="already exists"):
        open_session(LearnGoal(run_name="r"), defaults)

    store.update_status(status="failed", error="x")
    cfg2, store2 = open_session(LearnGoal(resume_run_dir=str(store.path), robot="g1"), defaults)
    assert store2.path == store.path and cfg2 == cfg  # the run's learn.yaml wins over the goal's fields
    assert store2.status()["status"] == "running"


def test_node_defaults_fill_what_the_goal_leaves_empty(defaults):
    d = SessionDefaults(
        **{**defaults.__dict__, "robot": "g1", "iterations": 4, "model": "m", "base_url": "http://h/v1"}
    )
    cfg, _ = open_session(LearnGoal(run_name="d"), d)
    assert (cfg.robot, cfg.iterations) == ("g1", 4)
    assert cfg.feedback_endpoint.model == cfg.synthesis_endpoint.model == "m"
    assert cfg.synthesis_endpoint.base_url == "http://h/v1"
    cfg, _ = open_session(LearnGoal(run_name="e", robot="go2", iterations=1), d)
    assert (cfg.robot, cfg.iterations) == ("go2", 1)


def _fake_candidate_run(store: LearnStore, k: int, status: str, checkpoint: bool) -> Path:
    run = RunDir.create_at(store.cand_dir(k, 0) / "train")
    run.write_meta(robot="go2", status=status)
    if checkpoint:
        (run.checkpoints / "latest.pt").write_bytes(b"x")
    return run.path


def test_plan_training_follows_the_loops_settings_and_resume_rule(defaults):
    cfg, store = open_session(LearnGoal(run_name="p"), defaults)

    first = plan_training(cfg, store, 0, 0, "src", None)
    assert first.run_dir == store.path / "iter_00" / "cand_0" / "train"
    assert (first.iterations, first.num_envs, first.seed, first.rollout_s) == (3, 16, cfg.seed, 2.0)
    assert first.warm_start is None and first.view == "side"
    assert first.command == (pytest.approx(0.75), 0.0, 0.0)  # mean of go2.yaml's lin_vel_x range [0.5, 1.0] m/s
    assert (first.program_name, first.program_origin) == ("iter0_cand0", "learn:p")

    initial = _fake_candidate_run(store, 0, "done", checkpoint=True)
    (initial / "reward" / "program.py").write_text("src")
    (store.cand_dir(0, 0) / "score.json").write_text(json.dumps({"score": 0.5}))
    current = load_current(store, 0, 0)

    plan = plan_training(cfg, store, 1, 0, "src", current)
    assert (
        plan.iterations == 2
        and plan.warm_start == store.path / "iter_00" / "cand_0" / "train" / "checkpoints" / "latest.pt"
    )

    stale = _fake_candidate_run(store, 1, "validating", checkpoint=False)  # interrupted before training
    plan = plan_training(cfg, store, 1, 0, "src", current)
    assert not stale.exists() and plan.warm_start is not None

    _fake_candidate_run(store, 1, "training", checkpoint=True)  # interrupted during training: resumed
    plan = plan_training(cfg, store, 1, 0, "src", current)
    assert (plan.run_dir / "checkpoints" / "latest.pt").is_file() and plan.warm_start is None


def test_load_current_reads_the_initial_program_from_its_training_run(defaults):
    _, store = open_session(LearnGoal(run_name="c"), defaults)
    with pytest.raises(LmrlError, match="not complete"):
        load_current(store, 0, 0)
    run = _fake_candidate_run(store, 0, "done", checkpoint=True)
    (run / "reward" / "program.py").write_text("initial")
    (store.cand_dir(0, 0) / "score.json").write_text(json.dumps({"score": 0.25}))

    cand = load_current(store, 0, 0)
    assert (cand.source, cand.value, cand.run) == ("initial", 0.25, run)
    assert cand.rollout_arrays == store.cand_dir(0, 0) / "rollout.npz"


def test_latest_bag_is_the_newest_complete_one(tmp_path):
    assert latest_bag(tmp_path) is None
    for name in ("rollout_bag", "rollout_bag_2", "rollout_bag_10", "rollout_bag_11"):
        (tmp_path / name).mkdir()
        if name != "rollout_bag_11":  # no metadata.yaml: still being written
            (tmp_path / name / "metadata.yaml").write_text("{}")
    assert latest_bag(tmp_path) == tmp_path / "rollout_bag_10"
    assert robot_frames(tmp_path / "nothing", "", None) == (None, "video")  # a run of lmrl learn has no bag


def test_live_rollout_keeps_the_last_burst_of_images():
    live = LiveRollout(gap_s=1.0, max_frames=3)
    assert live.frames() is None
    for i, t in enumerate([0.0, 0.02, 0.04, 5.0, 5.02, 5.04, 5.06, 5.08]):
        live.add(np.full((2, 2, 3), i, np.uint8), t)
    frames = live.frames()
    assert frames.shape == (3, 2, 2, 3) and frames[:, 0, 0, 0].tolist() == [5, 6, 7]  # the newest 3 of rollout 2
    frames, source = robot_frames(Path("/nonexistent"), "", frames, live=True)
    assert source == "live:/rollout/image" and len(frames) == 3


def test_read_outcome_lists_rejected_attempts_and_the_kept_program(tmp_path):
    store = LearnStore(tmp_path)
    d = store.cand_dir(2, 0)
    (d / "attempt_0").mkdir()
    (d / "attempt_0" / "program.py").write_text("bad")
    (d / "program.py").write_text("good")
    (d / "diff.patch").write_text("--- previous\n+++ new\n")
    syn = {
        "backend": "openai",
        "label": "openai:m",
        "kept": "new",
        "attempts": [
            {"attempt": 0, "ok": False, "issues": ["line 1: import is not allowed; use torch"]},
            {"attempt": 1, "ok": True, "issues": []},
        ],
        "usage": {},
    }
    (d / "synthesis.json").write_text(json.dumps(syn))

    out = read_outcome(store, 2, 0)

    assert out.attempts == 2 and not out.kept_previous and out.synthesis_path == d / "synthesis.json"
    (rejected,) = out.rejected
    assert (rejected.name, rejected.source, rejected.passed) == ("iter2_cand0_attempt0", "bad", False)
    assert rejected.message == "attempt 0 failed validation: line 1: import is not allowed; use torch"
    assert (out.kept.source, out.kept.passed, out.kept.diff) == ("good", True, "--- previous\n+++ new\n")
    assert out.kept.origin == f"openai:m ({tmp_path.name})" and len(out.kept.sha256) == 64


def test_train_goals_carry_the_loops_seed_and_rollout(tmp_path):
    from lm_reward_learning.ros.train_worker import make_job

    job = make_job(robot="go2", runs_dir=str(tmp_path), seed=7, command=(0.75, 0.0, 0.0), view="front")
    assert job.config_overrides["seed"] == 7 and job.command == (0.75, 0.0, 0.0) and job.view == "front"
    assert "seed" not in make_job(robot="go2", runs_dir=str(tmp_path)).config_overrides  # the config's seed
    with pytest.raises(LmrlError, match=r"rollout command must be 3 finite numbers .* got \[0.5, 0.0\]"):
        make_job(robot="go2", runs_dir=str(tmp_path), command=(0.5, 0.0))
