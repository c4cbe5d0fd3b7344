"""The ROS-free parts of ``trainer_node``: goal checks and body poses for TF (no rclpy needed)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from lm_reward_learning.errors import LmrlError, UnknownRobotError
from lm_reward_learning.robots import get_robot, load_model
from lm_reward_learning.ros.train_worker import make_job, relative_poses


def test_make_job_uses_the_default_program_and_config_budget():
    job = make_job(robot="go2")
    assert job.program_origin == "default:go2" and "def compute_reward" in job.program_source
    assert job.config_overrides == {"iterations": None, "env.num_envs": None, "backend": None, "device": None}


def test_make_job_prefers_goal_source_over_file(tmp_path):
    job = make_job(robot="go2", program_source="x = 1\n", reward_path=str(tmp_path / "missing.py"), iterations=3)
    assert job.program_source == "x = 1\n" and job.config_overrides["iterations"] == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"robot": "spot"}, UnknownRobotError, "known robots: g1, go2"),
        ({"robot": "go2", "reward_path": "/no/such/reward.py"}, LmrlError, "does not exist"),
        ({"robot": "go2", "iterations": -1}, LmrlError, "must be >= 0"),
        ({"robot": "go2", "rollout_duration_s": float("nan")}, LmrlError, "positive number of seconds"),
        ({"robot": "go2", "view": "top"}, LmrlError, "unknown camera view 'top'"),
        ({"robot": "go2", "warm_start": "/no/ckpt.pt"}, LmrlError, "warm-start checkpoint /no/ckpt.pt"),
        ({"robot": "go2", "train_config": "/no/cfg.yaml"}, LmrlError, "does not exist"),
    ],
)
def test_make_job_names_the_problem(kwargs, error, text):
    with pytest.raises(error, match=text.replace("(", r"\(").replace(")", r"\)")):
        make_job(**kwargs)


def test_make_job_resumes_an_existing_run(tiny_run):
    job = make_job(robot="go2", run_dir=str(tiny_run.path), iterations=3)
    assert job.resume and job.run_dir == str(tiny_run.path.resolve())
    fresh = make_job(robot="go2", run_dir=str(tiny_run.path.parent / "not_yet"))
    assert not fresh.resume and fresh.run_dir.endswith("not_yet")


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"robot": "g1"}, "is a go2 run, not g1"),
        ({"robot": "go2", "program_source": "def compute_reward(state):\n    pass\n"}, "another reward program"),
    ],
)
def test_make_job_refuses_a_run_dir_it_cannot_resume(tiny_run, kwargs, text):
    with pytest.raises(LmrlError, match=text):
        make_job(run_dir=str(tiny_run.path), **kwargs)


def test_make_job_refuses_a_directory_that_is_not_a_run(tmp_path):
    with pytest.raises(LmrlError, match="is not a run directory"):
        make_job(robot="go2", run_dir=str(tmp_path))


def test_relative_poses_recover_the_model_tree_at_the_reference_pose():
    # At qpos0 (all hinge angles 0) a body's pose in its parent is the MJCF's body pos/quat.
    model = load_model(get_robot("go2"))
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    pos, quat = relative_poses(data.xpos, data.xquat, model.body_parentid)
    np.testing.assert_allclose(pos[1:], model.body_pos[2:], atol=1e-9)  # bodies under the base
    ref = model.body_quat[2:] * np.where(model.body_quat[2:, :1] < 0, -1.0, 1.0)
    np.testing.assert_allclose(quat[1:], ref, atol=1e-9)


def test_relative_poses_compose_back_to_world_poses():
    model = load_model(get_robot("go2"))
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    data.qpos[7:] = rng.uniform(-0.5, 0.5, model.nq - 7)
    data.qpos[3:7] = [np.cos(0.3), 0.0, np.sin(0.3) * 0.6, np.sin(0.3) * 0.8]  # unit: cos² + sin²(0.36+0.64)
    mujoco.mj_kinematics(model, data)
    pos, quat = relative_poses(data.xpos, data.xquat, model.body_parentid)
    for b in range(2, model.nbody):  # child world pose = parent world pose ∘ relative pose
        p = model.body_parentid[b]
        world = np.zeros(3)
        mujoco.mju_rotVecQuat(world, pos[b - 1], data.xquat[p])
        np.testing.assert_allclose(world + data.xpos[p], data.xpos[b], atol=1e-9)
        q = np.zeros(4)
        mujoco.mju_mulQuat(q, data.xquat[p], quat[b - 1])
        assert abs(abs(np.dot(q, data.xquat[b])) - 1.0) < 1e-9


def test_make_job_passes_the_backend_to_the_training_config() -> None:
    from lm_reward_learning.config import load_train_config

    job = make_job(robot="go2", backend="isaaclab", device="cpu")
    assert job.config_overrides["backend"] == "isaaclab"
    assert load_train_config("go2", **job.config_overrides).backend == "isaaclab"
