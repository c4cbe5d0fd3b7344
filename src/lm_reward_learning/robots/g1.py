"""Unitree G1 humanoid (29 DoF, rev 1.0): constants for the vendored MJCF in ``assets/g1/``.

Actuated joints: all 29 (6 per leg, 3 waist, 7 per arm), in MJCF order, as in mjlab's G1 velocity
task and Unitree's 29-DoF G1 low-level interface. Why not legs + waist only with the arms held at
their default by servos: (a) the arms are servoed in MuJoCo either way, so the simulation cost is the
same, and a 29-dim action costs the policy MLP next to nothing; (b) arm swing is visible in the
expert videos the reward is learned from, so the policy must be able to move the arms to match them;
(c) every servo then has its constants in this one spec, with no second, hidden set of gains for the
held joints in the MJCF or the ONNX deploy file.

The ``legs`` joint group (``env.action_joints: legs``, the walking task of ``config/train/g1.yaml``) is
unitree_rl_gym's 12-DoF G1: the policy acts on the legs only, waist and arms stay at their default
angles (welded in the training model, which halves the physics cost; held by their servos, with the
gains above, on the robot and in ``mujoco_sim_node``; ``deploy.yaml`` lists them as ``held_joints``).

Sources:
    * MJCF, meshes: MuJoCo Menagerie ``unitree_g1`` (29-DoF rev 1.0, BSD-3-Clause, Unitree
      Robotics) as adapted in mjlab 1.6.0 (``mjlab/asset_zoo/robots/unitree_g1/xmls/g1.xml``:
      capsule foot and limb colliders, foot and IMU sites; Apache-2.0), vendored from the PyPI wheel
      ``mjlab==1.6.0`` by ``scripts/vendor_robot_assets.py``; ``assets/g1/PROVENANCE.md`` lists what
      was changed for fast CPU RL.
    * Motors (rotor inertias, gear ratios, effort limits "from Unitree"), armature, servo gains and
      the default (knees-bent) pose: mjlab 1.6.0 ``asset_zoo/robots/unitree_g1/g1_constants.py``
      (``G1_ARTICULATION``, ``KNEES_BENT_KEYFRAME``, which its G1 velocity task starts from). The
      gains put each joint's servo at a 10 Hz natural frequency with damping ratio 2 against the
      motor's reflected inertia (kp = I·ω², kd = 2·ζ·I·ω). Effort limits match Unitree's G1
      datasheet (knee 139 N·m maximum).
    * Action scale 0.25 rad: Unitree ``unitree_rl_gym`` G1 config (mjlab uses a per-joint scale,
      0.25 · effort / kp, between 0.07 and 0.55 rad; :class:`RobotSpec` has a single scale).
    * Heights and leg length: measured on the vendored model (see the comments at each value).

Frames: MuJoCo world frame, z up; the ``pelvis`` frame is x forward, y left, z up.
"""

from __future__ import annotations

import math
from pathlib import Path

from lm_reward_learning.robots.spec import RobotSpec

ASSET_DIR = Path(__file__).resolve().parent / "assets" / "g1"
"""Folder of the vendored G1 model (``g1.xml``, ``scene.xml``, meshes, licence, provenance)."""

_LEG = ("hip_pitch", "hip_roll", "hip_yaw", "knee", "ankle_pitch", "ankle_roll")
_ARM = ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_roll", "wrist_pitch", "wrist_yaw")

JOINT_NAMES = (
    *(f"left_{j}_joint" for j in _LEG),
    *(f"right_{j}_joint" for j in _LEG),
    "waist_yaw_joint",
    "waist_roll_joint",
    "waist_pitch_joint",
    *(f"left_{j}_joint" for j in _ARM),
    *(f"right_{j}_joint" for j in _ARM),
)
"""The 29 actuated joints in policy order (= MJCF order: left leg, right leg, waist, left arm, right arm)."""

LEG_JOINTS = JOINT_NAMES[:12]
"""The 12 leg joints (left leg, then right leg; hip pitch, roll, yaw, knee, ankle pitch, roll): the
``legs`` joint group, which unitree_rl_gym's 12-DoF G1 acts on while the upper body holds still."""

