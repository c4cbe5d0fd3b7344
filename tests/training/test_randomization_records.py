"""The randomization ranges a policy was trained with are recorded in run.yaml, deploy.yaml and the ONNX metadata,
and a range outside its physical bounds stops `prepare_run` before anything is written."""

from __future__ import annotations

import dataclasses
import json

import onnx
import pytest
import yaml

from lm_reward_learning.errors import ConfigError
from lm_reward_learning.export import export_run
from lm_reward_learning.randomization import AddBaseMass, describe
from lm_reward_learning.reward.program import default_program
from lm_reward_learning.training.trainer import prepare_run


def test_ranges_are_in_run_yaml_deploy_yaml_and_onnx_metadata(tiny_run, tiny_cfg, tmp_path) -> None:
    expected = describe(tiny_cfg.randomization)
    assert expected["enabled"] and "push_robot" in expected  # the Go2 preset trains with randomization
    assert tiny_run.meta()["randomization"] == expected
    res = export_run(tiny_run, tmp_path, name="tiny")
    assert yaml.safe_load(res.deploy_path.read_text())["randomization"] == expected
    meta = {p.key: p.value for p in onnx.load(str(res.onnx_path)).metadata_props}
    assert json.loads(meta["randomization"]) == expected


def test_out_of_bounds_payload_writes_nothing(tiny_cfg, tmp_path) -> None:
    bad = dataclasses.replace(
        tiny_cfg, randomization=dataclasses.replace(tiny_cfg.randomization, add_base_mass=AddBaseMass((-5.0, 3.0)))
    )
    with pytest.raises(ConfigError, match="at least half the base"):
        prepare_run("go2", default_program("go2"), bad, tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
