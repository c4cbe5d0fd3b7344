"""A robot in MuJoCo that takes joint commands and reads out like a robot driver (for sim-to-sim checks).

:class:`SimRobot` loads the robot's scene exactly as training does (:func:`~lm_reward_learning.robots.load_model`:
same MJCF, timestep, contact settings and torque limits), places it standing in the default pose, and
then only does what hardware does: each actuator tracks the last commanded target with the last
commanded gains, ``tau = clip(kp (q* - q) + kd (q_dot* - q_dot), ±torque_limit)`` (MuJoCo's built-in
position servo, so no Python runs between physics steps), and the state is read out as a driver
publishes it: joint positions, velocities and torques, and an IMU at the base (orientation of the base
in the world as ``x, y, z, w``; angular velocity in the base frame; specific force in the base frame,
REP 145), plus the ground-truth base pose and twist a simulator can offer as odometry.

``mujoco_sim_node`` wraps it in ROS topics; pacing (real time, faster, lockstep) is the node's job.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from lm_reward_learning.robots import actuator_ids, joint_dof_adr, joint_qpos_adr, load_model
from lm_reward_learning.robots.spec import RobotSpec
from lm_reward_learning.rotations import quat_to_rotmat, yaw_quat

log = logging.getLogger(__name__)

GRAVITY = 9.81
"""Standard gravity, m/s² (the vendored scenes use MuJoCo's default ``(0, 0, -9.81)``)."""


@dataclass(frozen=True)
class ImuReading:
    """What an IMU at the base measures.

    Attributes:
        quat_xyzw: Orientation of the base in the world, x, y, z, w (ROS order). Shape: (4,).
        ang_vel_b: Angular velocity, base frame, rad/s. Shape: (3,).
        lin_acc_b: Specific force (acceleration minus gravity), base frame, m/s²; ``(0, 0, 9.81)`` at
            rest. Shape: (3,).
    """

    quat_xyzw: np.ndarray
    ang_vel_b: np.ndarray
    lin_acc_b: np.ndarray


class SimRobot:
    """One robot simulated in MuJoCo, driven by joint position targets with PD gains.

    Args:
        spec: The robot (model, joint names, default pose, gains, torque limits).
        joint_pos: Initial joint positions in ``spec.joint_names`` order, rad; default: the default pose.
        base_height: Initial base height, m; default: ``spec.init_base_height`` (just above standing).
        yaw: Initial heading, rad.

    Raises:
        lm_reward_learning.robots.RobotModelError: if the model does not match the spec.

    Attributes:
        model: The compiled model (gains written per command).
        data: The simulation state.
        joint_names: Policy joint order (``spec.joint_names``); the commanded and returned arrays use it.
        driver_joint_names: The actuated joints in the model's own order (as a driver would list them).
        physics_dt: Physics step, s.
    """

    def __init__(
        self,
        spec: RobotSpec,
        *,
        joint_pos: Sequence[float] | None = None,
        base_height: float | None = None,
        yaw: float = 0.0,
    ) -> None:
        self.spec = spec
        self.model = load_model(spec)
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.joint_names = tuple(spec.joint_names)
        self.physics_dt = float(m.opt.timestep)
        self._act = np.asarray(actuator_ids(m, spec))
        self._qadr = np.asarray(joint_qpos_adr(m, spec))
        self._dadr = np.asarray(joint_dof_adr(m, spec))
        jids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n) for n in self.joint_names]
        self.driver_joint_names = tuple(n for _, n in sorted(zip(jids, self.joint_names, strict=True)))
        base_id = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
        free = m.body_jntadr[base_id]
        self._bq = int(m.jnt_qposadr[free])
        self._bd = int(m.jnt_dofadr[free])
        self.default_joint_pos = np.asarray(spec.per_joint(spec.default_joint_pos))
        self.default_kp = np.asarray(spec.per_joint(spec.kp))
        self.default_kd = np.asarray(spec.per_joint(spec.kd))
        self._lin_acc_w = np.array([0.0, 0.0, 0.0])
        self.reset(joint_pos=joint_pos, base_height=base_height, yaw=yaw)

    def reset(
        self,
        *,
        joint_pos: Sequence[float] | None = None,
        base_height: float | None = None,
        yaw: float = 0.0,
        keep_time: bool = False,
    ) -> None:
        """Place the robot at rest (as training's reset does) and hold the pose with the default gains.

        Args:
            joint_pos: Joint positions, policy order, rad; default: the default pose.
            base_height: Base height, m; default: ``spec.init_base_height``.
            yaw: Heading, rad.
            keep_time: Keep the simulated time running on (a clock that jumps back confuses ``/clock``
                and TF consumers); else it restarts at 0.
        """
        t = self.data.time
        mujoco.mj_resetData(self.model, self.data)
        if keep_time:
            self.data.time = t
        q = self.data.qpos
        q[self._bq : self._bq + 3] = [0.0, 0.0, self.spec.init_base_height if base_height is None else base_height]
        q[self._bq + 3 : self._bq + 7] = yaw_quat(np.array([yaw]))[0]
        pos = self.default_joint_pos if joint_pos is None else np.asarray(joint_pos, dtype=np.float64)
        q[self._qadr] = pos
        self.data.qvel[:] = 0.0
        self.command(pos, self.default_kp, self.default_kd)
        mujoco.mj_forward(self.model, self.data)
        self._lin_acc_w[:] = 0.0

    def command(
        self,
        positions: Sequence[float],
        kp: Sequence[float] | None = None,
        kd: Sequence[float] | None = None,
        velocities: Sequence[float] | None = None,
    ) -> None:
        """Set the joint targets and gains the servos track from now on (policy joint order).

        Args:
            positions: Target positions, rad. Shape: (J,).
            kp: Position gains, N·m/rad; None keeps the current ones. Shape: (J,).
            kd: Damping gains, N·m·s/rad; None keeps the current ones. Shape: (J,).
            velocities: Target velocities, rad/s; None: zero. Shape: (J,).
        """
        m, a = self.model, self._act
        if kp is not None:
            kp = np.asarray(kp, dtype=np.float64)
            m.actuator_gainprm[a, 0] = kp
            m.actuator_biasprm[a, 1] = -kp
        if kd is not None:
            m.actuator_biasprm[a, 2] = -np.asarray(kd, dtype=np.float64)
        # tau = kp ctrl + b0 - kp q - kd q_dot with b0 = kd q_dot*: the servo's damping tracks q_dot*.
        m.actuator_biasprm[a, 0] = 0.0 if velocities is None else -m.actuator_biasprm[a, 2] * np.asarray(velocities)
        self.data.ctrl[a] = np.asarray(positions, dtype=np.float64)

    def step(self, n: int = 1) -> None:
        """Advance ``n`` physics steps (``n * physics_dt`` seconds)."""
        v0 = self.data.qvel[self._bd : self._bd + 3].copy()
        t0 = self.data.time
        for _ in range(n):
            mujoco.mj_step(self.model, self.data)
        dt = self.data.time - t0
        if dt > 0:
            self._lin_acc_w = (self.data.qvel[self._bd : self._bd + 3] - v0) / dt

    # ------------------------------------------------------------------ read-out
    @property
    def time_s(self) -> float:
        """Simulated time since the reset, s."""
        return float(self.data.time)

    @property
    def joint_pos(self) -> np.ndarray:
        """Joint positions, policy order, rad. Shape: (J,)."""
        return self.data.qpos[self._qadr].copy()

    @property
    def joint_vel(self) -> np.ndarray:
        """Joint velocities, policy order, rad/s. Shape: (J,)."""
        return self.data.qvel[self._dadr].copy()

    @property
    def joint_effort(self) -> np.ndarray:
        """Actuator torques of the last physics step, policy order, N·m. Shape: (J,)."""
        return self.data.actuator_force[self._act].copy()

    @property
    def base_pos_w(self) -> np.ndarray:
        """Base position, world frame, m. Shape: (3,)."""
        return self.data.qpos[self._bq : self._bq + 3].copy()

    @property
    def base_quat_wxyz(self) -> np.ndarray:
        """Base orientation in the world, w, x, y, z (MuJoCo order), unit. Shape: (4,)."""
        q = self.data.qpos[self._bq + 3 : self._bq + 7]
        return q / np.linalg.norm(q)

    @property
    def base_lin_vel_w(self) -> np.ndarray:
        """Base linear velocity, world frame, m/s. Shape: (3,)."""
        return self.data.qvel[self._bd : self._bd + 3].copy()

    @property
    def base_ang_vel_b(self) -> np.ndarray:
        """Base angular velocity, base frame, rad/s (MuJoCo's free joint keeps it in the body frame). Shape: (3,)."""
        return self.data.qvel[self._bd + 3 : self._bd + 6].copy()

    def base_rotation(self) -> np.ndarray:
        """Rotation matrix of the base, ``v_w = R v_b``. Shape: (3, 3)."""
        return quat_to_rotmat(self.base_quat_wxyz[None])[0]

    def base_lin_vel_b(self) -> np.ndarray:
        """Base linear velocity, base frame, m/s. Shape: (3,)."""
        return self.base_rotation().T @ self.base_lin_vel_w

    def imu(self) -> ImuReading:
        """The IMU reading at the base (REP 145 conventions)."""
        w, x, y, z = self.base_quat_wxyz
        rot = self.base_rotation()
        lin_acc_b = rot.T @ (self._lin_acc_w + np.array([0.0, 0.0, GRAVITY]))
        return ImuReading(np.array([x, y, z, w]), self.base_ang_vel_b, lin_acc_b)

    def body_poses(self) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
        """Every body below the base in its parent's frame (the robot's TF tree; URDF links have these names).

        Returns:
            ``(names, pos, quat_wxyz)``: ``[(body, parent)]``, positions in the parent's frame, m, shape
            (B, 3), and orientations (w, x, y, z), shape (B, 4).
        """
        m, d = self.model, self.data
        if not hasattr(self, "_tree"):
            base = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, self.spec.base_body)
            ids = [b for b in range(1, m.nbody) if b != base and _below(m, b, base)]
            self._tree = (ids, [(m.body(b).name, m.body(int(m.body_parentid[b])).name) for b in ids])
        ids, names = self._tree
        parents = m.body_parentid[ids]
        conj = d.xquat[parents] * np.array([1.0, -1.0, -1.0, -1.0])
        pos = np.empty((len(ids), 3))
        quat = np.empty((len(ids), 4))
        for k, (b, p) in enumerate(zip(ids, parents, strict=True)):
            mujoco.mju_rotVecQuat(pos[k], d.xpos[b] - d.xpos[p], conj[k])
            mujoco.mju_mulQuat(quat[k], conj[k], d.xquat[b])
        return names, pos, quat

    def fallen(self) -> bool:
        """Whether the robot is down as training's termination defines it (base too low or tilted > 60°)."""
        grav_z = -self.base_rotation()[2, 2]  # projected gravity's z in the base frame
        return bool(self.base_pos_w[2] < self.spec.min_base_height or grav_z > -0.5)


def _below(model: mujoco.MjModel, body: int, root: int) -> bool:
    """Whether ``body`` is ``root`` or one of its descendants."""
    while body > 0:
        if body == root:
            return True
        body = int(model.body_parentid[body])
    return False
