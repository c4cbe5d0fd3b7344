"""ament_python package ``lm_reward_learning``: the core library, the ROS 2 nodes, launch and config.

Nothing is copied into this folder: the core is built from the repository's ``src/`` and the launch
files and configuration from its top-level ``launch/`` and ``config/`` (one copy of each in the repo),
referenced by relative paths. Installed layout (``colcon build``):

* ``lib/python3.X/site-packages/lm_reward_learning`` — the core, with ``config/`` as
  ``lm_reward_learning/_repo_config`` (where ``lm_reward_learning.config.config_dir`` looks);
* ``lib/lm_reward_learning/<node>`` — one console script per node (``ros2 run lm_reward_learning <node>``);
* ``share/lm_reward_learning/{launch,config}`` — launch files, ROS parameters, RViz config, URDF, training YAML;
* ``share/lm_reward_learning/meshes/<robot>/`` — the robots' meshes and licences, for the URDF's
  ``package://lm_reward_learning/meshes/<robot>/<file>`` URIs (RViz, robot_state_publisher).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

PACKAGE = "lm_reward_learning"
HERE = Path(__file__).resolve().parent
REPO = Path("..", "..", "..")  # ros2_ws/src/lm_reward_learning -> repository root (relative: setuptools wants that)
SRC = REPO / "src"

NODES = {
    "trainer_node": "lm_reward_learning.ros.trainer_node:main",
    "session_node": "lm_reward_learning.ros.session_node:main",
    "feedback_node": "lm_reward_learning.ros.feedback_node:main",
    "reward_synth_node": "lm_reward_learning.ros.reward_synth_node:main",
    "policy_controller": "lm_reward_learning.ros.policy_controller:main",
    "mujoco_sim_node": "lm_reward_learning.ros.mujoco_sim_node:main",
    "unitree_go2_bridge": "lm_reward_learning.ros.unitree_go2_bridge:main",
    "unitree_g1_bridge": "lm_reward_learning.ros.unitree_g1_bridge:main",
    "deploy_recorder": "lm_reward_learning.ros.deploy_recorder:main",
}
"""Console scripts, installed to ``lib/lm_reward_learning/`` for ``ros2 run`` and launch files."""


def _tree(top: Path, dest: str) -> list[tuple[str, list[str]]]:
    """``data_files`` entries installing every file under ``top`` into ``share/<pkg>/<dest>/``."""
    entries = []
    for dirpath, _dirs, files in os.walk(top):
        rel = Path(dirpath).relative_to(top)
        if files and "__pycache__" not in rel.parts:
            target = Path("share", PACKAGE, dest, rel)
            entries.append((str(target), [str(Path(dirpath, f)) for f in sorted(files)]))
    return sorted(entries)


def _meshes() -> list[tuple[str, list[str]]]:
    """``data_files`` entries installing each robot's meshes and licences into ``share/<pkg>/meshes/<robot>/``."""
    entries = []
    for robot in sorted((SRC / PACKAGE / "robots" / "assets").iterdir()):
        if (robot / "meshes").is_dir():
            licences = sorted(str(p) for p in robot.glob("LICENSE*"))
            meshes = sorted(str(p) for p in (robot / "meshes").iterdir() if p.is_file())
            entries.append((str(Path("share", PACKAGE, "meshes", robot.name)), meshes + licences))
    return entries


def _package_files(top: Path) -> list[str]:
    """Every non-bytecode file of the core (models, meshes, default programs, prompts, data), for ``package_data``."""
    return sorted(
        str(Path(dirpath, f).relative_to(top))
        for dirpath, _dirs, files in os.walk(top)
        if "__pycache__" not in Path(dirpath).parts
        for f in files
        if not f.endswith(".pyc")
    )


class BuildPyWithConfig(build_py):
    """``build_py`` that also places the repository's ``config/`` in the package as ``_repo_config``."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib, PACKAGE, "_repo_config")
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(HERE / REPO / "config", target)


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(str(SRC)),
    package_dir={"": str(SRC)},
    package_data={PACKAGE: _package_files(SRC / PACKAGE)},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *_tree(REPO / "launch", "launch"),
        *_tree(REPO / "config", "config"),
        *_meshes(),
    ],
    cmdclass={"build_py": BuildPyWithConfig},
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="lm_reward_learning maintainers",
    maintainer_email="maintainers@users.noreply.h-seed-0861566e.example",
    description="Reward learning from videos: core library, ROS 2 nodes, launch files and configuration.",
    license="BSD-3-Clause",
    entry_points={"console_scripts": [f"{name} = {target}" for name, target in NODES.items()]},
)
