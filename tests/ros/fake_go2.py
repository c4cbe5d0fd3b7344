"""A fake Unitree Go2 for the bridge tests: speaks ``unitree_go/msg/LowCmd`` / ``LowState`` and checks the CRC.

Run with ``.venv-ros/bin/python`` (real rclpy and a ``unitree_go`` package); never imported by pytest. What a
Go2's firmware does with ``/lowcmd``, as far as the bridge can tell: a command whose ``head``,
``level_flag`` or ``crc`` (:func:`lm_reward_learning.deploy.unitree.low_cmd_crc`) is wrong is dropped and
counted; a valid one sets each motor's target and gains. Its motors are not physics: each joint moves
towards its target with a 20 ms time constant while ``kp > 0`` and stays put at ``kp = 0``; estimated
torque ``kp (q* - q) + kd (0 - dq)``. ``/lowstate`` goes out every 2 ms with those joints (Unitree order),
an IMU rolled by 0.1 rad (``w, x, y, z``), foot forces 10, 20, 30, 40 (FR, FL, RR, RL) and the remote
holding L2 + up with the left stick at (0.5 right, 0.25 up). On SIGINT it writes what it saw to ``--out``
(JSON): valid and rejected commands and why, the command rate, and the last target, kp and kd per motor.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from unitree_go.msg import LowCmd, LowState

from lm_reward_learning.deploy import unitree
from lm_reward_learning.robots import get_robot

TIME_CONSTANT_S = 0.02
ROLL = 0.1
FOOT_FORCE = (10, 20, 30, 40)
REMOTE = unitree.Remote({"l2": True, "up": True}, lx=0.5, ly=0.25, rx=0.0, ry=0.0, l2=1.0)


class FakeGo2(Node):
    def __init__(self, namespace: str, lowcmd: str, lowstate: str) -> None:
        super().__init__("fake_go2", namespace=namespace)
        spec = get_robot("go2")
        default = dict(zip(spec.joint_names, spec.per_joint(spec.default_joint_pos), strict=True))
        self.q = np.array([default[n] for n in unitree.GO2_MOTORS])
        self.target = self.q.copy()
        self.kp = np.zeros(12)
        self.kd = np.zeros(12)
        self.valid = 0
        self.rejected: dict[str, int] = {}
        self.times: list[float] = []
        self.create_subscription(LowCmd, lowcmd, self._on_cmd, 10)
        self.pub = self.create_publisher(LowState, lowstate, 10)
        self.state = LowState()
        self.state.imu_state.quaternion = [math.cos(ROLL / 2), math.sin(ROLL / 2), 0.0, 0.0]
        self.state.imu_state.accelerometer = [0.0, 0.0, 9.81]
        self.state.foot_force = list(FOOT_FORCE)
        self.state.wireless_remote = list(unitree.encode_remote(REMOTE))
        self.create_timer(0.002, self._tick)
        self.get_logger().info(f"ready: fake Go2 on {self.resolve_topic_name(lowcmd)}")

    def _on_cmd(self, msg: LowCmd) -> None:
        why = None
        if list(msg.head) != list(unitree.HEAD) or msg.level_flag != unitree.LEVEL_LOW:
            why = f"header {list(msg.head)} level {msg.level_flag}"
        elif msg.crc != unitree.low_cmd_crc(msg):
            why = "crc"
        if why is not None:
            self.rejected[why] = self.rejected.get(why, 0) + 1
            return
        self.valid += 1
        self.times.append(time.monotonic())
        for i in range(12):
            m = msg.motor_cmd[i]
            self.target[i], self.kp[i], self.kd[i] = m.q, m.kp, m.kd

    def _tick(self) -> None:
        alpha = 1.0 - math.exp(-0.002 / TIME_CONSTANT_S)
        moving = self.kp > 0
        dq = np.where(moving, (self.target - self.q) * alpha / 0.002, 0.0)
        self.q = self.q + dq * 0.002
        tau = np.where(moving, self.kp * (self.target - self.q) - self.kd * dq, 0.0).tolist()
        q, v = self.q.tolist(), dq.tolist()
        for i, s in enumerate(self.state.motor_state[:12]):
            s.q, s.dq, s.tau_est = q[i], v[i], tau[i]
        self.state.tick = int(time.monotonic() * 1000) & 0xFFFFFFFF
        self.pub.publish(self.state)

    def report(self) -> dict:
        t = np.asarray(self.times)
        steady = t[len(t) // 4 :]  # after start-up
        rate = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 2 else 0.0
        return {
            "valid": self.valid,
            "rejected": self.rejected,
            "rate_hz": rate,
            "target": self.target.tolist(),
            "kp": self.kp.tolist(),
            "kd": self.kd.tolist(),
            "motors": list(unitree.GO2_MOTORS),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--namespace", default="/")
    ap.add_argument("--lowcmd", default="lowcmd")
    ap.add_argument("--lowstate", default="lowstate")
    args = ap.parse_args()
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = FakeGo2(args.namespace, args.lowcmd, args.lowstate)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while rclpy.ok() and not stop.is_set():
            executor.spin_once(timeout_sec=0.1)
    finally:
        Path(args.out).write_text(json.dumps(node.report()))
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
