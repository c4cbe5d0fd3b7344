"""The Dockerfile, checked structurally (Docker cannot run here): base, sources, build, default command."""

from __future__ import annotations

import re
import shlex

from ros_harness import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "") for ln in lines]


def test_builds_from_the_official_ros_jazzy_image():
    args = dict(a.split("=", 1) for op, a in _instructions() if op == "ARG" and "=" in a)
    base = next(a for op, a in _instructions() if op == "FROM")
    assert base.replace("${ROS_DISTRO}", args["ROS_DISTRO"]) == "ros:jazzy-ros-base"


def test_every_copied_path_exists():
    for op, arg in _instructions():
        if op == "COPY":
            *sources, _dest = shlex.split(arg)
            for src in sources:
                assert (REPO / src).exists(), f"COPY {src}: missing in the repository"


def test_builds_the_workspace_with_colcon_and_installs_the_core():
    runs = " ".join(a for op, a in _instructions() if op == "RUN")
    assert "rosdep install --from-paths ros2_ws/src" in runs
    assert "colcon build" in runs and "torch==${TORCH_VERSION}" in runs
    assert '"/opt/ros/${ROS_DISTRO}/setup.sh"' in runs


def test_default_command_launches_a_session_on_the_bundled_video():
    cmd = next(a for op, a in _instructions() if op == "CMD")
    assert "ros2 launch lm_reward_learning learn.launch.py" in cmd
    # no video argument: the session takes the bundled clip with its speed correction (a named video
    # would be read at speed 1)
    assert "video:=" not in cmd
    from lm_reward_learning.video import bundled_expert_video

    assert bundled_expert_video().is_file()
