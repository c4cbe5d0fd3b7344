"""Sagittal hip and knee flexion of the G1, with the signs checked by MuJoCo forward kinematics."""

from __future__ import annotations

import io

import mujoco
import numpy as np
import pytest

from lm_reward_learning.gait.joint_angles import (
    JointAnglesError,
    rollout_sagittal_angles,
    sagittal_angles,
)
from lm_reward_learning.robots import get_robot
from lm_reward_learning.robots.model import joint_qpos_adr, load_model

G1 = get_robot("g1")


def _site_in_pelvis(model, data, site: str) -> np.ndarray:
    """A site's position in the pelvis frame (x forward, z up), m."""
    pelvis = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, G1.base_body)
    sid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site)
    rot = data.xmat[pelvis].reshape(3, 3)
    return rot.T @ (data.site_xpos[sid] - data.xpos[pelvis])


def _pose(model, angles: dict[str, float]):
    data = mujoco.MjData(model)
    adr = dict(zip(G1.joint_names, joint_qpos_adr(model, G1), strict=True))
    for name, value in angles.items():
        data.qpos[adr[name]] = value
    mujoco.mj_kinematics(model, data)
    return data


def test_g1_signs_match_forward_kinematics() -> None:
    model = load_model(G1)
    straight = _site_in_pelvis(model, _pose(model, {}), "left_foot")
    # hip flexion 30 deg in our convention = hip_pitch -30 deg: the foot swings forward (+x of the pelvis)
    flexed = _pose(model, {"left_hip_pitch_joint": -np.radians(30)})
    assert _site_in_pelvis(model, flexed, "left_foot")[0] > straight[0] + 0.1
    a = sagittal_angles("g1", np.array([[-np.radians(30)] + [0.0] * 28]), G1.joint_names)
    assert a.hip_flexion_deg[0, 0] == pytest.approx(30.0)
    # knee flexion 40 deg = knee +40 deg: the foot goes back and up, behind the knee (shank folded back)
    bent = _pose(model, {"left_knee_joint": np.radians(40)})
    foot = _site_in_pelvis(model, bent, "left_foot")
    assert foot[0] < straight[0] - 0.05 and foot[2] > straight[2] + 0.02
    q = np.zeros((1, 29))
    q[0, list(G1.joint_names).index("left_knee_joint")] = np.radians(40)
    assert sagittal_angles("g1", q, G1.joint_names).knee_flexion_deg[0, 0] == pytest.approx(40.0)


def test_ranges_and_rollout_file(tmp_path) -> None:
    t = np.linspace(0, 2 * np.pi, 200)
    q = np.zeros((200, 29))
    names = list(G1.joint_names)
    q[:, names.index("left_knee_joint")] = np.radians(30 + 30 * np.sin(t))  # 0..60 deg
    q[:, names.index("right_knee_joint")] = np.radians(30 - 30 * np.sin(t))
    q[:, names.index("left_hip_pitch_joint")] = -np.radians(20 * np.sin(t))  # flexion -20..20 deg
    buf = io.BytesIO()
    np.savez(buf, joint_pos=q, joint_names=np.array(names))
    (tmp_path / "r.npz").write_bytes(buf.getvalue())
    a = rollout_sagittal_angles("g1", tmp_path / "r.npz")
    lo, hi = a.knee_flexion_range_deg
    assert 0.0 <= lo < 1.0 and 59.0 < hi <= 60.0
    assert a.hip_flexion_deg[:, 0].max() == pytest.approx(20.0, abs=0.1)
    np.savez(tmp_path / "old.npz", joint_pos=q)  # no joint_names: the robot's policy order
    assert rollout_sagittal_angles("g1", tmp_path / "old.npz").knee_flexion_range_deg == pytest.approx((lo, hi))


def test_unknown_robot_and_missing_joint() -> None:
    with pytest.raises(JointAnglesError, match="bipeds only"):
        sagittal_angles("go2", np.zeros((3, 12)), get_robot("go2").joint_names)
    with pytest.raises(JointAnglesError, match="left_knee_joint"):
        sagittal_angles("g1", np.zeros((3, 2)), ["left_hip_pitch_joint", "x"])
