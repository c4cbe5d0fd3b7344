"""``evaluate`` on a training run, a learn run and an exported policy; its files, score and errors."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.evaluation import EvaluationError, default_command, evaluate
from lm_reward_learning.gait import (
    DEFAULT_WEIGHTS,
    UnknownReferenceError,
    compute_features,
    reference_features,
    similarity,
)
from lm_reward_learning.rollout import load_rollout_trajectory

DURATION_S = 6.0  # 300 policy steps: the shortest record that measures a robot that does not step


@pytest.fixture(scope="module")
def run_eval(tiny_run, tmp_path_factory):
    """``evaluate`` of the shared tiny training run (output outside the shared run directory)."""
    out = tmp_path_factory.mktemp("eval_run")
    return evaluate(tiny_run.path, "dog_trot", duration_s=DURATION_S, out_dir=out)


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory) -> Path:
    """The tiny run exported with ``lmrl export``'s code: ``policy.onnx`` + ``deploy.yaml``."""
    from lm_reward_learning.export import export_run

    return export_run(tiny_run, tmp_path_factory.mktemp("policies"), name="tiny").onnx_path.parent


def test_training_run_writes_json_and_png_and_the_score_is_gait_similarity(run_eval) -> None:
    r = run_eval
    assert r.kind == "training run" and r.json_path.is_file() and r.plot_path.is_file()
    assert r.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(r.json_path.read_text())
    # the JSON's score is gait.similarity of the recorded rollout against the reference; dog_trot at the
    # Go2's size (1.9 m/s) is beyond the trained 0.5-1.0 m/s, so speed is compared with the command held
    feats = compute_features(load_rollout_trajectory(r.arrays_path))
    expected = similarity(feats, reference_features("dog_trot"), reachable_speed_mps=data["command"][0])
    speed_row = next(row for row in data["table"] if row["feature"] == "froude_number")
    assert "outside the trained range" in speed_row["note"]
    assert data["gait_similarity"] == pytest.approx(expected.score, abs=1e-12)
    assert data["score"] == (0.0 if data["rollout"]["fell"] else pytest.approx(expected.score, abs=1e-12))
    assert 0.0 <= data["score"] <= 1.0
    assert [row["feature"] for row in data["table"]] == list(DEFAULT_WEIGHTS)
    assert sum(row["contribution"] for row in data["table"]) == pytest.approx(expected.score)
    assert data["features"]["reference"]["gait"] == "trot"
    assert data["features"]["robot"]["duration_s"] == pytest.approx(DURATION_S)
    assert data["files"] == {"rollout": "rollout.npz", "footfalls": "footfalls.png"}
    assert "score =" in r.table()


def test_default_command_is_the_froude_matched_reference_speed_clipped(run_eval) -> None:
    ref = dataclasses.replace(reference_features("dog_trot"), forward_speed_mps=0.5, leg_length_m=0.5)
    ranges = {"lin_vel_x": (0.0, 1.0), "lin_vel_y": (-0.2, 0.4), "ang_vel_z": (0.0, 0.0)}
    # v = 0.5 / sqrt(g * 0.5) * sqrt(g * 0.315) = 0.5 * sqrt(0.63) = 0.3969 m/s; v_y = (-0.2 + 0.4) / 2
    vx, vy, wz = default_command(ref, 0.315, ranges)
    assert vx == pytest.approx(0.5 * math.sqrt(0.63)) and vy == pytest.approx(0.1) and wz == 0.0
    assert default_command(ref, 0.315, {**ranges, "lin_vel_x": (0.5, 1.0)})[0] == 0.5  # clipped up
    # the dog trots at 1.91 m/s at Go2 size: clipped to the trained 1.0 m/s
    assert run_eval.command == (1.0, 0.0, 0.0)


def test_onnx_and_torch_paths_give_the_same_gait(run_eval, exported, tmp_path) -> None:
    r = evaluate(exported, "dog_trot", duration_s=DURATION_S, out_dir=tmp_path)
    assert r.kind == "exported policy" and r.command == run_eval.command
    with np.load(r.arrays_path) as onnx_run, np.load(run_eval.arrays_path) as torch_run:
        np.testing.assert_array_equal(onnx_run["foot_contact"], torch_run["foot_contact"])
        np.testing.assert_allclose(onnx_run["base_pos_w"], torch_run["base_pos_w"], atol=1e-5)
    a, b = r.robot_features.to_dict(), run_eval.robot_features.to_dict()
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], float):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key
        else:
            assert a[key] == b[key], key
    assert r.score == pytest.approx(run_eval.score, abs=1e-5)