FOOT_SITES = ("left_foot", "right_foot")
"""Sites at the sole under each ankle (mjlab's foot sites), left then right."""

FOOT_BODIES = ("left_ankle_roll_link", "right_ankle_roll_link")
"""Bodies carrying the foot collision capsules, left then right."""


def _two_stage_planetary_inertia(rotor: tuple[float, float, float], gear: tuple[float, float, float]) -> float:
    """Reflected inertia at the output of a two-stage planetary gearbox, kg·m² (mjlab formula).

    ``rotor`` are the rotor and the two stages' inertias, kg·m²; ``gear`` the ratios (first is 1).
    """
    return rotor[0] * (gear[1] * gear[2]) ** 2 + rotor[1] * gear[2] ** 2 + rotor[2]


# Motor: (reflected inertia kg·m², effort limit N·m), from mjlab g1_constants ("from Unitree").
_MOTORS: dict[str, tuple[float, float]] = {
    "5020": (
        _two_stage_planetary_inertia((0.139e-4, 0.017e-4, 0.169e-4), (1, 1 + 46 / 18, 1 + 56 / 16)),
        25.0,
    ),
    "7520_14": (_two_stage_planetary_inertia((0.489e-4, 0.098e-4, 0.533e-4), (1, 4.5, 1 + 48 / 22)), 88.0),
    "7520_22": (_two_stage_planetary_inertia((0.489e-4, 0.109e-4, 0.738e-4), (1, 4.5, 5)), 139.0),
    "4010": (_two_stage_planetary_inertia((0.068e-4, 0.0, 0.0), (1, 5, 5)), 5.0),
}

# Joint (without side prefix and "_joint") -> (motor, number of motors). Waist pitch/roll and the
# ankles are 4-bar linkages driven by two 5020 motors; mjlab models them as 1:1 with both motors'
# inertia and effort summed.
_JOINT_MOTOR: dict[str, tuple[str, int]] = {
    "hip_pitch": ("7520_14", 1),
    "hip_roll": ("7520_22", 1),
    "hip_yaw": ("7520_14", 1),
    "knee": ("7520_22", 1),
    "ankle_pitch": ("5020", 2),
    "ankle_roll": ("5020", 2),
    "waist_yaw": ("7520_14", 1),
    "waist_roll": ("5020", 2),
    "waist_pitch": ("5020", 2),
    "shoulder_pitch": ("5020", 1),
    "shoulder_roll": ("5020", 1),
    "shoulder_yaw": ("5020", 1),
    "elbow": ("5020", 1),
    "wrist_roll": ("5020", 1),
    "wrist_pitch": ("4010", 1),
    "wrist_yaw": ("4010", 1),
}

_NATURAL_FREQ = 2.0 * math.pi * 10.0  # rad/s: mjlab's 10 Hz servo bandwidth
_DAMPING_RATIO = 2.0  # mjlab


def _joint_type(joint: str) -> str:
    """``"left_hip_pitch_joint"`` -> ``"hip_pitch"``."""
    return joint.removeprefix("left_").removeprefix("right_").removesuffix("_joint")


def _is_roll_or_yaw(joint: str) -> bool:
    """Whether ``joint`` turns about the x or z axis (its angle changes sign under the left-right mirror)."""
    return "roll" in joint or "yaw" in joint


def _motor(joint: str) -> tuple[float, float]:
    """(reflected inertia kg·m², effort limit N·m) of the motor(s) driving ``joint``."""
    motor, count = _JOINT_MOTOR[_joint_type(joint)]
    inertia, effort = _MOTORS[motor]
    return count * inertia, count * effort


ARMATURE: dict[str, float] = {j: _motor(j)[0] for j in JOINT_NAMES}
"""Joint armature (reflected rotor inertia), kg·m², by joint name; written into the MJCF."""

