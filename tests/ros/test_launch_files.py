"""Launch files, parameter YAML, RViz config and the ament packages, checked structurally (no ROS needed).

``launch`` and ``launch_ros`` cannot be installed from PyPI, so the launch files are parsed with
``ast``: every executable of this package they start is a console script of the ament_python
package, every ``config/...`` file they name exists, every launch configuration they read is
declared, and every parameter YAML matches its node's declared parameters.
"""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from ros_harness import REPO, launch_node_argv, shipped_params

LAUNCH = REPO / "launch"
PKG = REPO / "ros2_ws" / "src" / "lm_reward_learning"
IFACES = REPO / "ros2_ws" / "src" / "lm_reward_learning_interfaces"
LAUNCH_FILES = sorted(LAUNCH.glob("*.launch.py"))


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == name
    ]


def _kw(call: ast.Call, key: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == key), None)


def _console_scripts() -> set[str]:
    tree = ast.parse((PKG / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(getattr(t, "id", None) == "NODES" for t in targets):
                return set(ast.literal_eval(node.value))
    raise AssertionError("setup.py defines no NODES table of console scripts")


def _exec_depends() -> set[str]:
    root = ET.parse(PKG / "package.xml").getroot()
    return {e.text for tag in ("exec_depend", "depend") for e in root.iter(tag)}


def _declared_args(tree: ast.AST) -> set[str]:
    names = {
        ast.literal_eval(c.args[0])
        for c in _calls(tree, "DeclareLaunchArgument")
        if c.args and isinstance(c.args[0], ast.Constant)
    }
    for node in ast.walk(tree):  # ARGUMENTS = ((name, default, doc), ...) tables
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ARGUMENTS" for t in node.targets):
            names |= {row[0] for row in ast.literal_eval(node.value)}
    return names


def test_launch_files_exist_and_parse():
    assert {f.name for f in LAUNCH_FILES} == {"learn.launch.py", "view.launch.py", "deploy.launch.py"}
    for f in LAUNCH_FILES:
        tree = ast.parse(f.read_text(), str(f))
        assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)


@pytest.mark.parametrize("launch_file", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_executable_is_an_entry_point_or_a_declared_dependency(launch_file):
    tree = ast.parse(launch_file.read_text())
    scripts, deps = _console_scripts(), _exec_depends()
    nodes = _calls(tree, "Node")
    assert nodes
    for call in nodes:
        package = _kw(call, "package")
        executable = ast.literal_eval(_kw(call, "executable"))
        if isinstance(package, ast.Name) and package.id == "PACKAGE":
            assert executable in scripts, f"{launch_file.name}: {executable} is not a console script of setup.py"
        else:
            assert ast.literal_eval(package) in deps, f"{launch_file.name}: package.xml lacks {package}"
    for call in _calls(tree, "ExecuteProcess"):  # ros2 bag play -> ros2bag + the MCAP storage plugin
        cmd = [ast.literal_eval(e) for e in _kw(call, "cmd").elts if isinstance(e, ast.Constant)]
        assert cmd[:2] == ["ros2", "bag"] and {"ros2bag", "rosbag2_storage_mcap"} <= deps


@pytest.mark.parametrize("launch_file", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_config_file_and_argument_exists(launch_file):
    tree = ast.parse(launch_file.read_text())
    configs = [[ast.literal_eval(a) for a in c.args] for c in _calls(tree, "_config")]
    assert configs
    for parts in configs:
        assert (REPO / "config" / Path(*parts)).is_file(), f"{launch_file.name}: config/{'/'.join(parts)} missing"
    declared = _declared_args(tree)
    used = {ast.literal_eval(c.args[0]) for c in _calls(tree, "LaunchConfiguration")}
    used |= {ast.literal_eval(c.args[0]) for c in _calls(tree, "LaunchConfigurationNotEquals")}
    assert used <= declared, f"{launch_file.name}: undeclared launch arguments {used - declared}"


def test_learn_launch_declares_the_issue_arguments():
    declared = _declared_args(ast.parse((LAUNCH / "learn.launch.py").read_text()))
    assert declared == {"video", "robot", "feedback", "synthesis", "iterations", "preset", "rviz"}


def test_learn_launch_passes_the_preset_to_the_session_node(tmp_path):
    argv = launch_node_argv(LAUNCH / "learn.launch.py", "session_node", "", tmp_path, {"preset": "smoke"})
    files = [argv[i + 1] for i, a in enumerate(argv) if a == "--params-file"]
    assert files[0] == str(REPO / "config" / "ros" / "session_node.yaml")
    params = yaml.safe_load(Path(files[1]).read_text())["/**"]["ros__parameters"]
    assert params["preset"] == "smoke" and params["autostart"] is True
    from lm_reward_learning.ros.node_params import SESSION_NODE, problems

    values = {p.name: p.default for p in SESSION_NODE}
    assert problems(SESSION_NODE, values | {"preset": "smoke"}) == []
    assert problems(SESSION_NODE, values | {"preset": "smok"})[0].startswith(
        "preset='smok' must be a learn preset: one of ['default', 'smoke']"
    )


def test_parameter_yaml_matches_the_declared_parameters():
    from lm_reward_learning.ros.node_params import TRAINER_NODE

    params = shipped_params("trainer_node")
    declared = {p.name: p for p in TRAINER_NODE}
    assert set(params) == set(declared)
    for name, value in params.items():
        default = declared[name].default
        assert type(value) is type(default), f"{name}: YAML {value!r} vs default {default!r}"
        assert value == default, f"{name}: the YAML and the code disagree ({value!r} vs {default!r})"
        check = declared[name].check
        assert check is None or check(value) is None, f"{name}={value!r}: {check(value)}"


@pytest.mark.parametrize("path", sorted((REPO / "config" / "ros").glob("*.yaml")), ids=lambda p: p.name)
def test_parameter_files_match_their_node_in_any_namespace_and_hold_no_empty_list(path):
    """``/**/<node>`` applies in every namespace (a plain ``<node>`` key means only ``/<node>``, so a node
    run in a namespace silently ignores the file); rcl's parser reads ``[]`` as "not set"."""
    data = yaml.safe_load(path.read_text())
    assert list(data) == [f"/**/{path.stem}"] and list(data[f"/**/{path.stem}"]) == ["ros__parameters"]

    def lists(v):
        if isinstance(v, dict):
            for x in v.values():
                yield from lists(x)
        elif isinstance(v, list):
            yield v

    assert all(lists(data)), f"{path.name} holds an empty list"


def test_rviz_config_shows_the_rollout_image_the_robot_tf_and_its_model():
    rviz = yaml.safe_load((REPO / "config" / "rviz" / "lmrl.rviz").read_text())
    manager = rviz["Visualization Manager"]
    displays = {d["Class"]: d for d in manager["Displays"]}
    assert displays["rviz_default_plugins/Image"]["Topic"]["Value"] == "/rollout/image"
    assert displays["rviz_default_plugins/Image"]["Enabled"]
    assert displays["rviz_default_plugins/TF"]["Enabled"]
    assert manager["Global Options"]["Fixed Frame"] == shipped_params("trainer_node")["odom_frame"]
    assert manager["Views"]["Current"]["Target Frame"] == "base"  # the Go2's base body
    model = displays["rviz_default_plugins/RobotModel"]
    assert model["Enabled"] and model["Description Source"] == "Topic"
    assert model["Description Topic"]["Value"] == "/robot_description"
    assert model["Description Topic"]["Durability Policy"] == "Transient Local"  # latched, as it is published


def test_ament_packages_are_format_3_with_matching_build_types():
    for pkg, build_type in ((PKG, "ament_python"), (IFACES, "ament_cmake")):
        root = ET.parse(pkg / "package.xml").getroot()
        assert root.get("format") == "3"
        assert root.find("name").text == pkg.name
        assert root.find("export/build_type").text == build_type
    assert "rosidl_interface_packages" in {e.text for e in ET.parse(IFACES / "package.xml").getroot().iter()}


def test_interfaces_cmake_lists_every_definition():
    cmake = (IFACES / "CMakeLists.txt").read_text()
    files = sorted(p.relative_to(IFACES).as_posix() for p in IFACES.glob("*/*") if p.suffix in (".msg", ".action"))
    assert files and all(f'"{f}"' in cmake for f in files)
