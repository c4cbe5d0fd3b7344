"""The console-script body of every node: :func:`spin_node`.

Each node module's ``main()`` is one call, e.g. ``spin_node(TrainerNode, "trainer_node", args,
executor="multi_threaded", num_threads=4)``. The sequence is the same for every node:

1. ``rclpy.init`` without rclpy's signal handlers: those would shut the context down at once, before a
   node that commands a robot could send its last (damping) command. SIGINT and SIGTERM set a flag
   instead, checked between callbacks (at least every :data:`POLL_S`), so no callback is cut off.
2. Build the node; a :class:`~lm_reward_learning.ros.node_params.ParameterError` (bad parameters, or a
   start-up setting that cannot work) ends the process with one fatal log line and exit code 2.
3. Spin it on its executor (:data:`EXECUTORS`) until the flag is set or the context is shut down.
4. On the way out, while the context still runs: a lifecycle node takes its ``shutdown`` transition
   (``policy_controller``: damping if it was commanding), then ``on_exit`` (a bridge's damping, the
   recorder's bag).
5. Shut the context down (callbacks that wait on ``rclpy.ok()`` return), give callbacks still running
   in the executor's threads :data:`SHUTDOWN_GRACE_S` to finish, destroy the node, exit with code 0 (an
   exception from a callback ends the process with its traceback, after steps 4 and 5).

The ROS-free core logs with Python's :mod:`logging`; its records go to rclpy's logger of the same name
(:class:`RosLogHandler`), so they reach the console and ``/rosout`` like the node's own messages.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import rclpy
import rclpy.logging
from rclpy.executors import Executor, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from lm_reward_learning.ros.node_params import ParameterError

EXECUTORS = ("multi_threaded", "single_threaded", "events")
"""rclpy executors a node can spin on: ``multi_threaded`` (action servers and timers in parallel),
``single_threaded`` (callbacks one at a time, in the main thread) and ``events`` (rclpy's
EventsExecutor, experimental in Jazzy; lower loop jitter)."""
POLL_S = 0.1
"""Longest wait for work between checks of the stop flag, s."""
SHUTDOWN_GRACE_S = 3.0
"""On Ctrl-C, callbacks still running (an action goal's backend call) get this long to finish, s."""


def spin_node(
    factory: Callable[[], Node],
    name: str,
    args: list[str] | None,
    *,
    executor: str | Callable[[Any], str] = "multi_threaded",
    num_threads: int | None = None,
    on_exit: Callable[[Any], None] | None = None,
) -> None:
    """Init rclpy, build the node, spin it until Ctrl-C or SIGTERM, stop it cleanly (see the module docstring).

    Args:
        factory: Builds the node (after ``rclpy.init``).
        name: Node name, for the fatal log line.
        args: Command-line arguments for ``rclpy.init`` (``--ros-args ...``).
        executor: One of :data:`EXECUTORS`, or a function of the built node that returns one (a parameter
            of the node).
        num_threads: Threads of the ``multi_threaded`` executor.
        on_exit: Called with the node before the context is shut down (it may still publish).

    Exits with code 2 (and one fatal log line naming each bad value) when the node's parameters are invalid,
    else with code 0 within :data:`SHUTDOWN_GRACE_S` of the signal, even while a callback cannot be
    interrupted (a feedback backend waiting for a person or a server): Python would otherwise wait for
    the executor's worker threads at exit, forever.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    core_log = logging.getLogger("lm_reward_learning")
    core_log.addHandler(RosLogHandler())
    core_log.setLevel(logging.INFO)
    try:
        node = factory()
    except ParameterError as exc:
        rclpy.logging.get_logger(name).fatal(str(exc))
        rclpy.try_shutdown()
        sys.exit(2)
    spinner: Executor | None = None
    try:
        kind = executor(node) if callable(executor) else executor
        spinner = _executor(kind, num_threads)
        node.get_logger().info(f"executor: {kind}" + (f" ({num_threads} threads)" if num_threads else ""))
        spinner.add_node(node)
        while rclpy.ok() and not stop.is_set():
            spinner.spin_once(timeout_sec=POLL_S)
    finally:
        try:
            _before_shutdown(node, on_exit)
        finally:
            rclpy.try_shutdown()
            busy = _wait_for_callbacks(spinner, SHUTDOWN_GRACE_S)
            node.destroy_node()
    if busy:
        node.get_logger().warning(
            f"exiting with {busy} callback(s) still running after {SHUTDOWN_GRACE_S:.0f} s (a backend call that "
            "cannot be interrupted); their goals end with the process"
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # skip joining the executor's worker threads


def _executor(kind: str, num_threads: int | None) -> Executor:
    """The executor named ``kind`` (one of :data:`EXECUTORS`)."""
    if kind == "multi_threaded":
        return MultiThreadedExecutor(num_threads=num_threads)
    if kind == "single_threaded":
        return SingleThreadedExecutor()
    if kind == "events":
        from rclpy.experimental import EventsExecutor

        return EventsExecutor()
    raise ValueError(f"unknown executor {kind!r}; one of {list(EXECUTORS)}")


def _before_shutdown(node: Any, on_exit: Callable[[Any], None] | None) -> None:
    """A lifecycle node's ``shutdown`` transition, then ``on_exit``; the context still runs."""
    if isinstance(node, LifecycleNode):
        try:
            node.trigger_shutdown()
        except Exception as exc:  # a transition not possible now (finalized): still run on_exit
            node.get_logger().warning(f"shutdown transition failed: {exc}")
    if on_exit is not None:
        on_exit(node)


def _wait_for_callbacks(executor: Any, timeout_s: float) -> int:
    """Wait up to ``timeout_s`` for the executor's running callbacks; return how many still run.

    rclpy's ``MultiThreadedExecutor`` keeps the futures of the callbacks it handed to its thread pool in
    ``_futures`` (Foxy to Jazzy); there is no public accessor (``Executor.shutdown(timeout_sec)`` does not
    wait in Jazzy). The other executors run callbacks in the spinning thread: none is left running.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        running = sum(not f.done() for f in list(getattr(executor, "_futures", [])))
        if running == 0 or time.monotonic() >= deadline:
            return running
        time.sleep(0.05)


class RosLogHandler(logging.Handler):
    """Forwards Python ``logging`` records of the ROS-free core (safety transitions, policy loading, the loop's
    steps) to rclpy's logger of the same name, so they reach the console and ``/rosout`` like the node's own
    messages."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = rclpy.logging.get_logger(record.name.replace(".", "_"))
        level = record.levelno
        msg = self.format(record)
        if level >= logging.ERROR:
            logger.error(msg)
        elif level >= logging.WARNING:
            logger.warning(msg)
        elif level >= logging.INFO:
            logger.info(msg)
        else:
            logger.debug(msg)
