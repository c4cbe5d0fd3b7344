"""Load a robot's MuJoCo model and map the spec's names to model indices.

Everything here maps by name, never by index order: actuator and joint order differ between model
versions (e.g. the menagerie Go2 has been reordered), and the policy order is the spec's
:attr:`~lm_reward_learning.robots.spec.RobotSpec.joint_names`.

Conventions of the vendored MJCFs (``scripts/vendor_robot_assets.py``): each actuated joint is
driven by one position servo named exactly like the joint; each foot site ``<site>`` has a touch
sensor ``<site>_touch``.
"""

from __future__ import annotations

import mujoco
import numpy as np

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.robots.spec import RobotSpec

FLOOR_GEOM = "floor"
"""Name of the floor plane geom in every robot's ``scene.xml``."""

TOUCH_SUFFIX = "_touch"
"""A foot site ``s`` has the touch sensor ``s + TOUCH_SUFFIX`` (normal contact force, N)."""


class RobotModelError(LmrlError, ValueError):
    """The MJCF does not match its :class:`RobotSpec` (missing or mis-wired actuator, joint, site, ...)."""


def _ids(model: mujoco.MjModel, obj: mujoco.mjtObj, names: tuple[str, ...], what: str, spec: RobotSpec) -> np.ndarray:
    """Model ids of ``names`` (objects of type ``obj``), in the given order.

    Raises:
        RobotModelError: if a name is not in the model.
    """
    ids = np.array([mujoco.mj_name2id(model, obj, n) for n in names], dtype=np.int64)
    missing = [n for n, i in zip(names, ids, strict=True) if i < 0]
    if missing:
        raise RobotModelError(
            f"robot {spec.name!r}: {what} {missing} not found in {spec.mjcf_path}. The MJCF and the spec "
            f"in lm_reward_learning/robots/{spec.name}.py must use the same names; re-run "
            "scripts/vendor_robot_assets.py or fix the spec."
        )
    return ids


def actuator_ids(model: mujoco.MjModel, spec: RobotSpec, names: tuple[str, ...] | None = None) -> np.ndarray:
    """Actuator ids in policy joint order (each actuator is named like its joint).

    Args:
        model: The compiled model.
        spec: The robot.
        names: Joints to look up instead of ``spec.joint_names`` (``spec.held_joints``, ...).

    Returns:
        Integer array, shape (len(names),): ``model.actuator(...)`` index of joint ``names[i]``;
        index ``data.ctrl`` with it.

    Raises:
        RobotModelError: if an actuator is missing or does not drive the joint of the same name.
    """
    names = spec.joint_names if names is None else tuple(names)
    act = _ids(model, mujoco.mjtObj.mjOBJ_ACTUATOR, names, "actuators", spec)
    jnt = _ids(model, mujoco.mjtObj.mjOBJ_JOINT, names, "joints", spec)
    for name, a, j in zip(names, act, jnt, strict=True):
        if model.actuator_trntype[a] != mujoco.mjtTrn.mjTRN_JOINT or model.actuator_trnid[a, 0] != j:
            raise RobotModelError(
                f"robot {spec.name!r}: actuator {name!r} in {spec.mjcf_path} does not drive joint {name!r}; "
                "each actuator must be named exactly like the joint it drives."
            )
    return act


def joint_qpos_adr(model: mujoco.MjModel, spec: RobotSpec, names: tuple[str, ...] | None = None) -> np.ndarray:
    """Addresses of the actuated joints (or of ``names``) in ``data.qpos``, policy order. Shape: (num_joints,).

    Raises:
        RobotModelError: if a joint is missing.
    """
    names = spec.joint_names if names is None else tuple(names)
    return model.jnt_qposadr[_ids(model, mujoco.mjtObj.mjOBJ_JOINT, names, "joints", spec)].copy()


def joint_dof_adr(model: mujoco.MjModel, spec: RobotSpec) -> np.ndarray:
    """Addresses of the actuated joints in ``data.qvel`` / ``qfrc_*``, policy order. Shape: (num_joints,).

    Raises:
        RobotModelError: if a joint is missing.
    """
    return model.jnt_dofadr[_ids(model, mujoco.mjtObj.mjOBJ_JOINT, spec.joint_names, "joints", spec)].copy()


def foot_site_ids(model: mujoco.MjModel, spec: RobotSpec) -> np.ndarray:
    """Site ids of ``spec.foot_sites`` (index ``data.site_xpos``, world frame, m). Shape: (num_feet,).

    Raises:
        RobotModelError: if a site is missing.
    """
    return _ids(model, mujoco.mjtObj.mjOBJ_SITE, spec.foot_sites, "foot sites", spec)