def test_mismatched_deploy_observation_size_is_a_clear_error(exported, tmp_path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(exported, bad)
    deploy = yaml.safe_load((bad / "deploy.yaml").read_text())
    size = deploy["observation"]["size"]
    deploy["observation"]["size"] = size - 1
    (bad / "deploy.yaml").write_text(yaml.safe_dump(deploy))
    with pytest.raises(EvaluationError, match=rf"observes {size - 1} values.*builds {size}.*lmrl export"):
        evaluate(bad, "dog_trot", duration_s=DURATION_S, out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "evaluation.json").exists()


def test_learn_run_evaluates_its_best_candidate(tiny_run, tmp_path) -> None:
    store = LearnStore(tmp_path / "learn")
    (store.path / "iter_01" / "cand_1").mkdir(parents=True)
    (store.path / "learn.yaml").write_text("robot: go2\n")
    with pytest.raises(EvaluationError, match="no trained candidate yet"):
        evaluate(store.path, "dog_trot", duration_s=DURATION_S)
    shutil.copytree(tiny_run.path, store.path / "iter_01" / "cand_1" / "train")
    store.update_status(best=[1, 1])
    r = evaluate(store.path, "dog_trot", duration_s=DURATION_S)
    assert r.kind == "learn run" and r.json_path == store.path / "evaluation" / "dog_trot" / "evaluation.json"
    data = json.loads(r.json_path.read_text())
    assert data["policy_run"] == str(store.path / "iter_01" / "cand_1" / "train")


def test_unknown_reference_and_unknown_target_fail_before_any_rollout(tiny_run, tmp_path) -> None:
    with pytest.raises(UnknownReferenceError, match="dog_trot, dog_pace"):
        evaluate(tiny_run.path, "cat_walk", out_dir=tmp_path / "x")
    with pytest.raises(EvaluationError, match="neither a training run"):
        evaluate(tmp_path, "dog_trot")
    assert not (tmp_path / "x").exists()


def test_a_biped_against_a_quadruped_reference_is_refused_before_any_rollout(tmp_path) -> None:
    from lm_reward_learning.gait import GaitMorphologyError

    stand = Path(__file__).resolve().parents[2] / "policies" / "g1" / "stand"
    with pytest.raises(GaitMorphologyError, match=r"g1 is a biped with 2 feet; reference 'dog_trot' has 4"):
        evaluate(stand, "dog_trot", out_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_the_shipped_standing_g1_scores_at_most_005_against_human_walk(tmp_path) -> None:
    """A robot that does not stride is not a walk: 0.307 before features it lacks counted as zero."""
    stand = Path(__file__).resolve().parents[2] / "policies" / "g1" / "stand"
    r = evaluate(stand, "human_walk", duration_s=DURATION_S, out_dir=tmp_path / "eval")
    assert not r.fell and r.score <= 0.05, r.table()


def test_a_reference_file_is_scored_like_a_named_clip(run_eval, tmp_path) -> None:
    """An .npz of foot contacts, base trajectory and leg length (README) gives the clip's features and score."""
    from lm_reward_learning.gait import load_reference

    clip = load_reference("dog_trot")
    path = tmp_path / "my_trot.npz"
    np.savez(
        path, dt=clip.dt, foot_contact=clip.foot_contact, base_pos_w=clip.base_pos_w, leg_length_m=clip.leg_length,
        base_quat_w=clip.base_quat_w, base_lin_vel_w=clip.base_lin_vel_w,
    )  # fmt: skip
    named, from_file = reference_features("dog_trot"), reference_features(str(path))
    assert from_file.gait == named.gait and from_file.phase_offsets == pytest.approx(named.phase_offsets)
    robot = run_eval.robot_features
    if robot is not None:
        assert similarity(robot, from_file).score == pytest.approx(similarity(robot, named).score, abs=1e-9)
