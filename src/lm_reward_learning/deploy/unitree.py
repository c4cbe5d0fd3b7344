"""The Unitree Go2's low-level protocol, without ROS: motor order, the command's CRC, the remote's packet.

Written from Unitree's public interface definitions (unitree_ros2's ``unitree_go/msg`` and its examples,
unitree_sdk2's ``go2_low_level`` example):

* **Motor order** (:data:`GO2_MOTORS`): ``LowCmd.motor_cmd`` and ``LowState.motor_state`` index the legs
  FR, FL, RR, RL, each hip, thigh, calf (0-11; 12-19 unused); the joints' zero and sign are those of
  Unitree's ``go2_description``, which the vendored MJCF keeps, so only the order is mapped (by name).
  ``LowState.foot_force`` is per leg in the same FR, FL, RR, RL order.
* **Command header** as the SDK's example sets it: ``head`` 0xFE 0xEF, ``level_flag`` 0xFF (low level),
  ``gpio`` 0, each used motor in mode 0x01 (servo); unused motors hold the "stop" values
  (``q`` :data:`POS_STOP`, ``dq`` :data:`VEL_STOP`, gains 0). Commands go out every 2 ms (500 Hz,
  :data:`COMMAND_RATE_HZ`), the period of the example's write thread.
* **CRC** (:func:`low_cmd_crc`): the firmware drops a ``LowCmd`` whose ``crc`` is not
  :func:`crc32_core` of the command laid out as unitree_sdk2's C struct (natural alignment, little-endian;
  :data:`LOW_CMD_LAYOUT`, 812 bytes) read as 32-bit words, all but the last (the crc itself). The CRC is
  MSB-first with polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no final xor (CRC-32/MPEG-2 over each
  word's bytes, most significant first).
* **Wireless remote** (:func:`decode_remote`): ``LowState.wireless_remote`` is the remote's 40-byte packet:
  2 header bytes, 16 key bits (R1, L1, start, select, R2, L2, F1, F2, A, B, X, Y, up, right, down, left;
  unitree_ros2's ``gamepad.hpp``), then float32 lx, rx, ry, L2, ly. :func:`remote_to_joy` turns it into
  ``sensor_msgs/Joy`` values with ROS's axis signs (left and up positive): lx and rx negated, as
  unitree_rl_gym's ``deploy_real`` commands ``v_y = -lx``, ``yaw rate = -rx``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

GO2_MOTORS = tuple(f"{leg}_{part}_joint" for leg in ("FR", "FL", "RR", "RL") for part in ("hip", "thigh", "calf"))
"""Joint of each motor index 0-11 of ``LowCmd``/``LowState`` (unitree_ros2 ``motor_crc.h``: FR_0 = 0 ... RL_2 = 11)."""
GO2_FEET = ("FR", "FL", "RR", "RL")
"""Leg of each ``LowState.foot_force`` entry."""
NUM_MOTORS = 20
"""Length of ``motor_cmd`` / ``motor_state`` (``MotorCmd[20]``)."""
HEAD = (0xFE, 0xEF)
LEVEL_LOW = 0xFF
MODE_SERVO = 0x01
POS_STOP = 2.146e9
"""``q`` of a motor without position control (unitree_sdk2 ``PosStopF``)."""
VEL_STOP = 16000.0
"""``dq`` of a motor without velocity control (unitree_sdk2 ``VelStopF``)."""
COMMAND_RATE_HZ = 500.0
"""``LowCmd`` rate of Unitree's low-level examples (a 2000 µs recurrent write thread)."""
REMOTE_KEYS = ("r1", "l1", "start", "select", "r2", "l2", "f1", "f2", "a", "b", "x", "y", "up", "right", "down", "left")
"""Key of each bit (0 = least significant) of the remote's 16-bit key field."""

_HEADER = "<2BBB2I2IH2x"
_MOTOR = "B3x5f3I"
_TAIL = "4B40B12B2BBxII"
LOW_CMD_LAYOUT = _HEADER + _MOTOR * NUM_MOTORS + _TAIL
"""``struct`` format of unitree_sdk2's ``LowCmd`` C struct: header with 2 bytes of padding before the motors,
20 motors of 36 bytes (mode, 3 padding bytes, q, dq, tau, kp, kd, reserve[3]), bms (off, reserve[3]),
wireless_remote[40], led[12], fan[2], gpio, 1 padding byte, reserve, crc."""
LOW_CMD_SIZE = struct.calcsize(LOW_CMD_LAYOUT)
_REMOTE = "<2BH5f16x"


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i << 24
        for _ in range(8):
            c = ((c << 1) ^ 0x04C11DB7) if c & 0x80000000 else (c << 1)
            c &= 0xFFFFFFFF
        table[i] = c
    return table


