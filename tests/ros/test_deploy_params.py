"""The shipped deployment parameter files load into the real nodes as ``deploy.launch.py`` passes them.

``ros2 launch`` cannot run here (``launch`` has no wheel), so :func:`ros_harness.launch_node_argv` builds
the command line launch_ros would give each node from the launch file itself: ``-r __node:=``,
``-r __ns:=``, the shipped ``config/ros/<node>.yaml`` and the launch file's parameter dict as a
``/**`` file. Each test runs in the root namespace (as ``ros2 launch`` starts them; on a domain of
its own, so that no other test run on this machine sees these node names) and in this run's
namespace (as the other ROS tests, or a ``PushRosNamespace``, do). Before the files were keyed
``/**/<node>``, a namespaced node ignored them silently; before they held no empty lists, a node in
the root namespace exited with code 2 at start (rcl reads ``[]`` as "not set").
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from ros_harness import DOMAIN_ID, NAMESPACE, REPO, VENV_PYTHON, launch_node_argv, shipped_params, start_node

from lm_reward_learning.ros.node_params import MUJOCO_SIM_NODE, POLICY_CONTROLLER

pytestmark = pytest.mark.ros

DEPLOY_LAUNCH = REPO / "launch" / "deploy.launch.py"
PROBE = REPO / "tests" / "deploy" / "ros_probe.py"
ROOT_DOMAIN_ID = str(int(DOMAIN_ID) + 1 + os.getpid() % 40)
"""Domain of the root-namespace runs: node names there are not unique per test run."""
NAMESPACES = pytest.mark.parametrize("namespace", ["/", NAMESPACE], ids=["root", "namespaced"])


def _env(ros_env: dict[str, str], namespace: str) -> dict[str, str]:
    return dict(ros_env, ROS_DOMAIN_ID=ROOT_DOMAIN_ID) if namespace == "/" else dict(ros_env)


def _probe(env: dict[str, str], cwd: Path, namespace: str, *args: str, timeout: float) -> dict[str, Any]:
    out = cwd / f"probe_{time.monotonic_ns()}.json"
    cmd = [str(VENV_PYTHON), str(PROBE), *args, "--out", str(out), "--namespace", namespace]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"probe {args[0]} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(out.read_text())


@NAMESPACES
def test_shipped_parameter_files_start_the_nodes_and_take_effect(ros_env, tmp_path, namespace):
    env = _env(ros_env, namespace)
    # As a user runs it from the repository root: the launch default policy is relative to it.
    sim = start_node(
        env, REPO, launch_node_argv(DEPLOY_LAUNCH, "mujoco_sim_node", namespace, tmp_path), "sim", tmp_path
    )
    # start_mode:=policy (launch argument): stand up and run unattended, as in simulation. One addition after
    # the launch file's arguments: a 0.5 s watchdog (tested with its 0.1 s default in
    # test_deploy_nodes), so that a stall of the loaded test machine cannot turn the start into damping.
    ctl_argv = launch_node_argv(DEPLOY_LAUNCH, "policy_controller", namespace, tmp_path, {"start_mode": "policy"})
    ctl_argv += ["-p", "sensor_timeout_s:=0.5"]
    ctl = start_node(env, REPO, ctl_argv, "ctl", tmp_path)
    ctl_file, sim_file = shipped_params("policy_controller"), shipped_params("mujoco_sim_node")
    try:
        sim.wait_for("ready: go2 in MuJoCo (realtime", timeout=90)
        ctl.wait_for("ready (unconfigured)", timeout=90)
        out = _probe(
            env, tmp_path, namespace, "startup", "--controller-params", ",".join(ctl_file),
            "--sim-params", ",".join(sim_file), "--timeout", "60", timeout=180,
        )  # fmt: skip
    finally:
        ctl_code, sim_code = ctl.stop(), sim.stop()
    logs = f"controller:\n{ctl.log_text()[-3000:]}\nsim:\n{sim.log_text()[-2000:]}"
    assert ctl_code == 0 and sim_code == 0, logs
    # Every value of the files reached the nodes; one of them differs from the code's default (the executor).
    assert out["controller_params"] == {**ctl_file, "sensor_timeout_s": 0.5, "start_mode": "policy"}, logs
    assert out["sim_params"] == sim_file, logs
    assert ctl_file["executor"] == "events" and "executor: events" in ctl.log_text()
    assert f"{len(ctl_file)} of {len(POLICY_CONTROLLER)} parameters set at start-up" in ctl.log_text(), logs
    assert f"{len(sim_file)} of {len(MUJOCO_SIM_NODE)} parameters set at start-up" in sim.log_text(), logs
    # The controller configures against the simulator with the launch default policy and runs it.
    assert out["configure"] and out["activate"] and out["deactivate"], logs
    assert "configured with policies/go2/flat_walk/policy.onnx" in " ".join(out["states"])
    assert [s.split(":")[0] for s in out["states"]][-5:] == ["inactive", "passive", "stand_up", "policy", "inactive"]


@NAMESPACES
def test_a_bad_value_in_a_parameter_file_stops_the_node_with_the_reason(ros_env, tmp_path, namespace):
    params = dict(shipped_params("policy_controller"), stand_up_s=-1.0, damping_kd=1, sensor_timeout=0.05)
    bad = tmp_path / "policy_controller.yaml"
    bad.write_text(yaml.safe_dump({"/**/policy_controller": {"ros__parameters": params}}))
    argv = launch_node_argv(DEPLOY_LAUNCH, "policy_controller", namespace, tmp_path)
    argv[argv.index(str(REPO / "config" / "ros" / "policy_controller.yaml"))] = str(bad)
    node = start_node(_env(ros_env, namespace), tmp_path, argv, "bad_controller")
    assert node.proc.wait(90) == 2
    errors = [ln for ln in node.log_text().splitlines() if "FATAL" in ln or "ERROR" in ln]
    assert len(errors) == 1, node.log_text()  # one fatal paragraph naming every problem and where to fix it
    assert "[FATAL]" in errors[0]
    assert "stand_up_s=-1.0 must be a number >= 0" in errors[0]
    assert "damping_kd=1 must be a float like 1.0" in errors[0]
    assert "'sensor_timeout' is not a parameter of policy_controller (misspelled?)" in errors[0]
    assert "normally config/ros/policy_controller.yaml" in errors[0]


def test_an_empty_list_in_a_users_parameter_file_means_the_default(ros_env, tmp_path):
    """rcl reads ``[]`` as "not set"; the sim node then uses the robot's joint order and default pose."""
    extra = tmp_path / "user.yaml"
    extra.write_text("/**/mujoco_sim_node:\n  ros__parameters:\n    command_joints: []\n    initial_joint_pos: []\n")
    argv = [*launch_node_argv(DEPLOY_LAUNCH, "mujoco_sim_node", NAMESPACE, tmp_path, {"sim_mode": "lockstep"})]
    node = start_node(ros_env, tmp_path, [*argv, "--params-file", str(extra)], "sim_empty_lists")
    try:
        node.wait_for("ready: go2 in MuJoCo (lockstep", timeout=90)
    finally:
        code = node.stop()
    assert code == 0, node.log_text()
    n = len(MUJOCO_SIM_NODE)
    assert f"{n} of {n} parameters set at start-up" in node.log_text()


