"""The reward-term binding against stub Isaac Lab objects (no simulator, no isaaclab import).

The stub env carries the same physical state as a MuJoCo simulation, laid out as Isaac Lab 3 reports
it; the binding must read it through Isaac Lab's attribute names and give the reward the program gives
on the MuJoCo env's own RewardState.
"""

from __future__ import annotations

import dataclasses

import mujoco
import pytest
import torch
from isaaclab_stub_physics import MujocoPhysics, breadth_first, site_offsets, stub_env, zero_reward

from lm_reward_learning.config import load_train_config
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.isaaclab_backend.binding import RewardProgramBinding
from lm_reward_learning.isaaclab_backend.state_mapping import StateMappingError
from lm_reward_learning.reward.program import default_program, load_reward_fn
from lm_reward_learning.robots import get_robot

N = 4


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """A stepped Go2 MuJoCo env, its Isaac-style physics reader, and the default program on disk."""
    spec = get_robot("go2")
    cfg = dataclasses.replace(load_train_config("go2").env, num_envs=N, obs_noise=False, num_threads=1)
    env = MujocoVecEnv(spec, zero_reward, cfg, seed=11)
    m = env.model
    bodies = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, i) for i in range(1, m.nbody)]
    phys = MujocoPhysics(env, breadth_first(spec.joint_names), sorted(bodies), sorted(bodies, reverse=True))
    program = tmp_path_factory.mktemp("prog") / "program.py"
    program.write_text(default_program("go2").source)
    gen = torch.Generator().manual_seed(1)
    frames = []
    for _ in range(10):
        frames.append(phys.frame())
        _, _, dones, _ = env.step(0.3 * torch.randn(N, env.num_actions, generator=gen))
        assert not dones.any()
    frames.append(phys.frame())
    return env, phys, program, frames


def _binding(sim, **overrides):
    env, phys, program, frames = sim
    kwargs = {
        "program_file": program,
        "robot": "go2",
        "foot_offsets_b": site_offsets(env),
        "contact_force_threshold": env.cfg.contact_force_threshold,
        "action_clip": env.cfg.action_clip,
        "gait_frequency_hz": env.cfg.gait_frequency_hz,
        **overrides,
    }
    stub = stub_env(frames[0], phys.joint_order, phys.body_order, phys.sensor_order, env.dt)
    return RewardProgramBinding(stub, **kwargs)


def _call(binding, sim, frame, unstable=None):
    env, phys, _, _ = sim
    return binding(stub_env(frame, phys.joint_order, phys.body_order, phys.sensor_order, env.dt, unstable))


def test_reward_equals_the_program_on_the_mujoco_state(sim):
    env, _, _, frames = sim
    binding = _binding(sim)
    _call(binding, sim, frames[-2])  # previous step, for the foot-velocity finite difference
    reward = _call(binding, sim, frames[-1])
    expected, _ = load_reward_fn(default_program("go2").source)(env.last_state)
    assert reward.shape == (N,) and reward.dtype == torch.float32
    torch.testing.assert_close(reward, expected.float(), atol=1e-4, rtol=1e-4)
    # float32 positions up to 7.5 m from the world origin (the env grid): ~0.5 µm / 0.02 s = 2.5e-5 m/s.
    torch.testing.assert_close(binding.last_state.foot_vel_w, env.last_state.foot_vel_w, atol=1e-4, rtol=1e-5)


def test_blown_up_env_gets_zero_and_is_not_counted(sim):
    _, _, _, frames = sim
    binding = _binding(sim)
    unstable = torch.tensor([False, True, False, False])
    reward = _call(binding, sim, frames[-1], unstable)
    assert reward[1] == 0.0 and (reward[[0, 2, 3]] != 0.0).all()
    assert binding.explosions == 1
    stats = binding.stats.pop()
    # Same format as MujocoVecEnv.pop_reward_stats: {term: {mean, min, max}} of the 3 valid envs.
    assert set(stats) == set(load_reward_fn(default_program("go2").source)(binding.last_state)[1])
    assert all(set(v) == {"mean", "min", "max"} and v["min"] <= v["mean"] <= v["max"] for v in stats.values())
    assert binding.stats.pop() == {}  # popped


def test_non_finite_reward_becomes_zero(sim, tmp_path):
    _, _, _, frames = sim
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def compute_reward(state):\n"
        "    r = state.base_height * 0.0\n"
        "    r = torch.where(torch.arange(r.shape[0]) == 2, r / 0.0, r + 1.0)\n"
        "    return r, {'weird': r}\n"
    )
    binding = _binding(sim, program_file=bad)
    binding.load_program(trusted=True)  # a test program, compiled in this (unsandboxed) process
    reward = _call(binding, sim, frames[-1])
    assert torch.equal(reward, torch.tensor([1.0, 1.0, 0.0, 1.0]))


@pytest.mark.parametrize("ids", [None, slice(None), torch.tensor([0, 2]), [0, 2]])
def test_reset_zeroes_the_next_foot_velocity(sim, ids):
    _, _, _, frames = sim
    binding = _binding(sim)
    _call(binding, sim, frames[-2])
    binding.reset(ids)
    _call(binding, sim, frames[-1])
    vel = binding.last_state.foot_vel_w.abs().sum(dim=(1, 2))
    reset = [0, 1, 2, 3] if ids is None or isinstance(ids, slice) else [0, 2]
    assert (vel[reset] == 0).all()
    kept = [i for i in range(N) if i not in reset]
    assert (vel[kept] > 0).all()


def test_missing_joint_is_a_clear_error(sim):
    env, phys, program, frames = sim
    stub = stub_env(frames[0], phys.joint_order[:-1], phys.body_order, phys.sensor_order, env.dt)
    with pytest.raises(StateMappingError, match=r"joints \['.*'\] not found.*setup_isaaclab\.sh"):
        RewardProgramBinding(
            stub,
            program_file=program,
            robot="go2",
            foot_offsets_b=site_offsets(env),
            contact_force_threshold=1.0,
            action_clip=10.0,
            gait_frequency_hz=2.0,
        )