_TABLE = [int(x) for x in _crc_table()]


def crc32_core(words: Sequence[int] | np.ndarray) -> int:
    """Unitree's CRC-32 of 32-bit words (MSB first, polynomial 0x04C11DB7, initial 0xFFFFFFFF, no final xor)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for w in np.asarray(words, dtype=np.uint32).tolist():
        for shift in (24, 16, 8, 0):
            crc = ((crc << 8) & 0xFFFFFFFF) ^ table[((crc >> 24) ^ (w >> shift)) & 0xFF]
    return crc


def pack_low_cmd(cmd: Any) -> bytes:
    """``cmd`` (a ``unitree_go/msg/LowCmd`` or any object with its fields) as unitree_sdk2's C struct.

    Raises:
        ValueError: if a field has the wrong length or a value does not fit its type.
    """
    values: list[Any] = [*cmd.head, cmd.level_flag, cmd.frame_reserve, *cmd.sn, *cmd.version, cmd.bandwidth]
    if len(cmd.motor_cmd) != NUM_MOTORS:
        raise ValueError(f"LowCmd.motor_cmd has {len(cmd.motor_cmd)} motors, not {NUM_MOTORS}")
    for m in cmd.motor_cmd:
        values += [m.mode, m.q, m.dq, m.tau, m.kp, m.kd, *m.reserve]
    values += [cmd.bms_cmd.off, *cmd.bms_cmd.reserve, *cmd.wireless_remote, *cmd.led, *cmd.fan, cmd.gpio]
    values += [cmd.reserve, cmd.crc]
    try:
        return struct.pack(LOW_CMD_LAYOUT, *(int(v) if not isinstance(v, float) else v for v in values))
    except struct.error as exc:
        raise ValueError(f"LowCmd does not fit unitree_sdk2's layout: {exc}") from None


def low_cmd_crc(cmd: Any) -> int:
    """The ``crc`` the Go2's firmware expects for ``cmd`` (its own ``crc`` field is ignored)."""
    words = np.frombuffer(pack_low_cmd(cmd), dtype="<u4")
    return crc32_core(words[:-1])


@dataclass(frozen=True)
class Remote:
    """The wireless remote's state (``LowState.wireless_remote``).

    Attributes:
        keys: Key name → pressed (:data:`REMOTE_KEYS`).
        lx: Left stick, right positive, [-1, 1].
        ly: Left stick, up positive.
        rx: Right stick, right positive.
        ry: Right stick, up positive.
        l2: Left trigger, [0, 1].
    """

    keys: dict[str, bool]
    lx: float
    ly: float
    rx: float
    ry: float
    l2: float


def decode_remote(packet: Sequence[int] | bytes) -> Remote:
    """The remote's state from its 40-byte packet.

    Raises:
        ValueError: if the packet is not 40 bytes.
    """
    data = bytes(bytearray(packet))
    if len(data) != 40:
        raise ValueError(f"the remote's packet has 40 bytes, got {len(data)}")
    _h0, _h1, bits, lx, rx, ry, l2, ly = struct.unpack(_REMOTE, data)
    return Remote({k: bool(bits >> i & 1) for i, k in enumerate(REMOTE_KEYS)}, lx, ly, rx, ry, l2)


def encode_remote(remote: Remote) -> bytes:
    """The 40-byte packet of ``remote`` (what the robot puts in ``LowState``; for fakes and tests)."""
    bits = sum(1 << i for i, k in enumerate(REMOTE_KEYS) if remote.keys.get(k))
    return struct.pack(_REMOTE, 0, 0, bits, remote.lx, remote.rx, remote.ry, remote.l2, remote.ly)


def remote_to_joy(remote: Remote) -> tuple[list[int], list[float]]:
    """``sensor_msgs/Joy`` ``(buttons, axes)`` of the remote: buttons in :data:`REMOTE_KEYS` order, axes
    ``[left_x, left_y, right_x, right_y, l2]`` with left and up positive (the ``unitree`` joystick layout)."""
    buttons = [int(remote.keys.get(k, False)) for k in REMOTE_KEYS]
    return buttons, [-remote.lx, remote.ly, -remote.rx, remote.ry, remote.l2]


