"""Robot registry and MuJoCo model helpers.

Each robot is one constants module (``go2.py``, ``g1.py``) defining a frozen
:class:`~lm_reward_learning.robots.spec.RobotSpec` ``SPEC``, plus a vendored model folder
``assets/<name>/`` (MJCF, ``scene.xml``, decimated meshes, ``LICENSE``, ``PROVENANCE.md``) written by
``scripts/vendor_robot_assets.py``. Task code gets names and constants from the spec only.

To add a robot: vendor its MJCF into ``assets/<name>/`` (position servos named like their joints,
foot sites with ``<site>_touch`` sensors, a ``scene.xml``), write ``<name>.py`` with its ``SPEC``,
and add it to :data:`ROBOTS`; ``tests/robots/test_assets.py`` then checks it.
"""

from __future__ import annotations

from lm_reward_learning.errors import UnknownRobotError
from lm_reward_learning.robots import g1, go2
from lm_reward_learning.robots.model import (
    FLOOR_GEOM,
    TOUCH_SUFFIX,
    RobotModelError,
    actuator_ids,
    apply_servo_gains,
    foot_site_ids,
    foot_touch_adr,
    joint_dof_adr,
    joint_qpos_adr,
    load_model,
)
from lm_reward_learning.robots.spec import RobotSpec

ROBOTS: dict[str, RobotSpec] = {spec.name: spec for spec in (go2.SPEC, g1.SPEC)}
"""Registered robots by name."""


def get_robot(name: str) -> RobotSpec:
    """Return the spec of robot ``name``.

    Raises:
        UnknownRobotError: if ``name`` is not registered; the message lists the known robots.
    """
    try:
        return ROBOTS[name]
    except KeyError:
        raise UnknownRobotError(
            f"unknown robot {name!r}; known robots: {', '.join(sorted(ROBOTS))}. To add one, write "
            "lm_reward_learning/robots/<name>.py with a RobotSpec SPEC and its assets/<name>/ folder, "
            "and register it in ROBOTS in lm_reward_learning/robots/__init__.py."
        ) from None


__all__ = [
    "FLOOR_GEOM",
    "ROBOTS",
    "TOUCH_SUFFIX",
    "RobotModelError",
    "RobotSpec",
    "actuator_ids",
    "apply_servo_gains",
    "foot_site_ids",
    "foot_touch_adr",
    "get_robot",
    "joint_dof_adr",
    "joint_qpos_adr",
    "load_model",
]
