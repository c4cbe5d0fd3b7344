"""Per-robot constants, as one frozen record per robot.

Each robot module (``go2.py``, ``g1.py``) builds one :class:`RobotSpec` from its datasheet and MJCF
sources; nothing else in the package holds joint names, foot names or gains (no magic strings in task
code, as in MuJoCo Playground's per-robot constants modules).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

ALL_JOINTS = "all"
"""The joint group of every actuated joint (:meth:`RobotSpec.acting`)."""


@dataclass(frozen=True)
class RobotSpec:
    """Constants of one robot model.

    Attributes:
        name: Registry name (``"go2"``, ``"g1"``).
        kind: ``"quadruped"`` or ``"humanoid"``.
        mjcf_path: Scene MJCF (robot + flat floor) to load with ``mujoco.MjModel.from_xml_path``.
        base_body: Name of the floating-base body in the MJCF.
        joint_names: Actuated joints in policy order; actions, ``joint_pos`` and ``joint_vel`` use this
            order. Actuators are mapped to these joints by name, never by index.
        foot_sites: MJCF site names at the foot contact points, in the order of the ``feet`` axis of
            :class:`~lm_reward_learning.reward.state.RewardState` (quadrupeds: FL, FR, RL, RR;
            humanoids: left, right).
        foot_bodies: Bodies whose contact with the floor counts as a foot contact, same order.
        default_joint_pos: Nominal standing pose, rad, by joint name.
        kp: Position-servo stiffness, N·m/rad, by joint name.
        kd: Position-servo damping, N·m·s/rad, by joint name.
        torque_limits: Actuator torque limits, N·m, by joint name (datasheet).
        action_scale: Action → joint target offset scale, rad per unit action.
        init_base_height: Base height at reset, m (slightly above standing height, so no
            penetration at reset).
        nominal_base_height: Standing base height, m (for rewards and fall detection).
        min_base_height: Episode ends (fall) when the base drops below this height, m.
        leg_length: Hip-to-foot length when standing, m (Froude number, gait features).
        termination_bodies: Bodies whose floor contact ends the episode (trunk, pelvis, ...).
        joint_groups: Named subsets of :attr:`joint_names` a policy may act on (``{"legs": (...)}``), each
            in policy order; ``"all"`` (every joint) is implicit. See :meth:`acting`.
        held_joints: Actuated joints the policy does not act on: their servos hold
            ``default_joint_pos`` with the same ``kp``/``kd`` (empty for the full robot; set by
            :meth:`acting`).
        mirror: Under the reflection through the sagittal (x-z) plane, joint -> (its mirror joint, sign):
            left <-> right, roll and yaw angles negated (empty: no symmetry augmentation, see
            :mod:`lm_reward_learning.envs.symmetry`).
        sources: Where each constant comes from (datasheet, MJCF, library).
    """

    name: str
    kind: str
    mjcf_path: Path
    base_body: str
    joint_names: tuple[str, ...]
    foot_sites: tuple[str, ...]
    foot_bodies: tuple[str, ...]
    default_joint_pos: dict[str, float]
    kp: dict[str, float]
    kd: dict[str, float]
    torque_limits: dict[str, float]
    action_scale: float
    init_base_height: float
    nominal_base_height: float
    min_base_height: float
    leg_length: float
    termination_bodies: tuple[str, ...] = ()
    joint_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    held_joints: tuple[str, ...] = ()
    mirror: dict[str, tuple[str, float]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def num_joints(self) -> int:
        """Number of actuated joints (the action dimension)."""
        return len(self.joint_names)

    @property
    def num_feet(self) -> int:
        """Number of feet (the ``feet`` axis of the reward state)."""
        return len(self.foot_sites)

    @property
    def servo_joints(self) -> tuple[str, ...]:
        """Every servoed joint: the acting :attr:`joint_names`, then :attr:`held_joints`."""
        return (*self.joint_names, *self.held_joints)

    def acting(self, group: str) -> RobotSpec:
        """This robot with the policy acting on joint group ``group`` only.

        The returned spec's :attr:`joint_names` are the group's joints (policy order: actions,
        ``joint_pos``, ``joint_vel``, the deploy file); the other joints become :attr:`held_joints`,
        servoed at their default angles (unitree_rl_gym's 12-DoF G1 acts on the legs only).

        Args:
            group: ``"all"`` (this spec unchanged) or a key of :attr:`joint_groups`.

        Raises:
            KeyError: if ``group`` is neither; the message lists the robot's groups.
        """
        if group == ALL_JOINTS:
            return self
        if group not in self.joint_groups:
            known = ", ".join([ALL_JOINTS, *sorted(self.joint_groups)])
            raise KeyError(f"robot {self.name!r} has no joint group {group!r}; its groups: {known}")
        acting = self.joint_groups[group]
        held = tuple(j for j in self.servo_joints if j not in acting)
        return dataclasses.replace(self, joint_names=tuple(acting), held_joints=held)

    def per_joint(self, table: dict[str, float]) -> list[float]:
        """Return ``table``'s values in policy joint order.

        Raises:
            KeyError: if ``table`` lacks a joint of :attr:`joint_names`.
        """
        return [float(table[j]) for j in self.joint_names]
