"""ONNX export: parity with torch, deployment facts in deploy.yaml and in the ONNX metadata."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import yaml

from lm_reward_learning.envs.mujoco_env import observation_layout
from lm_reward_learning.export import PARITY_TOL, export_run, load_policy
from lm_reward_learning.robots import get_robot


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    return export_run(tiny_run, tmp_path_factory.mktemp("policies"), name="tiny")


def test_parity_and_any_batch(exported, tiny_run) -> None:
    assert exported.parity_max_abs_err < PARITY_TOL
    policy, spec, _, _ = load_policy(tiny_run)
    sess = ort.InferenceSession(str(exported.onnx_path), providers=["CPUExecutionProvider"])
    obs_dim = sum(t.size for t in observation_layout(spec)["policy"])
    for batch in (1, 7):
        x = np.random.default_rng(batch).normal(size=(batch, obs_dim)).astype(np.float32)
        got = sess.run(["actions"], {"obs": x})[0]
        with torch.no_grad():
            ref = policy(_td(torch.from_numpy(x))).numpy()
        assert got.shape == (batch, spec.num_joints)
        np.testing.assert_allclose(got, ref, atol=PARITY_TOL)


def _td(x):
    from tensordict import TensorDict

    return TensorDict({"policy": x, "critic": torch.zeros(x.shape[0], 8)}, batch_size=[x.shape[0]])


def test_exported_files_are_readable_by_others(exported) -> None:
    """0666 minus the umask, as any written file (policies are deployed by other users and containers)."""
    umask = os.umask(0o022)
    os.umask(umask)
    for path in (exported.onnx_path, exported.deploy_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_deploy_yaml_and_metadata_agree(exported) -> None:
    spec = get_robot("go2")
    deploy = yaml.safe_load(exported.deploy_path.read_text())
    assert deploy["robot"] == "go2"
    assert deploy["joint_names"] == list(spec.joint_names)
    assert deploy["default_joint_pos"] == spec.per_joint(spec.default_joint_pos)
    assert deploy["kp"] == spec.per_joint(spec.kp) and deploy["kd"] == spec.per_joint(spec.kd)
    assert deploy["action_scale"] == spec.action_scale
    assert deploy["control_dt"] == pytest.approx(0.02)
    terms = deploy["observation"]["terms"]
    assert [t["name"] for t in terms][:3] == ["base_ang_vel", "projected_gravity", "velocity_commands"]
    assert terms[-1]["offset"] + terms[-1]["size"] == deploy["observation"]["size"] == 9 + 3 * 12
    assert len(deploy["reward_sha256"]) == 64
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(exported.onnx_path)).metadata_props}
    for key in ("robot", "joint_names", "default_joint_pos", "kp", "kd", "action_scale", "observation", "control_dt"):
        assert meta[key] == deploy[key], key


@pytest.fixture(scope="module")
def g1_legs_export(tmp_path_factory):
    """A one-iteration G1 run acting on the legs with a gait clock (config/train/g1.yaml), exported."""
    from lm_reward_learning.config import load_train_config
    from lm_reward_learning.reward.program import default_program
    from lm_reward_learning.training.trainer import prepare_run, train

    cfg = load_train_config("g1", iterations=1, **{"env.num_envs": 8, "ppo.num_steps_per_env": 8})
    assert cfg.env.action_joints == "legs" and cfg.env.gait_clock
    run = prepare_run("g1", default_program("g1"), cfg, tmp_path_factory.mktemp("runs"), "legs")
    train(run, cfg, progress=False)
    return export_run(run, tmp_path_factory.mktemp("policies"), name="legs"), cfg


def test_a_legs_policy_exports_its_held_joints_and_gait_clock(g1_legs_export) -> None:
    from lm_reward_learning.deploy.policy import DeployedPolicy

    exported, cfg = g1_legs_export
    g1 = get_robot("g1")
    deploy = yaml.safe_load(exported.deploy_path.read_text())
    assert deploy["joint_names"] == list(g1.joint_names[:12]) and deploy["action"]["size"] == 12
    assert deploy["action_joints"] == "legs"
    held = deploy["held_joints"]
    assert held["names"] == list(g1.joint_names[12:])
    assert held["default_joint_pos"] == [g1.default_joint_pos[j] for j in held["names"]]
    assert held["kp"] == [g1.kp[j] for j in held["names"]] and held["kd"] == [g1.kd[j] for j in held["names"]]
    assert deploy["gait_clock"] == {"frequency_hz": cfg.env.gait_frequency_hz}
    terms = deploy["observation"]["terms"]
    assert terms[-1]["name"] == "gait_clock" and deploy["observation"]["size"] == 9 + 3 * 12 + 2
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(exported.onnx_path)).metadata_props}
    for key in ("action_joints", "held_joints", "gait_clock", "observation", "joint_names"):
        assert meta[key] == deploy[key], key
    facts = DeployedPolicy.load(exported.onnx_path.parent).facts
    assert facts.command_joint_names == g1.joint_names  # the controller commands all 29
    assert facts.gait_clock_hz == cfg.env.gait_frequency_hz


def test_policies_without_the_options_export_neither_key(exported) -> None:
    deploy = yaml.safe_load(exported.deploy_path.read_text())
    assert not {"action_joints", "held_joints", "gait_clock"} & set(deploy)


def test_an_exported_legs_policy_rolls_out_in_the_env_its_deploy_yaml_describes(g1_legs_export, tmp_path) -> None:
    """lmrl evaluate's exported-policy path rebuilds the legs + clock env from deploy.yaml (whatever
    config/train/g1.yaml says), and its deploy check passes."""
    from lm_reward_learning.evaluation.targets import resolve_target

    exported, _ = g1_legs_export
    target = resolve_target(exported.onnx_path.parent)
    _, _, env_cfg, _ = target.load()
    assert env_cfg.action_joints == "legs" and env_cfg.gait_clock
    result = target.rollout(0.2, (0.5, 0.0, 0.0), tmp_path / "rollout.npz")
    assert result.duration_s == pytest.approx(0.2, abs=0.03)
