"""Domain randomization of the MuJoCo env: each term changes the physics it names, by the amount it says;
draws stay inside their ranges and cover them; the same seed gives the same draws and trajectory."""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
import pytest
import torch

from lm_reward_learning.config import load_train_config
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.envs.randomization import HISTORY_HEADER, build_model
from lm_reward_learning.errors import ConfigError
from lm_reward_learning.randomization import (
    ActionLatency,
    ActuatorGains,
    AddBaseMass,
    AxisRanges,
    BaseCom,
    JointCalibration,
    MotorStrength,
    PhysicsMaterial,
    PushRobot,
    RandomizationConfig,
    ResetBase,
    Terrain,
    VelocityRanges,
    describe,
)
from lm_reward_learning.robots import get_robot
from lm_reward_learning.training.trainer import zero_reward

SPEC = get_robot("go2")
G = 9.81


def make_env(r: RandomizationConfig, n: int = 1, seed: int = 0, **env) -> MujocoVecEnv:
    """A Go2 env without observation or reset noise (unless ``env`` says otherwise)."""
    base = {"num_envs": n, "num_threads": 1, "obs_noise": False, "reset_joint_noise": 0.0}
    cfg = dataclasses.replace(load_train_config("go2").env, **{**base, **env})
    return MujocoVecEnv(SPEC, zero_reward, cfg, seed=seed, randomization=r)


def hold(env: MujocoVecEnv, steps: int, action: float = 0.0) -> list:
    """Step with a constant action; return the reward states."""
    out = []
    for _ in range(steps):
        env.step(torch.full((env.num_envs, env.num_actions), action))
        out.append(env.last_state)
    return out


def test_payload_raises_summed_foot_force_by_m_g() -> None:
    forces = {}
    for dm in (0.0, 3.0):
        states = hold(make_env(RandomizationConfig(add_base_mass=AddBaseMass((dm, dm)))), 75)
        forces[dm] = np.mean([float(s.foot_contact_force.sum()) for s in states[50:]])  # 1.0-1.5 s, settled
    # 3 kg * 9.81 m/s^2 = 29.4 N more on the feet (measured 30.0 N)
    assert forces[3.0] - forces[0.0] == pytest.approx(3.0 * G, rel=0.1)


def test_low_friction_makes_a_fixed_push_slide_further() -> None:
    slid = {}
    for mu in (0.3, 1.25):
        r = RandomizationConfig(
            physics_material=PhysicsMaterial((mu, mu)), push_robot=PushRobot((1.0, 1.0), VelocityRanges(y=(1.0, 1.0)))
        )
        states = hold(make_env(r), 90)  # one 1 m/s sideways push at 1.0 s, the next at 2.0 s
        slid[mu] = float(states[-1].base_pos_w[0, 1] - states[45].base_pos_w[0, 1])
    # measured 0.23 m at mu 0.3 against 0.07 m at mu 1.25
    assert slid[0.3] > 2.0 * slid[1.25] > 0.0


def test_push_adds_its_velocity_on_its_timer() -> None:
    env = make_env(RandomizationConfig(push_robot=PushRobot((1.0, 1.0), VelocityRanges(x=(0.8, 0.8)))))
    states = hold(env, 60)
    vx = np.array([float(s.base_lin_vel_w[0, 0]) for s in states])
    jumps = np.diff(vx)
    # the timer runs out at 1.0 s = the 50th policy step (index 49); before it the robot only settles
    assert np.abs(jumps[:48]).max() < 0.05
    assert jumps[48] > 0.6  # 0.8 m/s added, minus what the feet's friction took in one 20 ms step


def test_softer_servos_sag_more() -> None:
    height = {}
    for k in (0.6, 1.4):
        env = make_env(RandomizationConfig(actuator_gains=ActuatorGains((k, k), (1.0, 1.0))))
        height[k] = float(hold(env, 75)[-1].base_height[0])
    # measured 0.267 m at kp x0.6 against 0.297 m at kp x1.4
    assert height[0.6] < height[1.4] - 0.015


