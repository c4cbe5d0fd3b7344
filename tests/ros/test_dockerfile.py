"""The Dockerfiles, checked structurally (Docker cannot run here): base, sources, build, default command,
the shipped policies in the image, the build contexts (``.dockerignore``) and colcon's outputs in ``.gitignore``."""

from __future__ import annotations

import fnmatch
import re
import shlex
import subprocess

import pytest
from ros_harness import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
DOCKERFILES = {"Dockerfile": ".dockerignore", "docker/Dockerfile.isaaclab": "docker/Dockerfile.isaaclab.dockerignore"}
"""Each Dockerfile and the ignore file of its build context (the repository root; BuildKit reads
``<Dockerfile>.dockerignore`` beside a Dockerfile before ``.dockerignore``)."""


def _instructions(text: str = DOCKERFILE) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", text)
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


@pytest.mark.parametrize("dockerfile", sorted(DOCKERFILES))
def test_the_shipped_policies_are_in_the_image_where_the_deploy_default_resolves(dockerfile):
    ops = _instructions((REPO / dockerfile).read_text())
    workdir = next(a for op, a in ops if op == "WORKDIR")
    copies = [shlex.split(a) for op, a in ops if op == "COPY"]
    assert ["policies", "./policies"] in copies, f"{dockerfile} does not copy policies/ into {workdir}"
    launch = (REPO / "launch" / "deploy.launch.py").read_text()
    default = re.search(r'\("policy", "([^"]+)"', launch).group(1)
    assert default.startswith("policies/") and (REPO / default / "policy.onnx").is_file()


def _ignored(patterns: list[str], path: str) -> bool:
    """Whether ``path`` (relative, ``/``-separated) is excluded by .dockerignore ``patterns`` (no ``!`` rules)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(p, pat.replace("**/", "*")) for pat in patterns for p in prefixes)


@pytest.mark.parametrize("dockerfile", sorted(DOCKERFILES))
def test_the_build_context_leaves_out_local_state_and_keeps_the_sources(dockerfile):
    ignore = REPO / DOCKERFILES[dockerfile]
    patterns = [ln.strip() for ln in ignore.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert not any(p.startswith("!") for p in patterns)  # _ignored does not implement re-inclusion
    for local in (".git", ".venv", ".venv-ros", ".ros-install", "runs", "install", "log", "build", "ros2_ws/install"):
        assert _ignored(patterns, local), f"{ignore.name} sends {local} to the Docker daemon"
    for op, arg in _instructions((REPO / dockerfile).read_text()):
        if op == "COPY":
            for src in shlex.split(arg)[:-1]:
                assert not _ignored(patterns, src), f"{ignore.name} excludes {src}, which {dockerfile} copies"
    for path in ("policies/go2/flat_walk/policy.onnx", "policies/go2/flat_walk/deploy.yaml", "policies/g1/stand"):
        assert (REPO / path).exists() and not _ignored(patterns, path), path


def test_colcon_outputs_at_the_repository_root_are_ignored_by_git():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    paths = ["install/setup.bash", "log/latest", "build/lm_reward_learning/x", "ros2_ws/install/setup.bash"]
    proc = subprocess.run(["git", "check-ignore", *paths], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert proc.stdout.split() == paths, proc.stdout + proc.stderr
