"""The Go2's low-level protocol: the CRC against a bit-by-bit reference, the struct layout, motor order, the remote."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import numpy as np
import pytest

from lm_reward_learning.deploy import unitree


def reference_crc(words: list[int]) -> int:
    """unitree_sdk2's crc32_core as documented: per 32-bit word, per bit from the most significant: shift the CRC
    left, xor the polynomial when its top bit was set, and again when the data bit is set."""
    crc = 0xFFFFFFFF
    for data in words:
        for bit in range(31, -1, -1):
            top = crc & 0x80000000
            crc = (crc << 1) & 0xFFFFFFFF
            if top:
                crc ^= 0x04C11DB7
            if data >> bit & 1:
                crc ^= 0x04C11DB7
    return crc


def low_cmd(q_offset: float = 0.0) -> SimpleNamespace:
    motors = [
        SimpleNamespace(mode=1, q=0.1 * i + q_offset, dq=0.0, tau=0.0, kp=35.0, kd=0.5, reserve=[0, 0, 0])
        for i in range(20)
    ]
    return SimpleNamespace(
        head=[0xFE, 0xEF], level_flag=0xFF, frame_reserve=0, sn=[0, 0], version=[0, 0], bandwidth=0, motor_cmd=motors,
        bms_cmd=SimpleNamespace(off=0, reserve=[0, 0, 0]), wireless_remote=[0] * 40, led=[0] * 12, fan=[0, 0],
        gpio=0, reserve=0, crc=0,
    )  # fmt: skip


def test_the_crc_equals_the_bitwise_reference_and_covers_every_word_but_the_crc():
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 202):
        words = rng.integers(0, 2**32, size=n, dtype=np.uint64).tolist()
        assert unitree.crc32_core(words) == reference_crc(words)
    assert unitree.crc32_core([]) == 0xFFFFFFFF
    cmd = low_cmd()
    raw = unitree.pack_low_cmd(cmd)
    words = list(struct.unpack("<203I", raw))
    assert unitree.low_cmd_crc(cmd) == reference_crc(words[:202])
    cmd.crc = 12345  # the crc field itself is not covered
    assert unitree.low_cmd_crc(cmd) == reference_crc(words[:202])
    assert unitree.low_cmd_crc(low_cmd(q_offset=1e-3)) != unitree.low_cmd_crc(low_cmd())


def test_the_command_is_laid_out_as_the_sdks_c_struct():
    """812 bytes: header (2 padding bytes at 22), 20 motors of 36 bytes from 24, bms at 744, remote 748, led 788,
    fan 800, gpio 802, padding 803, reserve 804, crc 808 (natural alignment of unitree_sdk2's LowCmd)."""
    assert unitree.LOW_CMD_SIZE == 812
    cmd = low_cmd()
    cmd.bandwidth, cmd.gpio, cmd.reserve, cmd.crc = 0x1234, 7, 0xA1B2C3D4, 0x01020304
    cmd.motor_cmd[1].mode, cmd.motor_cmd[1].kd = 0x0A, 2.5
    cmd.bms_cmd.off, cmd.wireless_remote[0], cmd.led[0], cmd.fan[1] = 0xA5, 9, 8, 6
    raw = unitree.pack_low_cmd(cmd)
    assert raw[:4] == bytes([0xFE, 0xEF, 0xFF, 0]) and raw[20:24] == bytes([0x34, 0x12, 0, 0])
    assert raw[24 + 36] == 0x0A and struct.unpack_from("<f", raw, 24 + 36 + 20)[0] == 2.5  # motor 1: mode, kd
    assert raw[744] == 0xA5 and raw[748] == 9 and raw[788] == 8 and raw[801] == 6 and raw[802] == 7
    assert struct.unpack_from("<II", raw, 804) == (0xA1B2C3D4, 0x01020304)
    with pytest.raises(ValueError, match="motor_cmd has 19 motors"):
        unitree.pack_low_cmd(SimpleNamespace(**{**vars(cmd), "motor_cmd": cmd.motor_cmd[:19]}))


def test_motor_order_is_fr_fl_rr_rl_by_name():
    assert unitree.GO2_MOTORS[:3] == ("FR_hip_joint", "FR_thigh_joint", "FR_calf_joint")
    assert unitree.GO2_MOTORS[5] == "FL_calf_joint" and unitree.GO2_MOTORS[9] == "RL_hip_joint"
    policy = [f"{leg}_{p}_joint" for leg in ("FL", "FR", "RL", "RR") for p in ("hip", "thigh", "calf")]
    np.testing.assert_array_equal(unitree.motor_index(policy), [3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8])
    with pytest.raises(ValueError, match=r"joints \[.FL_knee_joint.\] are not motors of this robot"):
        unitree.motor_index(["FL_knee_joint"])


def test_the_remote_packet_becomes_joy_with_ros_axis_signs():
    remote = unitree.Remote(dict.fromkeys(("l2", "up"), True), lx=0.5, ly=0.25, rx=-0.75, ry=1.0, l2=0.3)
    packet = unitree.encode_remote(remote)
    assert len(packet) == 40 and packet[2:4] == (1 << 5 | 1 << 12).to_bytes(2, "little")
    assert struct.unpack_from("<5f", packet, 4) == pytest.approx((0.5, -0.75, 1.0, 0.3, 0.25))  # lx rx ry L2 ly
    back = unitree.decode_remote(list(packet))
    assert back.keys["l2"] and back.keys["up"] and not back.keys["a"]
    buttons, axes = unitree.remote_to_joy(back)
    assert [unitree.REMOTE_KEYS[i] for i, b in enumerate(buttons) if b] == ["l2", "up"]
    assert axes == pytest.approx([-0.5, 0.25, 0.75, 1.0, 0.3])  # right stick pushed right -> negative yaw axis
    with pytest.raises(ValueError, match="40 bytes"):
        unitree.decode_remote(b"\x00" * 39)


def test_the_g1_command_is_laid_out_as_the_sdks_unitree_hg_struct_and_crcd_the_same_way():
    """1004 bytes: mode_pr, mode_machine, 2 padding bytes, 35 motors of 28 bytes from 4 (mode, 3 padding bytes, q,
    dq, tau, kp, kd, reserve), reserve[4] at 984, crc at 1000."""
    motors = [SimpleNamespace(mode=1, q=0.1 * i, dq=0.0, tau=0.0, kp=40.0, kd=1.0, reserve=0) for i in range(35)]
    cmd = SimpleNamespace(mode_pr=0, mode_machine=5, motor_cmd=motors, reserve=[0, 0, 0, 7], crc=0xDEADBEEF)
    raw = unitree.pack_hg_low_cmd(cmd)
    assert len(raw) == 1004 and raw[:4] == bytes([0, 5, 0, 0])
    assert raw[4 + 28] == 1 and struct.unpack_from("<f", raw, 4 + 28 + 4)[0] == pytest.approx(0.1)  # motor 1: mode, q
    assert struct.unpack_from("<4II", raw, 984) == (0, 0, 0, 7, 0xDEADBEEF)
    words = list(struct.unpack("<251I", raw))
    assert unitree.hg_low_cmd_crc(cmd) == reference_crc(words[:250])
    assert unitree.UNITREE_ROBOTS["g1"].crc is unitree.hg_low_cmd_crc


def test_g1_motor_order_is_unitrees_and_the_policys():
    """unitree_sdk2's G1JointIndex: left leg 0-5, right leg 6-11, waist 12-14, left arm 15-21, right arm 22-28."""
    from lm_reward_learning.robots import get_robot

    g1 = unitree.G1_MOTORS
    assert (g1[0], g1[3], g1[5], g1[6], g1[12], g1[14], g1[15], g1[21], g1[22], g1[28]) == (
        "left_hip_pitch_joint", "left_knee_joint", "left_ankle_roll_joint", "right_hip_pitch_joint",
        "waist_yaw_joint", "waist_pitch_joint", "left_shoulder_pitch_joint", "left_wrist_yaw_joint",
        "right_shoulder_pitch_joint", "right_wrist_yaw_joint",
    )  # fmt: skip
    assert g1 == get_robot("g1").joint_names  # the vendored MJCF names its joints as Unitree does
    np.testing.assert_array_equal(unitree.motor_index(["left_knee_joint"], g1), [3])
