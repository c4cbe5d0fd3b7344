"""Joint commands as flat arrays for a ros2_control forward command controller (``std_msgs/Float64MultiArray``).

A forward command controller has no joint names in its messages: the array follows the order of the
controller's ``joints`` parameter (``command_joints`` here), so the order is mapped by name once, at
configure time. Two layouts:

``position``
    ``[q*_1 .. q*_J]``: targets only; the hardware interface applies its own gains (a stock
    ``forward_command_controller`` on ``position`` interfaces). Damping cannot be expressed.
``position_kp_kd``
    ``[q*_1 .. q*_J, kp_1 .. kp_J, kd_1 .. kd_J]``: targets, rad, then gains, N·m/rad and N·m·s/rad,
    for hardware that exposes per-joint gain interfaces (e.g. Unitree's low-level command:
    ``q, kp, kd`` per motor). The message's layout names the two dimensions ``field`` (3:
    position, kp, kd) and ``joint`` (J).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lm_reward_learning.deploy.policy import PolicyMismatchError
from lm_reward_learning.deploy.safety import JointCommand

FORWARD_LAYOUTS = ("position_kp_kd", "position")
FIELDS = ("position", "kp", "kd")


def command_order(policy_names: Sequence[str], command_joints: Sequence[str]) -> np.ndarray:
    """Index that puts policy-ordered values into the command array's joint order.

    Args:
        policy_names: The policy's joints, in order. Length J.
        command_joints: The forward controller's joints, in order; empty: the policy's order.

    Returns:
        ``values_policy[index]`` is in ``command_joints`` order. Shape: (J,).

    Raises:
        PolicyMismatchError: if the two lists do not hold the same joints (naming the differences).
    """
    if not command_joints:
        return np.arange(len(policy_names))
    missing = [n for n in policy_names if n not in command_joints]
    extra = [n for n in command_joints if n not in policy_names]
    if missing or extra or len(set(command_joints)) != len(command_joints):
        raise PolicyMismatchError(
            f"command_joints must list exactly the policy's joints once each: missing {missing}, not in the policy "
            f"{extra}; the policy's joints are {list(policy_names)}"
        )
    where = {n: i for i, n in enumerate(policy_names)}
    return np.array([where[n] for n in command_joints], dtype=np.int64)


def pack_forward(cmd: JointCommand, index: np.ndarray, layout: str) -> list[float]:
    """The forward command array of ``cmd`` (see the module docstring).

    Args:
        cmd: The command, policy order.
        index: From :func:`command_order`.
        layout: One of :data:`FORWARD_LAYOUTS`.

    Returns:
        J values (``position``) or 3J (``position_kp_kd``).

    Raises:
        ValueError: for an unknown layout.
    """
    if layout == "position":
        return cmd.positions[index].tolist()
    if layout == "position_kp_kd":
        return np.concatenate([cmd.positions[index], cmd.kp[index], cmd.kd[index]]).tolist()
    raise ValueError(f"unknown forward layout {layout!r}; use one of {FORWARD_LAYOUTS}")


def unpack_forward(data: Sequence[float], index: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Read a forward command array back into policy order (what a driver or the simulator does).

    Args:
        data: J values (positions) or 3J values (positions, kp, kd), command order.
        index: From :func:`command_order` (policy index of each command-array joint).

    Returns:
        ``(positions, kp, kd)``, policy order; ``kp``/``kd`` are None for the ``position`` layout.

    Raises:
        ValueError: if ``data`` has neither J nor 3J values.
    """
    j = index.shape[0]
    v = np.asarray(data, dtype=np.float64)
    if v.shape[0] not in (j, 3 * j):
        raise ValueError(
            f"a joint command needs {j} (positions) or {3 * j} (positions, kp, kd) values, got {v.shape[0]}"
        )
    out = [np.empty(j) for _ in range(v.shape[0] // j)]
    for k, arr in enumerate(out):
        arr[index] = v[k * j : (k + 1) * j]
    return out[0], (out[1] if len(out) == 3 else None), (out[2] if len(out) == 3 else None)
