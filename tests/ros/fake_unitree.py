"""A fake Unitree Go2 or G1 for the bridge tests: speaks their LowCmd / LowState and checks the CRC.

Run with ``.venv-ros/bin/python`` (real rclpy and the ``unitree_go`` / ``unitree_hg`` packages); never imported by
pytest. What the robot's firmware does with ``/lowcmd``, as far as the bridge can tell: a command whose header
(Go2: ``head``, ``level_flag``; G1: ``mode_machine`` not the one this robot reports), or ``crc``
(:func:`lm_reward_learning.deploy.unitree.low_cmd_crc` / ``hg_low_cmd_crc``) is wrong is dropped and counted; a
valid one sets each motor's target and gains. Its motors are not physics: each joint moves towards its target with
a 20 ms time constant while ``kp > 0`` and stays put at ``kp = 0``; estimated torque ``kp (q* - q) - kd dq``.
``/lowstate`` goes out every 2 ms with those joints (Unitree order, starting at the robot's default pose), an IMU
rolled by 0.1 rad (``w, x, y, z``), for the Go2 foot forces 10, 20, 30, 40 (FR, FL, RR, RL), for the G1
``mode_machine`` 5, and the remote holding L2 + up with the left stick at (0.5 right, 0.25 up). On SIGINT it writes
what it saw to ``--out`` (JSON): valid and rejected commands and why, the command rate, and the last target, kp and
kd per motor.
"""

from __future__ import annotations

import argparse
import importlib
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

from lm_reward_learning.deploy import unitree
from lm_reward_learning.robots import get_robot

TIME_CONSTANT_S = 0.02
ROLL = 0.1
FOOT_FORCE = (10, 20, 30, 40)
MODE_MACHINE = 5
REMOTE = unitree.Remote({"l2": True, "up": True}, lx=0.5, ly=0.25, rx=0.0, ry=0.0, l2=1.0)


class FakeUnitree(Node):
    def __init__(self, robot: str, namespace: str, lowcmd: str, lowstate: str) -> None:
        super().__init__(f"fake_{robot}", namespace=namespace)
        self.robot = r = unitree.UNITREE_ROBOTS[robot]
        msgs = importlib.import_module(f"{r.package}.msg")
        spec = get_robot(robot)
        default = dict(zip(spec.joint_names, spec.per_joint(spec.default_joint_pos), strict=True))
        self.n = len(r.motors)
        self.q = np.array([default[n] for n in r.motors])
        self.target = self.q.copy()
        self.kp = np.zeros(self.n)
        self.kd = np.zeros(self.n)
        self.valid = 0
        self.rejected: dict[str, int] = {}
        self.times: list[float] = []
        self.create_subscription(msgs.LowCmd, lowcmd, self._on_cmd, 10)
        self.pub = self.create_publisher(msgs.LowState, lowstate, 10)
        self.state = msgs.LowState()
        self.state.imu_state.quaternion = [math.cos(ROLL / 2), math.sin(ROLL / 2), 0.0, 0.0]
        self.state.imu_state.accelerometer = [0.0, 0.0, 9.81]
        if r.feet:
            self.state.foot_force = list(FOOT_FORCE)
        else:
            self.state.mode_machine = MODE_MACHINE
        self.state.wireless_remote = list(unitree.encode_remote(REMOTE))
        self.create_timer(0.002, self._tick)
        self.get_logger().info(f"ready: fake {robot} on {self.resolve_topic_name(lowcmd)}")

    def _on_cmd(self, msg: object) -> None:  # a unitree_go or unitree_hg LowCmd
        why = None
        if self.robot.feet and (list(msg.head) != list(unitree.HEAD) or msg.level_flag != unitree.LEVEL_LOW):
            why = f"header {list(msg.head)} level {msg.level_flag}"
        elif not self.robot.feet and msg.mode_machine != MODE_MACHINE:
            why = f"mode_machine {msg.mode_machine}"
        elif msg.crc != self.robot.crc(msg):
            why = "crc"
        if why is not None:
            self.rejected[why] = self.rejected.get(why, 0) + 1
            return
        self.valid += 1
        self.times.append(time.monotonic())
        for i in range(self.n):
            m = msg.motor_cmd[i]
            self.target[i], self.kp[i], self.kd[i] = m.q, m.kp, m.kd

    def _tick(self) -> None:
        alpha = 1.0 - math.exp(-0.002 / TIME_CONSTANT_S)
        moving = self.kp > 0
        dq = np.where(moving, (self.target - self.q) * alpha / 0.002, 0.0)
        self.q = self.q + dq * 0.002
        tau = np.where(moving, self.kp * (self.target - self.q) - self.kd * dq, 0.0).tolist()
        q, v = self.q.tolist(), dq.tolist()
        for i, s in enumerate(self.state.motor_state[: self.n]):
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
            "motors": list(self.robot.motors),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--robot", choices=sorted(unitree.UNITREE_ROBOTS), default="go2")
    ap.add_argument("--namespace", default="/")
    ap.add_argument("--lowcmd", default="lowcmd")
    ap.add_argument("--lowstate", default="lowstate")
    args = ap.parse_args()
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = FakeUnitree(args.robot, args.namespace, args.lowcmd, args.lowstate)
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
