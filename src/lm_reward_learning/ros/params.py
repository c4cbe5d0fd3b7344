"""Declared, validated node parameters and the QoS profiles of lm_reward_learning's topics.

Every node lists its parameters as :class:`~lm_reward_learning.ros.node_params.Param` records (name,
default, description, check) in :mod:`~lm_reward_learning.ros.node_params`. :func:`declare_parameters`
declares a table on a node and reads the values (from ``--ros-args --params-file
config/ros/<node>.yaml`` and ``-p`` arguments, as a launch file passes them, or the defaults); it
accepts empty-list defaults (``[]``, "not set"), which rclpy would otherwise type as byte arrays, refuses
a value of the wrong type, a key that is not a parameter (a typo) and a value that fails its check, all
in one :class:`~lm_reward_learning.ros.node_params.ParameterError`, logs which parameters were given at
start-up (and warns when a parameter file matched nothing), and keeps later ``set_parameters`` calls to
the same checks. :func:`read_parameters` reads them again (``policy_controller`` does at each configure).

QoS: publishers are reliable (:func:`reliable_qos`); subscribers of rollout data use the sensor-data
profile (:data:`rclpy.qos.qos_profile_sensor_data`, best effort, which matches a reliable publisher).
``/tf`` uses tf2_ros's broadcaster profile (:func:`tf_qos`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from lm_reward_learning.ros.node_params import Param, ParameterError, problems


def declare_parameters(node: Node, params: Sequence[Param], source: str = "") -> dict[str, Any]:
    """Declare ``params`` on ``node``, log which were given at start-up, return the checked values.

    rcl's YAML parser turns an empty list (``[]``) into "not set"; a list parameter whose value is not
    set takes its (empty) default. Later ``set_parameters`` calls are held to the same checks.

    Args:
        node: The rclpy node.
        params: Its parameter table.
        source: Where the node's parameters normally come from, for messages
            (``config/ros/policy_controller.yaml``).

    Returns:
        ``{name: value}`` (arrays as Python lists).

    Raises:
        ParameterError: one paragraph listing every invalid value (wrong type, failed check) and every
            override that is not a parameter of the node (a misspelled key), and where to fix them.
    """
    bad = []
    overrides = start_up_overrides(node)
    for p in params:
        empty_list = isinstance(p.default, list) and not p.default
        descriptor = ParameterDescriptor(description=p.description, read_only=p.read_only, dynamic_typing=empty_list)
        try:
            node.declare_parameter(p.name, p.default, descriptor)
        except InvalidParameterTypeException:
            kind = type(p.default).__name__
            bad.append(f"{p.name}={overrides[p.name]!r} must be a {kind} like {p.default!r} ({p.description})")
            node.declare_parameter(p.name, p.default, descriptor, ignore_override=True)
    unknown = sorted(n for n in overrides if not node.has_parameter(n))
    bad += [f"{n!r} is not a parameter of {node.get_name()} (misspelled?)" for n in unknown]
    report_start_up_parameters(node, params, overrides)
    values = {p.name: _plain(node.get_parameter(p.name).value, p.default) for p in params}
    bad += problems(params, values)
    if bad:
        where = f" (normally {source})" if source else ""
        raise ParameterError(
            f"invalid parameters of node {node.get_fully_qualified_name()!r}: {'; '.join(bad)}. They come from the "
            f"--params-file files{where} and -p arguments given to the node; fix them there."
        )
    _reject_invalid_updates(node, params)
    return values


def read_parameters(node: Node, params: Sequence[Param]) -> dict[str, Any]:
    """The current values of ``params`` on ``node``, checked.

    Raises:
        ParameterError: listing every invalid value.
    """
    values = {p.name: _plain(node.get_parameter(p.name).value, p.default) for p in params}
    bad = problems(params, values)
    if bad:
        raise ParameterError(f"invalid parameters of node {node.get_name()!r}: " + "; ".join(bad))
    return values


def _reject_invalid_updates(node: Node, params: Sequence[Param]) -> None:
    """Reject ``set_parameters`` calls whose values fail the parameters' checks (with the reason).

    Installed after the parameters are declared: rclpy runs these callbacks on declared values too, and
    the start-up values are checked all at once by :func:`declare_parameters`.
    """
    by_name = {p.name: p for p in params}

    def on_set(updates: list) -> SetParametersResult:
        for u in updates:
            p = by_name.get(u.name)
            if p is not None and p.check is not None and (err := p.check(_plain(u.value, p.default))):
                return SetParametersResult(successful=False, reason=f"{u.name}={u.value!r} {err}")
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)


def _plain(v: Any, default: Any) -> Any:
    """rclpy values as plain Python: arrays as lists; an unset or byte-typed empty list as ``[]``.

    rcl reads ``[]`` (YAML or ``-p``) as "not set" (None), and rclpy types an empty default as a byte
    array; for a parameter whose default is a list both mean the empty list.
    """
    byte_array = isinstance(v, (bytes, bytearray)) or (isinstance(v, list) and v and isinstance(v[0], bytes))
    if isinstance(default, list) and (v is None or byte_array):
        return []
    return list(v) if hasattr(v, "tolist") or isinstance(v, (list, tuple)) else v


def start_up_overrides(node: Node) -> dict[str, Any]:
    """The parameters given to ``node`` at start-up that apply to it: ``{name: value}``.

    These come from ``--params-file`` files and ``-p`` arguments. rclpy has no public accessor; its
    ``Node`` keeps them in ``_parameter_overrides`` (Foxy to Jazzy).
    """
    return {name: p.value for name, p in getattr(node, "_parameter_overrides", {}).items()}


def report_start_up_parameters(node: Node, params: Sequence[Param], overrides: dict[str, Any]) -> None:
    """Log which of ``params`` were given to ``node`` at start-up; warn when none was (a parameter file whose
    top-level key does not match the node is ignored by rcl without a word)."""
    names = {p.name for p in params}
    given = sorted(n for n in overrides if n in names)
    log = node.get_logger()
    if given:
        log.info(f"{len(given)} of {len(params)} parameters set at start-up: {', '.join(given)}")
    else:
        log.warning(
            f"no parameter file or -p argument set any parameter of {node.get_fully_qualified_name()}: all "
            f"defaults. A parameter file's top-level key must match the node: '/**/{node.get_name()}:' "
            "matches it in any namespace."
        )


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
