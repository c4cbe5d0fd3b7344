"""The loop's shipped parameter files reach its nodes as ``learn.launch.py`` passes them, in any namespace.

The four nodes start as launch_ros would start them (:func:`ros_harness.launch_node_argv`: the
shipped ``config/ros/<node>.yaml``, then the launch file's parameter dict), in the root namespace (on
a domain of its own) and in this run's namespace; a probe reads every parameter of each file, and
those the launch file sets, through the nodes' parameter services, and checks each node's log of the
parameters it was given: with the files keyed by the plain node name, a namespaced node silently ignored
them (the file's values equal the defaults, so only the log tells).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ros_harness import REPO, launch_node_argv, node_argv, shipped_params, start_node
from test_deploy_params import NAMESPACES, _env, _probe

from lm_reward_learning.ros.node_params import FEEDBACK_NODE, REWARD_SYNTH_NODE, SESSION_NODE, TRAINER_NODE

pytestmark = pytest.mark.ros

LEARN_LAUNCH = REPO / "launch" / "learn.launch.py"
TABLES = {
    "trainer_node": TRAINER_NODE,
    "feedback_node": FEEDBACK_NODE,
    "reward_synth_node": REWARD_SYNTH_NODE,
    "session_node": SESSION_NODE,
}
NODES = tuple(TABLES)
READY = {
    "trainer_node": "ready: action server 'train_policy'",
    "feedback_node": "ready: action server 'get_visual_feedback'",
    "reward_synth_node": "ready: action server 'synthesize_reward'",
    "session_node": "ready: action server 'learn_reward'",
}


@NAMESPACES
def test_shipped_parameter_files_reach_the_loop_nodes(ros_env, tmp_path, namespace):
    env = _env(ros_env, namespace)
    args = {"robot": "g1", "preset": "smoke", "iterations": "2"}  # launch arguments other than the defaults
    expected, procs = {}, {}
    for name in NODES:
        argv = launch_node_argv(LEARN_LAUNCH, name, namespace, tmp_path, args)
        expected[name] = dict(shipped_params(name))
        for path in (Path(argv[i + 1]) for i, a in enumerate(argv) if a == "--params-file"):
            if path.parent == tmp_path:  # the launch file's parameter dict, as launch_ros writes it
                expected[name].update(yaml.safe_load(path.read_text())["/**"]["ros__parameters"])
        if name == "session_node":
            argv += ["-p", "server_timeout_s:=1.0"]  # its autostart session gives up at once (no training here)
            expected[name]["server_timeout_s"] = 1.0
        procs[name] = start_node(env, tmp_path, argv, name)
    try:
        for name, node in procs.items():
            node.wait_for(READY[name], timeout=120)
        reads = [f"{name}:{','.join(sorted(values))}" for name, values in expected.items()]
        out = _probe(env, tmp_path, namespace, "params", *(x for r in reads for x in ("--read", r)), timeout=180)
    finally:
        codes = {name: node.stop() for name, node in procs.items()}
    assert all(code == 0 for code in codes.values()), {n: procs[n].log_text()[-1500:] for n in procs}
    for name, values in expected.items():
        assert out[name] == values, name
        n = len(TABLES[name])
        assert f"{len(values)} of {n} parameters set at start-up" in procs[name].log_text(), procs[name].log_text()
    assert out["session_node"]["preset"] == "smoke" and out["trainer_node"]["robot"] == "g1"


def test_a_misspelt_key_or_a_wrong_type_stops_a_loop_node_with_the_reason(ros_env, tmp_path):
    """The loop's nodes refuse parameter files as the deployment's do: a key that is no parameter (a typo would
    otherwise leave the default in force without a word) and a value of the wrong type, in one fatal line."""
    params = dict(shipped_params("feedback_node"), live_gap_s=2, live_max_frame=100)
    bad = tmp_path / "feedback_node.yaml"
    bad.write_text(yaml.safe_dump({"/**/feedback_node": {"ros__parameters": params}}))
    node = start_node(ros_env, tmp_path, node_argv("feedback_node", "--params-file", str(bad)), "bad_feedback")
    assert node.proc.wait(90) == 2
    errors = [ln for ln in node.log_text().splitlines() if "FATAL" in ln or "ERROR" in ln]
    assert len(errors) == 1 and "[FATAL]" in errors[0], node.log_text()
    assert "live_gap_s=2 must be a float like 1.0" in errors[0]
    assert "'live_max_frame' is not a parameter of feedback_node (misspelled?)" in errors[0]
    assert "normally config/ros/feedback_node.yaml" in errors[0]