@NAMESPACES
def test_the_bridge_and_recorder_files_load_as_the_launch_file_passes_them(ros_env, tmp_path, namespace):
    """``unitree_go2_bridge`` and ``deploy_recorder`` (started by deploy.launch.py with ``sim:=false``) with their
    shipped files, in the root namespace and in a namespace: every value taken, both ready, both exit 0."""
    from ros_harness import missing_unitree

    from lm_reward_learning.ros.node_params import DEPLOY_RECORDER, UNITREE_GO2_BRIDGE

    env = _env(ros_env, namespace)
    reason = missing_unitree(env)
    if reason:
        pytest.skip(reason)
    nodes = {}
    for name in ("unitree_go2_bridge", "deploy_recorder"):
        nodes[name] = start_node(env, tmp_path, launch_node_argv(DEPLOY_LAUNCH, name, namespace, tmp_path), name)
    try:
        nodes["unitree_go2_bridge"].wait_for("ready: joint_commands -> /lowcmd at 500 Hz", timeout=90)
        nodes["deploy_recorder"].wait_for("ready: recording", timeout=90)
    finally:
        codes = {name: node.stop() for name, node in nodes.items()}
    logs = "\n".join(n.log_text()[-2000:] for n in nodes.values())
    assert codes == {"unitree_go2_bridge": 0, "deploy_recorder": 0}, logs
    for name, table in (("unitree_go2_bridge", UNITREE_GO2_BRIDGE), ("deploy_recorder", DEPLOY_RECORDER)):
        n = len(shipped_params(name))
        assert f"{n} of {len(table)} parameters set at start-up" in nodes[name].log_text(), logs
    bags = list((tmp_path / "bags").glob("deploy_*/metadata.yaml"))
    assert len(bags) == 1, logs  # the default bag directory, closed on SIGINT