def test_gain_and_strength_draws_are_written_into_the_servos() -> None:
    env = make_env(RandomizationConfig(actuator_gains=ActuatorGains((1.2, 1.2), (0.8, 0.8))))
    gain, bias = env.batch.expanded("actuator_gainprm"), env.batch.expanded("actuator_biasprm")
    act = env._act_ids
    np.testing.assert_allclose(gain[0, act, 0], 1.2 * np.asarray(SPEC.per_joint(SPEC.kp)))
    np.testing.assert_allclose(bias[0, act, 1], -1.2 * np.asarray(SPEC.per_joint(SPEC.kp)))
    np.testing.assert_allclose(bias[0, act, 2], -0.8 * np.asarray(SPEC.per_joint(SPEC.kd)))


def test_weaker_motors_saturate_lower() -> None:
    env = make_env(RandomizationConfig(motor_strength=MotorStrength((0.6, 0.6))))
    hold(env, 1, action=10.0)  # targets 2.5 rad away: every servo saturates
    tau = env.last_state.joint_torques[0].abs().numpy()
    limit = 0.6 * np.asarray(SPEC.per_joint(SPEC.torque_limits))
    assert (tau <= limit + 1e-4).all()
    hips_thighs = [i for i, j in enumerate(SPEC.joint_names) if "calf" not in j]
    np.testing.assert_allclose(tau[hips_thighs], limit[hips_thighs], rtol=1e-5)  # 14.22 N·m = 0.6 x 23.7


def test_joint_offset_moves_the_servo_target_and_the_reading() -> None:
    off = 0.05
    env = make_env(RandomizationConfig(joint_calibration=JointCalibration((off, off))))
    states = hold(env, 25)
    s = states[-1]
    kp, kd = np.asarray(SPEC.per_joint(SPEC.kp)), np.asarray(SPEC.per_joint(SPEC.kd))
    default = np.asarray(SPEC.per_joint(SPEC.default_joint_pos))
    q, qd = env._qpos[0, env._qadr], env._qvel[0, env._dadr]
    force = env._act_force[0, env._act_ids]  # computed one physics step before q, qd: ~0.1 N·m apart
    # the servo closes its loop on the offset encoder: force = kp (default - offset - q) - kd qd, which
    # differs from the law without the offset by kp * offset = 1.75 N·m
    assert np.abs(force - (kp * (default - off - q) - kd * qd)).max() < 0.2
    assert np.abs(force - (kp * (default - q) - kd * qd)).min() > 1.5
    # the policy reads q + offset (no noise): joint_pos_rel = q + offset - default
    obs = env.get_observations()["policy"][0, 9:21].numpy()
    np.testing.assert_allclose(obs, s.joint_pos[0].numpy() + off - default, atol=1e-5)


def test_latency_delays_the_new_targets_by_whole_physics_steps() -> None:
    nominal = make_env(RandomizationConfig())
    delayed = make_env(RandomizationConfig(action_latency=ActionLatency((0.02, 0.02))))  # 4 steps of 5 ms
    assert delayed.randomizer.draw.latency_steps[0] == 4
    hold(nominal, 1, action=0.0)
    hold(delayed, 1, action=2.0)
    # a full policy step of delay: the servos still held the reset pose, as under a zero action
    np.testing.assert_allclose(delayed._qpos, nominal._qpos, atol=1e-9)
    hold(nominal, 1, action=0.0)
    hold(delayed, 1, action=2.0)
    assert np.abs(delayed._qpos - nominal._qpos).max() > 1e-3  # now the new targets act


def test_half_latency_acts_within_the_step() -> None:
    q = {}
    for lat in (0.0, 0.01):
        env = make_env(RandomizationConfig(action_latency=ActionLatency((lat, lat))))
        hold(env, 1, action=2.0)
        q[lat] = env._qpos[0, env._qadr] - np.asarray(SPEC.per_joint(SPEC.default_joint_pos))
    # the new targets acted for 2 of 4 physics steps: the joints moved, but less than without delay
    assert 1e-4 < np.abs(q[0.01]).max() < np.abs(q[0.0]).max()


