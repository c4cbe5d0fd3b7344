"""Tiny policy files for the deployment tests (a linear ONNX network with the shipped Go2 facts).

Imported by ``tests/deploy`` and ``tests/ros/test_deploy_nodes.py`` (main venv; needs ``onnx``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import yaml
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "policies" / "go2" / "flat_walk"
"""The Go2 walking policy exported by the training path (``policy.onnx`` + ``deploy.yaml``)."""


def shipped_facts() -> dict[str, Any]:
    """The shipped policy's ``deploy.yaml`` as a dict."""
    return yaml.safe_load((SHIPPED / "deploy.yaml").read_text())


def linear_onnx(obs_size: int, act_size: int, seed: int = 0, metadata: dict[str, Any] | None = None) -> bytes:
    """An ONNX model ``actions = obs @ W`` (input ``obs`` (batch, obs_size), output ``actions`` (batch, act_size))."""
    w = np.random.default_rng(seed).normal(0.0, 0.1, size=(obs_size, act_size)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["obs", "W"], ["actions"])],
        "linear_policy",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", obs_size])],
        [helper.make_tensor_value_info("actions", TensorProto.FLOAT, ["batch", act_size])],
        [numpy_helper.from_array(w, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_policy(
    directory: Path,
    *,
    obs_size: int = 45,
    act_size: int = 12,
    yaml_facts: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    write_yaml: bool = True,
) -> Path:
    """Write ``policy.onnx`` (a linear network) and ``deploy.yaml`` (the shipped facts by default) into ``directory``.

    Returns:
        ``directory``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    facts = copy.deepcopy(yaml_facts) if yaml_facts is not None else shipped_facts()
    (directory / "policy.onnx").write_bytes(linear_onnx(obs_size, act_size, metadata=metadata))
    if write_yaml:
        (directory / "deploy.yaml").write_text(yaml.safe_dump(facts, sort_keys=False))
    return directory
