"""``launch/deploy.launch.py`` and the deployment nodes' parameter YAML, checked structurally (no ROS needed).

``launch``/``launch_ros`` are not installable from PyPI, so the launch file is parsed with ``ast`` (as
``test_launch_files.py`` does for the others): its arguments, executables, config files and the
lifecycle transitions it emits; and each ``config/ros/<node>.yaml`` must equal its node's parameter table.
"""

from __future__ import annotations

import ast

import pytest
from ros_harness import REPO, shipped_params

from lm_reward_learning.ros.node_params import (
    DEPLOY_RECORDER,
    FILE_CHOICES,
    MUJOCO_SIM_NODE,
    POLICY_CONTROLLER,
    UNITREE_G1_BRIDGE,
    UNITREE_GO2_BRIDGE,
)

LAUNCH = REPO / "launch" / "deploy.launch.py"
TREE = ast.parse(LAUNCH.read_text(), str(LAUNCH))


def _calls(name: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(TREE)
        if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == name
    ]


def _kw(call: ast.Call, key: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == key), None)


def _declared() -> dict[str, str]:
    """Declared launch arguments: the ARGUMENTS table plus literal DeclareLaunchArgument calls."""
    assigns = [n for n in ast.walk(TREE) if isinstance(n, ast.Assign)]
    table = next(n.value for n in assigns if any(getattr(t, "id", None) == "ARGUMENTS" for t in n.targets))
    out = {name: default for name, default, _doc in ast.literal_eval(table)}
    for call in _calls("DeclareLaunchArgument"):
        if call.args and isinstance(call.args[0], ast.Constant):
            out[call.args[0].value] = "<substitution>"
    return out


def test_declares_the_issue_arguments_and_uses_only_those():
    declared = _declared()
    assert set(declared) == {
        "sim", "policy", "robot", "sim_mode", "activate", "start_mode", "heartbeat_timeout_s", "joy_layout", "driver",
        "record",
    }  # fmt: skip
    assert declared["heartbeat_timeout_s"] == "0.2"  # as config/ros/policy_controller.yaml
    assert declared["driver"] == "unitree_go2" and declared["record"] == "false"
    assert declared["start_mode"] == "passive"  # on hardware the operator stands the robot up
    assert declared["sim"] == "true" and declared["sim_mode"] in ("realtime", "lockstep")
    assert (REPO / declared["policy"] / "policy.onnx").is_file()  # the shipped policy, from the repo root
    used = {ast.literal_eval(c.args[0]) for c in _calls("LaunchConfiguration")}
    assert used <= set(declared), used - set(declared)


def test_starts_the_nodes_with_their_config_files():
    nodes = {ast.literal_eval(_kw(c, "executable")): c for c in _calls("Node") + _calls("LifecycleNode")}
    assert set(nodes) == {
        "mujoco_sim_node", "policy_controller", "robot_state_publisher", "unitree_go2_bridge", "unitree_g1_bridge",
        "deploy_recorder",
    }  # fmt: skip
    assert _calls("LifecycleNode")[0] is nodes["policy_controller"]  # the controller is a lifecycle node
    assert "IfCondition(LaunchConfiguration('sim'))" in ast.unparse(_kw(nodes["mujoco_sim_node"], "condition"))
    # On hardware: robot_state_publisher with the robot's URDF, and the Go2 bridge unless driver:=none.
    assert "UnlessCondition(LaunchConfiguration('sim'))" in ast.unparse(
        _kw(nodes["robot_state_publisher"], "condition")
    )
    for robot in ("go2", "g1"):
        assert ast.unparse(_kw(nodes[f"unitree_{robot}_bridge"], "condition")) == f"_driver('unitree_{robot}')"
    driver = next(f for f in ast.walk(TREE) if isinstance(f, ast.FunctionDef) and f.name == "_driver")
    assert "'false'" in ast.unparse(driver) and "LaunchConfiguration('driver')" in ast.unparse(driver)
    assert "robot_description" in ast.unparse(_kw(nodes["robot_state_publisher"], "parameters"))
    for robot in ("go2", "g1"):
        assert (REPO / "config" / "ros" / "urdf" / f"{robot}.urdf").is_file()
    for name in set(nodes) - {"robot_state_publisher"}:
        # each executable is the module's main() (setup.py's NODES maps name -> lm_reward_learning.ros.<name>:main)
        module = REPO / "src" / "lm_reward_learning" / "ros" / f"{name}.py"
        assert any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in ast.parse(module.read_text()).body)
    configs = [[ast.literal_eval(a) for a in c.args] for c in _calls("_config")]
    assert sorted(configs) == [
        ["ros", "deploy_recorder.yaml"],
        ["ros", "mujoco_sim_node.yaml"],
        ["ros", "policy_controller.yaml"],
        ["ros", "unitree_g1_bridge.yaml"],
        ["ros", "unitree_go2_bridge.yaml"],
    ]
    for parts in configs:
        assert (REPO / "config" / "/".join(parts)).is_file()


def test_configures_at_start_and_activates_only_when_asked():
    transitions = [ast.unparse(_kw(c, "transition_id")) for c in _calls("ChangeState")]
    assert sorted(transitions) == ["Transition.TRANSITION_ACTIVATE", "Transition.TRANSITION_CONFIGURE"]
    handler = _calls("RegisterEventHandler")[0]
    assert "activate" in ast.unparse(_kw(handler, "condition"))
    on_transition = _calls("OnStateTransition")[0]
    assert ast.literal_eval(_kw(on_transition, "goal_state")) == "inactive"


@pytest.mark.parametrize(
    ("node", "table"),
    [
        ("policy_controller", POLICY_CONTROLLER),
        ("mujoco_sim_node", MUJOCO_SIM_NODE),
        ("unitree_go2_bridge", UNITREE_GO2_BRIDGE),
        ("unitree_g1_bridge", UNITREE_G1_BRIDGE),
        ("deploy_recorder", DEPLOY_RECORDER),
    ],
)
def test_parameter_yaml_matches_the_declared_parameters(node, table):
    params = shipped_params(node)
    declared = {p.name: p for p in table}
    # Left out: the parameters whose default is an empty list (rcl reads `[]` as "not set").
    assert set(params) == {n for n, p in declared.items() if p.default != []}
    choices = FILE_CHOICES.get(node, {})
    for name, value in params.items():
        default = declared[name].default
        assert type(value) is type(default), f"{name}: YAML {value!r} vs default {default!r}"
        expected = choices.get(name, default)
        assert value == expected, f"{name}: the YAML and the code disagree ({value!r} vs {expected!r})"
        check = declared[name].check
        assert check is None or check(value) is None, f"{name}={value!r}: {check(value)}"