def test_com_offset_moves_load_to_the_front_feet() -> None:
    share = {}
    for x in (-0.05, 0.05):
        env = make_env(RandomizationConfig(base_com=BaseCom(AxisRanges(x=(x, x)))))
        f = hold(env, 75)[-1].foot_contact_force[0]
        share[x] = float(f[0] + f[1] - f[2] - f[3])  # front minus rear, N
    assert share[0.05] > share[-0.05] + 20.0  # measured +24.7 N against -12.1 N


def test_reset_velocity_is_drawn_from_its_ranges() -> None:
    r = RandomizationConfig(reset_base=ResetBase(VelocityRanges(x=(0.3, 0.5), yaw=(-0.5, -0.2))))
    env = make_env(r, n=16)
    v = env._qvel[:, env._base_d : env._base_d + 6]
    assert ((v[:, 0] >= 0.3) & (v[:, 0] <= 0.5)).all()
    assert ((v[:, 5] >= -0.5) & (v[:, 5] <= -0.2)).all()
    np.testing.assert_array_equal(v[:, 1:5], 0.0)


FULL = RandomizationConfig(
    physics_material=PhysicsMaterial((0.3, 1.25)),
    add_base_mass=AddBaseMass((-1.0, 3.0)),
    base_com=BaseCom(AxisRanges(x=(-0.03, 0.03), y=(-0.02, 0.02), z=(-0.01, 0.01))),
    actuator_gains=ActuatorGains((0.9, 1.1), (0.8, 1.2)),
    motor_strength=MotorStrength((0.8, 1.2)),
    joint_calibration=JointCalibration((-0.02, 0.02)),
    action_latency=ActionLatency((0.0, 0.02)),
    push_robot=PushRobot((1.0, 2.0), VelocityRanges(x=(-1.0, 1.0), y=(-1.0, 1.0))),
)


def _draws(env: MujocoVecEnv, resets: int) -> dict[str, np.ndarray]:
    out: dict[str, list] = {}
    for _ in range(resets):
        env.reset()
        for f in dataclasses.fields(env.randomizer.draw):
            out.setdefault(f.name, []).append(getattr(env.randomizer.draw, f.name).copy())
    return {k: np.concatenate(v) for k, v in out.items()}


def test_draws_stay_inside_their_ranges_and_cover_them() -> None:
    env = make_env(FULL, n=64)
    d = _draws(env, 4)  # 256 draws of each parameter (x12 joints for the per-joint ones)
    expect = {
        "friction": (0.3, 1.25),
        "added_mass_kg": (-1.0, 3.0),
        "kp_scale": (0.9, 1.1),
        "kd_scale": (0.8, 1.2),
        "torque_scale": (0.8, 1.2),
        "joint_offset_rad": (-0.02, 0.02),
    }
    for name, (lo, hi) in expect.items():
        v = d[name]
        assert v.min() >= lo and v.max() <= hi, name
        assert v.min() < lo + 0.05 * (hi - lo) and v.max() > hi - 0.05 * (hi - lo), name  # covers the range
    com = d["com_offset_m"]
    assert (np.abs(com[:, 0]) <= 0.03).all() and (np.abs(com[:, 1]) <= 0.02).all() and (np.abs(com[:, 2]) <= 0.01).all()
    assert set(np.unique(d["latency_steps"])) == {0, 1, 2, 3, 4}  # 0-20 ms in 5 ms steps
    # the simulator uses what was drawn
    mass = env.batch.expanded("body_mass")[:, env.randomizer._base]
    np.testing.assert_allclose(mass, env.randomizer._mass0 + env.randomizer.draw.added_mass_kg)
    fric = env.batch.expanded("geom_friction")
    feet = [mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_GEOM, n) for n in ("FL", "FR", "RL", "RR")]
    np.testing.assert_allclose(fric[:, feet, 0], np.repeat(env.randomizer.draw.friction[:, None], 4, axis=1))
    assert (env.randomizer.push_time_left >= 1.0 - 1e-9).all() and (env.randomizer.push_time_left <= 2.0).all()