# mjlab KNEES_BENT_KEYFRAME joint positions, rad (unlisted joints are 0).
_DEFAULT_POS = {
    "hip_pitch": -0.312,
    "knee": 0.669,
    "ankle_pitch": -0.363,
    "elbow": 0.6,
    "shoulder_pitch": 0.2,
}

SPEC = RobotSpec(
    name="g1",
    kind="humanoid",
    mjcf_path=ASSET_DIR / "scene.xml",
    base_body="pelvis",
    joint_names=JOINT_NAMES,
    foot_sites=FOOT_SITES,
    foot_bodies=FOOT_BODIES,
    default_joint_pos={
        j: _DEFAULT_POS.get(_joint_type(j), 0.0)
        + (0.2 if j == "left_shoulder_roll_joint" else -0.2 if j == "right_shoulder_roll_joint" else 0.0)
        for j in JOINT_NAMES
    },
    kp={j: ARMATURE[j] * _NATURAL_FREQ**2 for j in JOINT_NAMES},
    kd={j: 2.0 * _DAMPING_RATIO * ARMATURE[j] * _NATURAL_FREQ for j in JOINT_NAMES},
    torque_limits={j: _motor(j)[1] for j in JOINT_NAMES},
    action_scale=0.25,
    # Feet touch the floor at pelvis height 0.757 m in the default pose; spawn 1.3 cm above that
    # (mjlab spawns at 0.76). Standing with the servos (plus an ankle balance loop: a passive G1 tips
    # over within ~1.5 s) the pelvis settles at 0.742-0.745 m (measured).
    init_base_height=0.77,
    nominal_base_height=0.74,
    # Pelvis this low means the robot is kneeling, sitting or lying (shin length is 0.30 m).
    min_base_height=0.4,
    # Hip-pitch-joint-to-sole distance, settled default pose (measured 0.648), m.
    leg_length=0.65,
    termination_bodies=("pelvis", "torso_link"),
    joint_groups={"legs": LEG_JOINTS},
    mirror={
        j: (j.replace("left", "@").replace("right", "left").replace("@", "right"), -1.0 if _is_roll_or_yaw(j) else 1.0)
        for j in JOINT_NAMES
    },
    sources={
        "mjcf": "MuJoCo Menagerie unitree_g1 (BSD-3-Clause) as adapted in mjlab 1.6.0 (Apache-2.0), "
        "PyPI wheel mjlab==1.6.0; adapted by scripts/vendor_robot_assets.py, see assets/g1/PROVENANCE.md",
        "joint_names": "MJCF joint names and order; all 29 joints (see module docstring)",
        "default_joint_pos": "mjlab g1_constants.KNEES_BENT_KEYFRAME",
        "kp": "mjlab g1_constants: armature * (2π·10 Hz)^2",
        "kd": "mjlab g1_constants: 2 · 2.0 · armature · 2π·10 Hz",
        "torque_limits": "mjlab g1_constants effort limits (Unitree motor data: 5020 25 N·m, "
        "7520-14 88 N·m, 7520-22 139 N·m, 4010 5 N·m; 2 motors on waist roll/pitch and ankles)",
        "armature": "mjlab g1_constants reflected inertia (two-stage planetary gearboxes)",
        "action_scale": "unitree_rl_gym G1 config (0.25); mjlab uses per-joint 0.25·effort/kp",
        "heights": "measured on the vendored MJCF (tests/robots/test_assets.py checks them)",
        "leg_length": "measured on the vendored MJCF in the default pose",
        "joint_groups": "legs: unitree_rl_gym's 12-DoF G1 (legged_gym/envs/g1/g1_config.py, num_actions 12); "
        "waist and arms then hold their default pose under the same servos",
        "mirror": "MJCF joint axes (the same on both sides): pitch joints turn about y (the mirror keeps the "
        "angle), roll about x and yaw about z (the mirror negates it)",
        "foot_sites": "mjlab g1.xml (left_foot / right_foot), resized to enclose the foot capsules",
    },
)
"""The G1 :class:`~lm_reward_learning.robots.spec.RobotSpec`."""
