"""SimRobot: the simulator behind mujoco_sim_node is training's simulation, read out like a driver."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lm_reward_learning.config import load_train_config
from lm_reward_learning.deploy.sim import SimRobot
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.reward.program import default_program, load_reward_fn
from lm_reward_learning.robots import get_robot

SPEC = get_robot("go2")


def test_same_targets_give_the_same_motion_as_the_training_env():
    """From the same reset, the same joint targets for 1 s move SimRobot and MujocoVecEnv alike."""
    cfg = load_train_config("go2")
    env_cfg = dataclasses.replace(cfg.env, num_envs=1, obs_noise=False, reset_joint_noise=0.0, num_threads=1)
    env = MujocoVecEnv(SPEC, load_reward_fn(default_program("go2").source), env_cfg, seed=0)
    env.start_rollout((0.0, 0.0, 0.0), yaw=0.0)
    sim = SimRobot(SPEC)
    np.testing.assert_allclose(sim.joint_pos, env.last_state.joint_pos[0].numpy(), atol=1e-6)
    rng = np.random.default_rng(1)
    for _ in range(50):
        a = rng.normal(0.0, 0.5, size=12)
        env.step(torch.from_numpy(a[None].astype(np.float32)))
        a32 = a.astype(np.float32).astype(np.float64)  # the env sees float32 actions
        sim.command(sim.default_joint_pos + SPEC.action_scale * a32, sim.default_kp, sim.default_kd)
        sim.step(env_cfg.decimation)
    s = env.last_state
    assert sim.time_s == pytest.approx(1.0)
    np.testing.assert_allclose(sim.base_pos_w, s.base_pos_w[0].numpy(), atol=1e-4)
    np.testing.assert_allclose(sim.joint_pos, s.joint_pos[0].numpy(), atol=1e-4)
    np.testing.assert_allclose(sim.base_ang_vel_b, s.base_ang_vel_b[0].numpy(), atol=1e-3)


def test_standing_robot_reads_out_like_a_driver():
    sim = SimRobot(SPEC)
    sim.step(200)  # 1 s holding the default pose with the default gains
    imu = sim.imu()
    # REP 145: a level IMU at rest measures +g on z and no rotation; orientation x y z w ~ identity.
    np.testing.assert_allclose(imu.lin_acc_b, [0.0, 0.0, 9.81], atol=0.3)
    np.testing.assert_allclose(imu.ang_vel_b, 0.0, atol=0.15)  # still settling slowly
    np.testing.assert_allclose(np.abs(imu.quat_xyzw), [0.0, 0.0, 0.0, 1.0], atol=0.02)
    assert 0.25 < sim.base_pos_w[2] < 0.34 and not sim.fallen()
    assert sorted(sim.driver_joint_names) == sorted(SPEC.joint_names)
    assert np.all(np.abs(sim.joint_effort) < np.asarray(SPEC.per_joint(SPEC.torque_limits)) + 1e-9)


def test_zero_stiffness_lets_the_robot_sink_and_damping_slows_it():
    """kp = 0 leaves only damping: the robot goes down; more damping, slower."""
    heights = []
    for kd in (0.2, 3.0):
        sim = SimRobot(SPEC)
        sim.command(sim.joint_pos, np.zeros(12), np.full(12, kd))
        sim.step(60)  # 0.3 s
        heights.append(sim.base_pos_w[2])
    assert heights[0] < heights[1] < SPEC.init_base_height - 0.02


def test_velocity_targets_and_initial_pose():
    crouch = np.asarray(SPEC.per_joint(SPEC.default_joint_pos)) + np.tile([0.0, 0.3, -0.3], 4)
    sim = SimRobot(SPEC, joint_pos=crouch, base_height=0.3, yaw=0.5)
    np.testing.assert_allclose(sim.joint_pos, crouch)
    assert sim.base_pos_w[2] == pytest.approx(0.3)
    w, _, _, z = sim.base_quat_wxyz
    assert 2 * np.arctan2(z, w) == pytest.approx(0.5)
    # A target velocity enters the damping term: kd (v* - v). With kp = 0 and the robot's own weight
    # irrelevant at the first instant, the servo force equals kd * v*.
    sim.command(sim.joint_pos, np.zeros(12), np.full(12, 2.0), velocities=np.full(12, 0.5))
    sim.step(1)
    act_force = sim.data.actuator_force
    assert act_force.max() == pytest.approx(2.0 * 0.5, abs=0.2)


def test_reset_returns_to_the_pose_and_can_keep_the_clock():
    sim = SimRobot(SPEC)
    sim.command(sim.joint_pos, np.zeros(12), np.full(12, 0.2))
    sim.step(100)  # 0.5 s without stiffness: the robot sinks
    assert sim.base_pos_w[2] < SPEC.init_base_height - 0.05
    sim.reset(keep_time=True)
    assert sim.time_s == pytest.approx(0.5)  # /clock does not jump back
    np.testing.assert_allclose(sim.joint_pos, sim.default_joint_pos)
    assert sim.base_pos_w[2] == pytest.approx(SPEC.init_base_height)
    np.testing.assert_allclose(sim.data.qvel, 0.0)
    sim.reset()
    assert sim.time_s == 0.0