def test_same_seed_gives_same_draws_and_trajectory() -> None:
    def run(seed: int) -> tuple[dict, np.ndarray]:
        env = make_env(FULL, n=4, seed=seed, obs_noise=True, reset_joint_noise=0.1)
        gen = torch.Generator().manual_seed(0)
        traj = [env.step(0.5 * torch.randn(4, 12, generator=gen))[0]["policy"].clone() for _ in range(60)]
        return _draws(env, 1), torch.stack(traj).numpy()

    a, b, c = run(3), run(3), run(4)
    for k in a[0]:
        np.testing.assert_array_equal(a[0][k], b[0][k])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0]["friction"], c[0]["friction"])


def test_startup_resample_keeps_each_envs_parameters() -> None:
    env = make_env(dataclasses.replace(FULL, resample="startup"), n=8)
    first = env.randomizer.draw.friction.copy()
    env.reset()
    np.testing.assert_array_equal(env.randomizer.draw.friction, first)
    env = make_env(FULL, n=8)  # resample: reset
    first = env.randomizer.draw.friction.copy()
    env.reset()
    assert not np.allclose(env.randomizer.draw.friction, first)


def test_randomization_off_is_the_nominal_simulation() -> None:
    off = dataclasses.replace(FULL, enabled=False)
    a, b = make_env(off, n=2, obs_noise=True), make_env(RandomizationConfig(), n=2, obs_noise=True)
    assert off.active() == {} and a.model.nhistory == 0
    for _ in range(10):
        oa, ob = a.step(torch.ones(2, 12))[0], b.step(torch.ones(2, 12))[0]
    torch.testing.assert_close(oa["policy"], ob["policy"], rtol=0, atol=0)


def test_obs_noise_scale_scales_the_noise() -> None:
    clean = make_env(RandomizationConfig(), n=4, seed=2)
    obs = {s: make_env(RandomizationConfig(), n=4, seed=2, obs_noise=True, obs_noise_scale=s) for s in (1.0, 2.0)}
    base = clean.get_observations()["policy"]
    torch.testing.assert_close(
        obs[2.0].get_observations()["policy"] - base, 2 * (obs[1.0].get_observations()["policy"] - base)
    )


def test_latency_history_layout_is_mujocos() -> None:
    model = build_model(SPEC, RandomizationConfig(action_latency=ActionLatency((0.0, 0.02))))
    data = mujoco.MjData(model)
    nsample = int(model.actuator_history[0, 0])
    mujoco.mj_initCtrlHistory(model, data, 3, None, np.arange(nsample, dtype=float) + 7.0)
    adr = int(model.actuator_historyadr[3]) + HISTORY_HEADER + nsample
    np.testing.assert_array_equal(data.history[adr : adr + nsample], np.arange(nsample) + 7.0)


def test_ranges_are_checked_against_physical_bounds() -> None:
    with pytest.raises(ConfigError, match=r"static_friction_range = \[0.01, 1.0\] is outside the physical bounds"):
        load_train_config("go2", None, **{"randomization.physics_material.static_friction_range": [0.01, 1.0]})
    with pytest.raises(ConfigError, match="not a range"):
        load_train_config("go2", None, **{"randomization.motor_strength.torque_limit_scale_range": [1.2, 0.8]})
    with pytest.raises(ConfigError, match="unknown key"):
        load_train_config("go2", None, **{"randomization.push_robot.velocity": [0.0, 1.0]})
    # a robot-dependent bound: at least half the Go2's 6.9 kg base must remain
    with pytest.raises(ConfigError, match="add_base_mass"):
        build_model(SPEC, RandomizationConfig(add_base_mass=AddBaseMass((-4.0, 0.0))))


def test_go2_preset_trains_with_randomization_and_records_it() -> None:
    cfg = load_train_config("go2")
    active = cfg.randomization.active()
    assert {"physics_material", "add_base_mass", "push_robot", "action_latency", "joint_calibration"} <= set(active)
    d = describe(cfg.randomization)
    assert d["enabled"] and d["physics_material"] == {"static_friction_range": [0.3, 1.25]}
    assert "terrain" not in d  # optional, off in the preset
    assert describe(dataclasses.replace(cfg.randomization, enabled=False)) == {"enabled": False, "resample": "reset"}


