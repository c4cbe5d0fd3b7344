"""A policy on the G1's legs with a gait clock, deployed: observation parity, held joints, the clock's phase."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from lm_reward_learning.config import load_train_config
from lm_reward_learning.deploy import ControllerCore, Mode, ObservationBuilder, PolicyMismatchError
from lm_reward_learning.deploy.policy import DeployFacts
from lm_reward_learning.deploy.safety import SafetyConfig
from lm_reward_learning.deploy.sim import SimRobot
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.export import deploy_info
from lm_reward_learning.robots import get_robot
from lm_reward_learning.training.trainer import zero_reward

G1 = get_robot("g1")
CFG = load_train_config("g1")  # legs + gait clock


def legs_facts() -> DeployFacts:
    spec = G1.acting(CFG.env.action_joints)
    return DeployFacts.from_dict(deploy_info(spec, CFG, 0.02, 0.005, {}), "deploy_info")


def test_observation_with_gait_clock_matches_the_training_env():
    env_cfg = dataclasses.replace(CFG.env, num_envs=3, obs_noise=False, num_threads=1)
    env = MujocoVecEnv(G1, zero_reward, env_cfg, seed=5)
    builder = ObservationBuilder(legs_facts())
    rng = np.random.default_rng(1)
    for _ in range(7):
        obs, *_ = env.step(torch.from_numpy(rng.normal(0.0, 0.5, size=(3, 12)).astype(np.float32)))
        s = env.last_state
        for i in range(3):
            w, x, y, z = s.base_quat_w[i].double().numpy()
            got = builder.build(
                s.joint_pos[i].double().numpy(),
                s.joint_vel[i].double().numpy(),
                s.base_ang_vel_b[i].double().numpy(),
                np.array([x, y, z, w]),
                s.commands[i].double().numpy(),
                s.actions[i].double().numpy(),
                float(s.gait_phase[i]),
            )
            assert got.shape == (47,)
            np.testing.assert_allclose(got, obs["policy"][i].numpy(), rtol=0, atol=2e-6)


def test_facts_must_pair_the_clock_term_with_its_frequency():
    info = deploy_info(G1.acting("legs"), CFG, 0.02, 0.005, {})
    del info["gait_clock"]
    with pytest.raises(PolicyMismatchError, match="gait_clock term but gait_clock is missing"):
        DeployFacts.from_dict(info, "x")
    info = deploy_info(G1.acting("legs"), CFG, 0.02, 0.005, {})
    info["held_joints"]["kp"] = info["held_joints"]["kp"][:-1]
    with pytest.raises(PolicyMismatchError, match=r"held_joints\.kp has 16 values for 17 held joints"):
        DeployFacts.from_dict(info, "x")
    info = deploy_info(G1.acting("legs"), CFG, 0.02, 0.005, {})
    info["held_joints"]["names"][0] = "left_knee_joint"
    with pytest.raises(PolicyMismatchError, match="left_knee_joint"):
        DeployFacts.from_dict(info, "x")


class StubPolicy:
    """A constant action; records the observations it was given."""

    def __init__(self, facts: DeployFacts, action: float) -> None:
        self.facts, self.action, self.seen = facts, action, []

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        self.seen.append(obs.copy())
        return np.full(self.facts.num_joints, self.action, dtype=np.float32)


def test_controller_commands_all_29_joints_and_runs_the_clock_from_the_policy_start():
    facts = legs_facts()
    policy = StubPolicy(facts, 0.1)
    core = ControllerCore(policy, SafetyConfig(stand_up_s=0.2), cmd_timeout_s=0.0)
    sim = SimRobot(G1)
    names = list(sim.driver_joint_names)

    def feed(now: float) -> None:
        by_name = dict(zip(sim.joint_names, zip(sim.joint_pos, sim.joint_vel, strict=True), strict=True))
        core.on_joint_state(now, names, [by_name[n][0] for n in names], [by_name[n][1] for n in names])
        imu = sim.imu()
        core.on_imu(now, imu.quat_xyzw, imu.ang_vel_b)

    t = 0.0
    feed(t)
    core.activate(t, auto_policy=True)
    t0 = None
    cmd = None
    for _ in range(40):
        cmd = core.tick(t)
        if cmd.mode is Mode.POLICY and t0 is None:
            t0 = t
        order = [facts.command_joint_names.index(n) for n in sim.joint_names]
        sim.command(cmd.positions[order], cmd.kp[order], cmd.kd[order])
        sim.step(4)
        t += 0.02
        feed(t)
    assert t0 is not None and core.policy_t0 == pytest.approx(t0)
    assert cmd.positions.shape == (29,)
    default = np.asarray(facts.command_default_joint_pos)
    np.testing.assert_allclose(cmd.positions[12:], default[12:])  # held at their default angles
    np.testing.assert_allclose(cmd.positions[:12], default[:12] + facts.action_scale * 0.1)
    np.testing.assert_allclose(cmd.kp, facts.command_kp)
    np.testing.assert_allclose(cmd.kd, facts.command_kd)
    f = facts.gait_clock_hz
    for k, obs in enumerate(policy.seen):
        phase = 2.0 * math.pi * ((k * 0.02 * f) % 1.0)
        np.testing.assert_allclose(obs[-2:], [math.sin(phase), math.cos(phase)], atol=1e-5)
