"""The generated URDF: its kinematics match MuJoCo's (feet within 1 mm at random joint angles), files up to date.

The forward kinematics here are written from the URDF specification (joint origin ``xyz`` and fixed-axis
``rpy``, then a rotation about ``axis`` by the joint angle) and know nothing of the generator; MuJoCo's are
``mj_kinematics`` on the vendored scene with the base at the origin.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import mujoco
import numpy as np
import pytest

from lm_reward_learning.config import config_dir
from lm_reward_learning.deploy.urdf import PACKAGE, mjcf_to_urdf, quat_to_rpy
from lm_reward_learning.robots import get_robot, load_model

ROBOTS = ("go2", "g1")


def _rot(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues: rotation by ``angle`` about the unit ``axis``."""
    a = axis / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def _rpy(r: float, p: float, y: float) -> np.ndarray:
    """URDF: R = Rz(y) Ry(p) Rx(r)."""
    return _rot(np.array([0, 0, 1.0]), y) @ _rot(np.array([0, 1.0, 0]), p) @ _rot(np.array([1.0, 0, 0]), r)


def urdf_frames(urdf: str, q: dict[str, float]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Pose ``(position, rotation)`` of every link in the root link's frame at joint angles ``q`` (rad)."""
    root = ET.fromstring(urdf)
    joints = {j.find("child").get("link"): j for j in root.iter("joint")}
    poses: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def pose(link: str) -> tuple[np.ndarray, np.ndarray]:
        if link in poses:
            return poses[link]
        j = joints.get(link)
        if j is None:  # the root
            poses[link] = (np.zeros(3), np.eye(3))
            return poses[link]
        p_parent, r_parent = pose(j.find("parent").get("link"))
        origin = j.find("origin")
        xyz = np.array([float(v) for v in origin.get("xyz").split()])
        rot = _rpy(*(float(v) for v in origin.get("rpy").split()))
        if j.get("type") in ("revolute", "continuous"):
            axis = np.array([float(v) for v in j.find("axis").get("xyz").split()])
            rot = rot @ _rot(axis, q[j.get("name")])
        poses[link] = (p_parent + r_parent @ xyz, r_parent @ rot)
        return poses[link]

    for link in root.iter("link"):
        pose(link.get("name"))
    return poses


@pytest.mark.parametrize("robot", ROBOTS)
def test_feet_from_the_urdf_match_mujoco_within_1_mm_at_random_joint_angles(robot):
    spec = get_robot(robot)
    urdf = mjcf_to_urdf(spec)
    model = load_model(spec)
    data = mujoco.MjData(model)
    base = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
    rng = np.random.default_rng(0)
    hinges = [j for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE]
    worst = 0.0
    for _ in range(20):
        data.qpos[:] = model.qpos0
        q = {}
        for j in hinges:
            lo, hi = model.jnt_range[j] if model.jnt_limited[j] else (-math.pi, math.pi)
            q[mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j)] = data.qpos[model.jnt_qposadr[j]] = rng.uniform(
                lo, hi
            )
        mujoco.mj_kinematics(model, data)
        frames = urdf_frames(urdf, q)
        r_base, p_base = data.xmat[base].reshape(3, 3), data.xpos[base]
        for site in spec.foot_sites:
            sid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site)
            expected = r_base.T @ (data.site_xpos[sid] - p_base)  # the foot in the base frame
            worst = max(worst, float(np.linalg.norm(frames[site][0] - expected)))
        # Every body frame too (the TF that trainer_node and mujoco_sim_node publish uses the same names).
        for b in range(1, model.nbody):
            name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b)
            if name in frames:
                expected = r_base.T @ (data.xpos[b] - p_base)
                np.testing.assert_allclose(frames[name][0], expected, atol=1e-6, err_msg=name)
                np.testing.assert_allclose(frames[name][1], r_base.T @ data.xmat[b].reshape(3, 3), atol=1e-6)
    assert worst < 1e-3, f"feet differ by up to {worst * 1e3:.3f} mm"


@pytest.mark.parametrize("robot", ROBOTS)
def test_the_shipped_urdf_is_up_to_date_and_names_installed_meshes(robot):
    spec = get_robot(robot)
    shipped = config_dir() / "ros" / "urdf" / f"{robot}.urdf"
    assert shipped.read_text() == mjcf_to_urdf(spec), "re-run: .venv/bin/python scripts/make_urdf.py"
    root = ET.fromstring(shipped.read_text())
    meshes = [m.get("filename") for m in root.iter("mesh")]
    assert meshes and all(m.startswith(f"package://{PACKAGE}/meshes/{robot}/") for m in meshes)
    for uri in meshes:  # setup.py installs src/.../robots/assets/<robot>/meshes/ as share/<pkg>/meshes/<robot>/
        assert (spec.mjcf_path.parent / "meshes" / uri.rsplit("/", 1)[1]).is_file(), uri
    joints = {j.get("name") for j in root.iter("joint") if j.get("type") == "revolute"}
    assert set(spec.joint_names) <= joints
    for j in root.iter("joint"):
        if j.get("type") == "revolute":
            limit = j.find("limit")
            assert float(limit.get("lower")) < float(limit.get("upper")) and float(limit.get("effort")) >= 0


def test_rpy_round_trips_quaternions():
    rng = np.random.default_rng(1)
    for _ in range(50):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        mat = np.empty(9)
        mujoco.mju_quat2Mat(mat, q)
        np.testing.assert_allclose(_rpy(*quat_to_rpy(q)), mat.reshape(3, 3), atol=1e-12)