def test_terrain_height_matches_the_simulated_ground_and_base_height_is_above_it() -> None:
    from lm_reward_learning.envs.terrain import TerrainCurriculum

    r = RandomizationConfig(terrain=Terrain(max_height_m=0.04, levels=2, tile_size_m=4.0, tiles_per_level=2))
    env = make_env(r, n=4)
    terrain: TerrainCurriculum = env.terrain
    data = mujoco.MjData(env.model)
    mujoco.mj_forward(env.model, data)
    rng = np.random.default_rng(0)
    geom = np.zeros(1, dtype=np.int32)
    for xy in rng.uniform([-3.9, -3.9], [3.9, 3.9], size=(50, 2)):  # inside the 8 m x 8 m map
        dist = mujoco.mj_ray(env.model, data, np.array([*xy, 1.0]), np.array([0.0, 0.0, -1.0]), None, 1, -1, geom)
        # MuJoCo triangulates the cells; the bilinear height is within 2 mm of the surface it collides with
        assert abs((1.0 - dist) - float(terrain.height_at(xy))) < 0.003
    assert terrain.height_map.max() > 0.03  # the hardest level has bumps of up to 4 cm
    hold(env, 50)
    s = env.last_state
    ground = terrain.height_at(s.base_pos_w[:, :2].numpy())
    np.testing.assert_allclose(s.base_height.numpy(), s.base_pos_w[:, 2].numpy() - ground, atol=1e-6)
    assert (s.base_height > 0.2).all()  # standing on the bumps


def test_terrain_curriculum_moves_levels_by_distance_walked() -> None:
    from lm_reward_learning.envs.terrain import TerrainCurriculum

    cfg = Terrain(levels=3, tile_size_m=4.0, tiles_per_level=2, start_level=1)
    model = build_model(SPEC, RandomizationConfig(terrain=cfg))
    tc = TerrainCurriculum(cfg, model, 3, seed=0)
    spawn = tc.spawn(np.arange(3), 0.3)
    assert (np.abs(spawn[:, 1] - (tc.origin[1] + 4.0 * 1.5)) <= 1.0).all()  # level 1 = the second row of tiles
    ids = np.arange(3)
    walked = spawn[:, :2] + np.array([[3.0, 0.0], [1.0, 0.0], [0.1, 0.0]])
    tc.update_levels(ids, walked, np.tile([0.8, 0.0], (3, 1)), np.array([5.0, 2.0, 5.0]))
    # env 0: 3 m > half a 4 m tile -> up; env 1: 1 m >= 0.5 * 0.8 m/s * 2 s = 0.8 m -> stays;
    # env 2: 0.1 m < 0.5 * 0.8 m/s * 5 s = 2 m -> down
    np.testing.assert_array_equal(tc.level, [2, 1, 0])


def test_curriculum_grows_the_ranges_from_nominal() -> None:
    r = RandomizationConfig(
        curriculum_steps=100,
        physics_material=PhysicsMaterial((0.3, 1.25)),
        add_base_mass=AddBaseMass((-1.0, 3.0)),
        action_latency=ActionLatency((0.0, 0.02)),
    )
    env = make_env(r, n=64)
    d = env.randomizer.draw
    # at start-up the draws are the nominal point: the Go2 feet's 0.8, no payload, no delay
    np.testing.assert_allclose(d.friction, 0.8)
    np.testing.assert_allclose(d.added_mass_kg, 0.0)
    assert (d.latency_steps == 0).all()
    env.randomizer.set_progress(50)  # half way: friction 0.8 + 0.5 x (0.3 - 0.8) ... 0.8 + 0.5 x (1.25 - 0.8)
    env.randomizer.on_reset(np.arange(64))
    assert d.friction.min() >= 0.55 - 1e-9 and d.friction.max() <= 1.025 + 1e-9
    assert d.added_mass_kg.min() >= -0.5 - 1e-9 and d.added_mass_kg.max() <= 1.5 + 1e-9
    assert d.latency_steps.max() <= 2
    for _ in range(100):  # the env counts its policy steps
        env.step(torch.zeros(64, 12))
    assert env.randomizer.scale == 1.0
