"""Joint ranges of a registered robot's model, for clamping a policy's joint targets (needs ``mujoco``)."""

from __future__ import annotations

import mujoco
import numpy as np

from lm_reward_learning.robots import RobotModelError, get_robot, load_model


def robot_joint_limits(robot: str, joint_names: tuple[str, ...], margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Joint ranges of a registered robot's MJCF, shrunk by ``margin``, in ``joint_names`` order.

    Args:
        robot: Registered robot name (``DeployFacts.robot``).
        joint_names: Joints, in the order wanted.
        margin: Distance kept from each end of the range, rad.

    Returns:
        ``(lower, upper)``, rad; ``-inf``/``inf`` for joints without a range. Shapes: (J,).

    Raises:
        lm_reward_learning.errors.UnknownRobotError: if ``robot`` is not registered.
        lm_reward_learning.robots.RobotModelError: if a joint is not in the model.
    """
    spec = get_robot(robot)
    model = load_model(spec)
    lower, upper = np.full(len(joint_names), -np.inf), np.full(len(joint_names), np.inf)
    for i, name in enumerate(joint_names):
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if jid < 0:
            raise RobotModelError(f"joint {name!r} of the policy is not in robot {robot!r}'s model {spec.mjcf_path}")
        if model.jnt_limited[jid]:
            lo, hi = model.jnt_range[jid]
            lower[i], upper[i] = lo + margin, hi - margin
    return lower, upper