def motor_index(joint_names: Sequence[str], motors: Sequence[str] = GO2_MOTORS) -> np.ndarray:
    """Motor index of each of ``joint_names`` among ``motors`` (the robot's motor order; default the Go2's).

    Raises:
        ValueError: naming the joints that are not among the motors.
    """
    unknown = [n for n in joint_names if n not in motors]
    if unknown:
        raise ValueError(f"joints {unknown} are not motors of this robot; its motors are {list(motors)}")
    return np.array([list(motors).index(n) for n in joint_names], dtype=np.int64)


# ---------------------------------------------------------------------------------------------- the G1 (unitree_hg)
G1_MOTORS = (
    *(
        f"{side}_{j}_joint"
        for side in ("left", "right")
        for j in ("hip_pitch", "hip_roll", "hip_yaw", "knee", "ankle_pitch", "ankle_roll")
    ),
    "waist_yaw_joint",
    "waist_roll_joint",
    "waist_pitch_joint",
    *(
        f"{side}_{j}_joint"
        for side in ("left", "right")
        for j in ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_roll", "wrist_pitch", "wrist_yaw")
    ),
)
"""Joint of each motor index 0-28 of the 29-DoF G1's ``unitree_hg`` LowCmd/LowState (unitree_sdk2's
``G1JointIndex``: LeftHipPitch = 0 ... LeftAnkleRoll = 5, RightHipPitch = 6 ... 11, WaistYaw = 12, WaistRoll,
WaistPitch, LeftShoulderPitch = 15 ... LeftWristYaw = 21, RightShoulderPitch = 22 ... RightWristYaw = 28)."""
HG_NUM_MOTORS = 35
"""Length of ``unitree_hg`` ``motor_cmd`` / ``motor_state`` (``MotorCmd[35]``)."""
HG_MODE_PR = 0
"""``mode_pr`` of unitree_sdk2's G1 examples: ankles commanded as pitch and roll (the MJCF's joints)."""
HG_MOTOR_ENABLE = 1
HG_LOW_CMD_LAYOUT = "<BB2x" + "B3x5fI" * HG_NUM_MOTORS + "4II"
"""``struct`` format of unitree_sdk2's ``unitree_hg`` LowCmd: mode_pr, mode_machine, 2 padding bytes, 35 motors of
28 bytes (mode, 3 padding bytes, q, dq, tau, kp, kd, reserve), reserve[4], crc: 1004 bytes."""


def pack_hg_low_cmd(cmd: Any) -> bytes:
    """``cmd`` (a ``unitree_hg/msg/LowCmd`` or any object with its fields) as unitree_sdk2's C struct.

    Raises:
        ValueError: if a field has the wrong length or a value does not fit its type.
    """
    if len(cmd.motor_cmd) != HG_NUM_MOTORS:
        raise ValueError(f"LowCmd.motor_cmd has {len(cmd.motor_cmd)} motors, not {HG_NUM_MOTORS}")
    values: list[Any] = [cmd.mode_pr, cmd.mode_machine]
    for m in cmd.motor_cmd:
        values += [m.mode, m.q, m.dq, m.tau, m.kp, m.kd, m.reserve]
    values += [*cmd.reserve, cmd.crc]
    try:
        return struct.pack(HG_LOW_CMD_LAYOUT, *(int(v) if not isinstance(v, float) else v for v in values))
    except struct.error as exc:
        raise ValueError(f"LowCmd does not fit unitree_sdk2's unitree_hg layout: {exc}") from None


def hg_low_cmd_crc(cmd: Any) -> int:
    """The ``crc`` a G1 expects for a ``unitree_hg`` LowCmd (the same CRC as the Go2's, over its own layout)."""
    words = np.frombuffer(pack_hg_low_cmd(cmd), dtype="<u4")
    return crc32_core(words[:-1])


@dataclass(frozen=True)
class UnitreeRobot:
    """What differs between the Unitree robots the bridge speaks to.

    Attributes:
        name: Registered robot (``go2``, ``g1``).
        package: Message package of its LowCmd/LowState (``unitree_go``, ``unitree_hg``).
        motors: Joint of each motor index.
        slots: Length of the messages' motor arrays.
        feet: Leg of each ``foot_force`` entry; empty: no foot force in LowState.
        crc: The command's CRC function.
    """

    name: str
    package: str
    motors: tuple[str, ...]
    slots: int
    feet: tuple[str, ...]
    crc: Any


UNITREE_ROBOTS = {
    "go2": UnitreeRobot("go2", "unitree_go", GO2_MOTORS, NUM_MOTORS, GO2_FEET, low_cmd_crc),
    "g1": UnitreeRobot("g1", "unitree_hg", G1_MOTORS, HG_NUM_MOTORS, (), hg_low_cmd_crc),
}
"""The robots :mod:`lm_reward_learning.ros.unitree_bridge` speaks to."""
