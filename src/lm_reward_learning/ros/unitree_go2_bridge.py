"""``unitree_go2_bridge``: ``policy_controller``'s joint commands to a Unitree Go2, its low state back as ROS topics.

``unitree_go/msg/LowCmd`` on ``/lowcmd`` in the Go2's motor order (FR, FL, RR, RL legs, each hip, thigh, calf), with
the header (0xFE 0xEF), ``level_flag`` (0xFF), motor mode (0x01) and stop values of unitree_sdk2's ``go2_low_level``
example and the firmware's CRC, at 500 Hz; ``/lowstate`` → ``joint_states``, ``imu/data``, ``foot_force`` (FL, FR,
RL, RR) and ``joy`` (the wireless remote). The node is :class:`lm_reward_learning.ros.unitree_bridge.UnitreeBridge`
(see its module for the whole behaviour); parameters:
:data:`lm_reward_learning.ros.node_params.UNITREE_GO2_BRIDGE` and ``config/ros/unitree_go2_bridge.yaml``.
"""

from __future__ import annotations

from lm_reward_learning.ros.unitree_bridge import run


def main(args: list[str] | None = None) -> None:
    """Run the Go2 bridge until Ctrl-C or SIGTERM (damping sent before exiting if it was commanding)."""
    run("go2", args)


if __name__ == "__main__":
    main()
