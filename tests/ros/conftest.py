"""Fixtures of the ROS tests (helpers in ``ros_harness.py``); they skip where ROS is not set up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ros_harness import NodeProcess, missing_ros, ros_environment, start_node, trainer_argv


@pytest.fixture(scope="session")
def ros_env() -> dict[str, str]:
    """Environment for ROS processes (``.ros-install/env.sh``, fixed domain, localhost discovery)."""
    reason = missing_ros()
    if reason:
        pytest.skip(reason)
    return ros_environment()


@pytest.fixture(scope="module")
def trainer(ros_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One ``trainer_node`` process for a test module (goals run one after another)."""
    cwd = tmp_path_factory.mktemp("trainer")
    node = start_node(ros_env, cwd, trainer_argv(cwd / "runs"), "trainer_node")
    try:
        node.wait_for("ready: action server 'train_policy'", timeout=90)
        yield node
    finally:
        node.stop()
