"""DeployedPolicy: loading the shipped export, and refusing policies whose facts or sizes do not match."""

from __future__ import annotations

import shutil

import numpy as np
import onnxruntime as ort
import pytest
import yaml
from policy_files import SHIPPED, shipped_facts, write_policy

from lm_reward_learning.deploy import DeployedPolicy, DeployError, DeployFacts, PolicyMismatchError
from lm_reward_learning.deploy.observation import ObservationBuilder


def test_shipped_policy_loads_with_its_facts():
    policy = DeployedPolicy.load(SHIPPED)
    f, y = policy.facts, shipped_facts()
    assert f.robot == "go2" and list(f.joint_names) == y["joint_names"]
    assert f.obs_size == 45 and f.action_size == 12 and f.control_dt == pytest.approx(0.02)
    assert [t.name for t in f.obs_terms] == [t["name"] for t in y["observation"]["terms"]]
    assert policy.metadata["joint_names"] == y["joint_names"]  # the ONNX carries the same facts
    # The call is the network itself: same numbers as a plain onnxruntime session.
    obs = np.random.default_rng(0).normal(size=45).astype(np.float32)
    ref = ort.InferenceSession(str(SHIPPED / "policy.onnx")).run(None, {"obs": obs[None]})[0][0]
    out = policy(obs)
    assert out.shape == (12,) and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


def test_inference_reuses_its_buffers_and_warm_changes_nothing():
    """The action is a view of one output buffer (no per-call allocation); warm() reruns the last input."""
    policy = DeployedPolicy.load(SHIPPED)
    ref = ort.InferenceSession(str(SHIPPED / "policy.onnx"))
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 45))  # float64: converted on the way in
    out_a = policy(a)
    expected_a = ref.run(None, {"obs": a[None].astype(np.float32)})[0][0]
    np.testing.assert_allclose(out_a, expected_a, rtol=1e-6, atol=1e-6)
    policy.warm()
    np.testing.assert_allclose(out_a, expected_a, rtol=1e-6, atol=1e-6)
    out_b = policy(b)
    assert np.shares_memory(out_a, out_b)  # the same buffer, now holding b's action
    np.testing.assert_allclose(out_b, ref.run(None, {"obs": b[None].astype(np.float32)})[0][0], rtol=1e-6, atol=1e-6)


def test_onnx_file_without_yaml_uses_its_metadata(tmp_path):
    shutil.copy(SHIPPED / "policy.onnx", tmp_path / "policy.onnx")
    policy = DeployedPolicy.load(tmp_path / "policy.onnx")
    assert policy.facts.source.endswith("metadata")
    assert policy.facts.joint_names == DeployedPolicy.load(SHIPPED).facts.joint_names


def test_yaml_and_metadata_that_disagree_are_refused(tmp_path):
    shutil.copy(SHIPPED / "policy.onnx", tmp_path / "policy.onnx")
    facts = shipped_facts()
    facts["kp"] = [25.0] * 12
    (tmp_path / "deploy.yaml").write_text(yaml.safe_dump(facts))
    with pytest.raises(PolicyMismatchError, match=r"disagree on \['kp'\]"):
        DeployedPolicy.load(tmp_path)


def test_wrong_observation_size_is_refused_naming_both_sizes(tmp_path):
    write_policy(tmp_path, obs_size=44)
    with pytest.raises(PolicyMismatchError, match=r"observation size mismatch.*observation.size = 45.*takes 44"):
        DeployedPolicy.load(tmp_path)


def test_wrong_action_size_is_refused(tmp_path):
    write_policy(tmp_path, act_size=11)
    with pytest.raises(PolicyMismatchError, match=r"action size mismatch.*12 joints.*outputs 11"):
        DeployedPolicy.load(tmp_path)


def test_facts_that_contradict_themselves_are_refused(tmp_path):
    facts = shipped_facts()
    facts["kd"] = [0.5] * 11
    with pytest.raises(PolicyMismatchError, match="kd has 11 values for 12 joint_names"):
        DeployFacts.from_dict(facts, "test")
    facts = shipped_facts()
    facts["observation"]["size"] = 46
    with pytest.raises(PolicyMismatchError, match=r"cover 45 entries but observation\.size is 46"):
        DeployFacts.from_dict(facts, "test")
    facts = shipped_facts()
    del facts["control_dt"]
    with pytest.raises(DeployError, match=r"missing deployment facts \['control_dt'\]"):
        DeployFacts.from_dict(facts, "test")


def test_missing_files_are_explained(tmp_path):
    with pytest.raises(DeployError, match="no ONNX policy"):
        DeployedPolicy.load(tmp_path)
    write_policy(tmp_path, write_yaml=False)  # an ONNX without metadata and no YAML
    with pytest.raises(DeployError, match="no deployment metadata"):
        DeployedPolicy.load(tmp_path)
    (tmp_path / "policy.onnx").write_bytes(b"not onnx")
    with pytest.raises(DeployError, match="not a loadable ONNX model"):
        DeployedPolicy.load(tmp_path)


def test_a_term_a_robot_cannot_measure_is_refused(tmp_path):
    facts = shipped_facts()
    facts["observation"]["terms"][0]["name"] = "base_lin_vel"  # privileged in training
    write_policy(tmp_path, yaml_facts=facts)
    policy = DeployedPolicy.load(tmp_path)
    with pytest.raises(PolicyMismatchError, match=r"observes 'base_lin_vel'.*supported terms"):
        ObservationBuilder(policy.facts)
