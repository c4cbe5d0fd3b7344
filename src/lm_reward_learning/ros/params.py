"""Declared, validated node parameters and the QoS profiles of lm_reward_learning's topics.

Each node lists its parameters as :class:`~lm_reward_learning.ros.node_params.Param` records (name,
default, description, check) in :mod:`~lm_reward_learning.ros.node_params`;
:func:`declare_parameters` declares them all with descriptors, reads the values (from
``--ros-args --params-file config/ros/<node>.yaml`` or the defaults) and raises one
:class:`ParameterError` naming every bad value; :func:`reject_invalid_updates` keeps later
``set_parameters`` calls to the same checks.

QoS: publishers are reliable (:func:`reliable_qos`); subscribers of rollout data use the sensor-data
profile (:data:`rclpy.qos.qos_profile_sensor_data`, best effort, which matches a reliable publisher).
``/tf`` uses tf2_ros's broadcaster profile (:func:`tf_qos`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from lm_reward_learning.ros.node_params import Param, ParameterError, problems, report_start_up_parameters


def declare_parameters(node: Node, params: Sequence[Param]) -> dict[str, Any]:
    """Declare ``params`` on ``node``, read and check their values.

    Returns:
        ``{name: value}`` (arrays as Python lists).

    Raises:
        ParameterError: listing every invalid value, what it must be, and the parameter's meaning.
    """
    for p in params:
        node.declare_parameter(p.name, p.default, ParameterDescriptor(description=p.description, read_only=p.read_only))
    report_start_up_parameters(node, params)
    values = {p.name: _plain(node.get_parameter(p.name).value) for p in params}
    bad = problems(params, values)
    if bad:
        raise ParameterError(f"invalid parameters of node {node.get_name()!r}: " + "; ".join(bad))
    return values


def reject_invalid_updates(node: Node, params: Sequence[Param]) -> None:
    """Reject ``set_parameters`` calls whose values fail the parameters' checks (with the reason)."""
    by_name = {p.name: p for p in params}

    def on_set(updates: list) -> SetParametersResult:
        for u in updates:
            p = by_name.get(u.name)
            if p is not None and p.check is not None and (err := p.check(_plain(u.value))):
                return SetParametersResult(successful=False, reason=f"{u.name}={u.value!r} {err}")
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)


def _plain(v: Any) -> Any:
    """rclpy returns arrays as array.array or lists; use lists."""
    return list(v) if hasattr(v, "tolist") or isinstance(v, (list, tuple)) else v


def reliable_qos(depth: int = 10) -> QoSProfile:
    """Publisher profile: reliable, volatile, keep last ``depth``."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


def tf_qos() -> QoSProfile:
    """``/tf`` profile of tf2_ros's ``TransformBroadcaster``: reliable, volatile, keep last 100."""
    return reliable_qos(depth=100)


SENSOR_DATA_QOS = qos_profile_sensor_data
"""Subscriber profile for rollout images, joint states and TF (best effort, keep last 5)."""


SHUTDOWN_GRACE_S = 3.0
"""On Ctrl-C, callbacks still running (an action goal's backend call) get this long to finish, s."""


def spin_node(factory: Callable[[], Node], name: str, args: list[str] | None, num_threads: int) -> None:
    """Console-script body of a node: init rclpy, build the node, spin it until shutdown, clean up.

    Args:
        factory: Builds the node (after ``rclpy.init``).
        name: Node name, for the fatal log line.
        args: Command-line arguments for ``rclpy.init`` (``--ros-args ...``).
        num_threads: Threads of the ``MultiThreadedExecutor`` (action servers and timers run in parallel).

    Exits with code 2 (and one fatal log line naming each bad value) when the node's parameters are invalid.
    On Ctrl-C or SIGTERM (rclpy's handlers shut the context down) the node is destroyed and the process
    exits with code 0 within :data:`SHUTDOWN_GRACE_S`, even while a callback cannot be interrupted (a
    feedback backend waiting for a person or a server): Python would otherwise wait for the executor's
    worker thread at exit, forever.
    """
    import sys

    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
    from rclpy.logging import get_logger

    rclpy.init(args=args)
    try:
        node = factory()
    except ParameterError as exc:
        get_logger(name).fatal(str(exc))
        rclpy.try_shutdown()
        sys.exit(2)
    executor = MultiThreadedExecutor(num_threads=num_threads)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        busy = _wait_for_callbacks(executor, SHUTDOWN_GRACE_S)
        node.destroy_node()
        rclpy.try_shutdown()
    if busy:
        get_logger(name).warning(
            f"exiting with {busy} callback(s) still running after {SHUTDOWN_GRACE_S:.0f} s (a backend call that "
            "cannot be interrupted); their goals end with the process"
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # skip joining the executor's worker threads


def _wait_for_callbacks(executor: Any, timeout_s: float) -> int:
    """Wait up to ``timeout_s`` for the executor's running callbacks; return how many still run.

    rclpy's ``MultiThreadedExecutor`` keeps the futures of the callbacks it handed to its thread pool in
    ``_futures`` (Foxy to Jazzy); there is no public accessor.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        running = sum(not f.done() for f in list(getattr(executor, "_futures", [])))
        if running == 0 or time.monotonic() >= deadline:
            return running
        time.sleep(0.05)
