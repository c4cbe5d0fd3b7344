"""``unitree_g1_bridge``: ``policy_controller``'s joint commands to a Unitree G1 (29 DoF), its low state back to ROS.

``unitree_hg/msg/LowCmd`` on ``/lowcmd`` in the G1's motor order (unitree_sdk2's ``G1JointIndex``: left leg, right
leg, waist, left arm, right arm; 0-28), with ``mode_pr`` 0 (ankles as pitch/roll, the MJCF's joints), the
``mode_machine`` of the latest LowState, enabled motors (mode 1) and the firmware's CRC, at 500 Hz (the 2 ms
period of unitree_sdk2's G1 low-level examples); ``/lowstate`` → ``joint_states``, ``imu/data`` (the pelvis IMU) and
``joy`` (the wireless remote). Nothing is sent before the first LowState. Hang the G1 on its gantry for every
low-level session: passive and damping leave it limp. The node is
:class:`lm_reward_learning.ros.unitree_bridge.UnitreeBridge`; parameters:
:data:`lm_reward_learning.ros.node_params.UNITREE_G1_BRIDGE` and ``config/ros/unitree_g1_bridge.yaml``.
"""

from __future__ import annotations

from lm_reward_learning.ros.unitree_bridge import run


def main(args: list[str] | None = None) -> None:
    """Run the G1 bridge until Ctrl-C or SIGTERM (damping sent before exiting if it was commanding)."""
    run("g1", args)


if __name__ == "__main__":
    main()