def foot_touch_adr(model: mujoco.MjModel, spec: RobotSpec) -> np.ndarray:
    """Addresses in ``data.sensordata`` of the feet's touch sensors (normal force, N). Shape: (num_feet,).

    Raises:
        RobotModelError: if a touch sensor is missing.
    """
    names = tuple(s + TOUCH_SUFFIX for s in spec.foot_sites)
    return model.sensor_adr[_ids(model, mujoco.mjtObj.mjOBJ_SENSOR, names, "touch sensors", spec)].copy()


def apply_servo_gains(model: mujoco.MjModel, spec: RobotSpec) -> None:
    """Set every servo's gains and torque limit (acting joints, and held joints not welded), in place.

    Actuator ``j`` becomes ``force = clip(kp·(ctrl − q) − kd·q̇, ±torque_limit)``: gain
    ``[kp]``, bias ``[0, −kp, −kd]`` (MuJoCo affine bias), force range ``±torque_limit``.

    Raises:
        RobotModelError: if an actuator is missing or mis-wired, or a joint lacks a gain or limit.
    """
    # held joints welded by weld_held_joints have no servo left
    held = tuple(j for j in spec.held_joints if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, j) >= 0)
    joints = (*spec.joint_names, *held)
    act = actuator_ids(model, spec, joints)
    for table, what in ((spec.kp, "kp"), (spec.kd, "kd"), (spec.torque_limits, "torque_limits")):
        missing = [j for j in joints if j not in table]
        if missing:
            raise RobotModelError(f"robot {spec.name!r}: spec.{what} has no value for joints {missing}.")
    kp = np.asarray([spec.kp[j] for j in joints])
    kd = np.asarray([spec.kd[j] for j in joints])
    tau = np.asarray([spec.torque_limits[j] for j in joints])
    model.actuator_dyntype[act] = mujoco.mjtDyn.mjDYN_NONE
    model.actuator_gaintype[act] = mujoco.mjtGain.mjGAIN_FIXED
    model.actuator_biastype[act] = mujoco.mjtBias.mjBIAS_AFFINE
    model.actuator_gainprm[act] = 0.0
    model.actuator_biasprm[act] = 0.0
    model.actuator_gainprm[act, 0] = kp
    model.actuator_biasprm[act, 1] = -kp
    model.actuator_biasprm[act, 2] = -kd
    model.actuator_forcelimited[act] = 1
    model.actuator_forcerange[act, 0] = -tau
    model.actuator_forcerange[act, 1] = tau


def weld_held_joints(mjspec: mujoco.MjSpec, spec: RobotSpec) -> None:
    """Fix ``spec.held_joints`` at their default angles in ``mjspec``: each joint and its servo are deleted,
    its child body turned by the default angle about the joint axis, in place.

    The upper body of unitree_rl_gym's 12-DoF G1 is rigid in the same way (its ``g1_12dof`` URDF has
    fixed joints there). The held joints' servos hold them within a fraction of a degree of the default
    pose on the robot, and the physics then costs half as much (G1: 18 instead of 35 degrees of
    freedom; ``benchmarks/bench_env.py``). Keyframes are deleted (their ``qpos`` no longer fits).

    Raises:
        RobotModelError: a held joint is not a hinge or not at its body's origin (then turning the body
            would not reproduce the joint's motion).
    """
    held = set(spec.held_joints)
    for act in list(mjspec.actuators):
        if act.target in held:
            mjspec.delete(act)
    for body in mjspec.bodies:
        for joint in list(body.joints):
            if joint.name not in held:
                continue
            if joint.type != mujoco.mjtJoint.mjJNT_HINGE or np.any(np.asarray(joint.pos) != 0.0):
                raise RobotModelError(
                    f"robot {spec.name!r}: held joint {joint.name!r} is not a hinge at its body's origin; "
                    "it cannot be welded at its default angle."
                )
            turn = np.zeros(4)
            axis = np.asarray(joint.axis, dtype=np.float64)
            mujoco.mju_axisAngle2Quat(turn, axis / np.linalg.norm(axis), float(spec.default_joint_pos[joint.name]))
            quat = np.zeros(4)
            mujoco.mju_mulQuat(quat, np.asarray(body.quat, dtype=np.float64), turn)
            body.quat = quat
            mjspec.delete(joint)
    for key in list(mjspec.keys):
        mjspec.delete(key)


def load_model(spec: RobotSpec) -> mujoco.MjModel:
    """Load the robot's scene (robot + floor) and set its servos from the spec.

    The spec, not the MJCF, is the source of truth for kp, kd and torque limits (they also go into
    the ONNX deploy file), so they are written onto the compiled model here, by actuator name.

    Returns:
        The compiled model (timestep, solver and contact settings as in the MJCF).

    Raises:
        RobotModelError: if the MJCF file is missing or does not match the spec.
    """
    if not spec.mjcf_path.is_file():
        raise RobotModelError(
            f"robot {spec.name!r}: MJCF {spec.mjcf_path} not found; re-run scripts/vendor_robot_assets.py."
        )
    model = mujoco.MjModel.from_xml_path(str(spec.mjcf_path))
    apply_servo_gains(model, spec)
    return model
