"""``colcon build`` of ``ros2_ws`` with the PyPI wheels, and the installed console script starting its node.

This is what a ROS user does (``colcon build``; ``source install/setup.bash``;
``ros2 run lm_reward_learning trainer_node``), minus the ``ros2`` CLI, which has no wheel: the console
script is run from ``install/lm_reward_learning/lib/lm_reward_learning/``.
"""

from __future__ import annotations

import subprocess

import pytest
from ros_harness import REPO, VENV_PYTHON, start_node

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def colcon_install(ros_env, tmp_path_factory):
    """Build the workspace once into a temporary build/install/log base; return the install base."""
    base = tmp_path_factory.mktemp("colcon")
    cmd = [
        str(VENV_PYTHON.parent / "colcon"),
        "--log-base",
        str(base / "log"),
        "build",
        "--base-paths",
        str(REPO / "ros2_ws" / "src"),
        "--build-base",
        str(base / "build"),
        "--install-base",
        str(base / "install"),
        "--cmake-args",
        "-DBUILD_TESTING=OFF",
        "--event-handlers",
        "console_cohesion-",
        "summary+",
    ]
    proc = subprocess.run(cmd, env=ros_env, cwd=base, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"colcon build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "2 packages finished" in proc.stdout, proc.stdout
    return base / "install"


def test_colcon_installs_scripts_launch_and_config(colcon_install):
    pkg = colcon_install / "lm_reward_learning"
    for name in ("trainer_node", "policy_controller", "unitree_go2_bridge", "deploy_recorder"):
        script = pkg / "lib" / "lm_reward_learning" / name
        assert script.is_file() and script.stat().st_mode & 0o111, name
    share = pkg / "share" / "lm_reward_learning"
    for rel in (
        "package.xml",
        "launch/learn.launch.py",
        "launch/view.launch.py",
        "config/ros/trainer_node.yaml",
        "config/rviz/lmrl.rviz",
        "config/train/go2.yaml",
        "config/ros/urdf/go2.urdf",
        "config/ros/joystick/layouts.yaml",
        "meshes/go2/base_0.stl",  # the URDF's package://lm_reward_learning/meshes/go2/ URIs resolve here
        "meshes/g1/pelvis.stl",
        "meshes/go2/LICENSE",
    ):
        assert (share / rel).is_file(), rel
    assert (pkg / "share" / "ament_index" / "resource_index" / "packages" / "lm_reward_learning").is_file()
    site = next((pkg / "lib").glob("python3.*/site-packages"))
    core = site / "lm_reward_learning"
    # The core with its package data, and config/ where lm_reward_learning.config.config_dir looks.
    assert (core / "ros" / "trainer_node.py").is_file()
    assert (core / "robots" / "assets" / "go2" / "scene.xml").is_file()
    assert (core / "reward" / "defaults" / "go2.py").is_file()
    assert (core / "_repo_config" / "train" / "go2.yaml").is_file()
    iface = colcon_install / "lm_reward_learning_interfaces"
    assert list(iface.glob("lib/python3.*/site-packages/lm_reward_learning_interfaces/action/_train_policy.py"))


def test_installed_console_script_starts_the_node(ros_env, colcon_install, tmp_path):
    script = colcon_install / "lm_reward_learning" / "lib" / "lm_reward_learning" / "trainer_node"
    env = dict(ros_env)
    out = subprocess.run(
        ["bash", "-c", f"source {colcon_install / 'local_setup.bash'} && env -0"],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    env.update(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    node = start_node(env, tmp_path, [str(script), "--ros-args", "-p", "robot:=g1"], "installed_trainer_node")
    try:
        node.wait_for("ready: action server 'train_policy'", timeout=90)
        check = subprocess.run(
            [str(VENV_PYTHON), "-c", "import lm_reward_learning, sys; sys.stdout.write(lm_reward_learning.__file__)"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.stdout.startswith(str(colcon_install)), check.stdout  # the installed copy, not the repo's
    finally:
        code = node.stop()
    assert code == 0, node.log_text()
