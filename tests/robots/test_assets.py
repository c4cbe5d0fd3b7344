"""Every registered robot: its vendored MJCF loads, matches its spec, and stands on its servos."""

from __future__ import annotations

import dataclasses
from functools import cache

import mujoco
import numpy as np
import pytest

from lm_reward_learning.errors import UnknownRobotError
from lm_reward_learning.robots import (
    FLOOR_GEOM,
    ROBOTS,
    TOUCH_SUFFIX,
    RobotModelError,
    RobotSpec,
    actuator_ids,
    foot_site_ids,
    foot_touch_adr,
    get_robot,
    joint_dof_adr,
    joint_qpos_adr,
    load_model,
)

NAMES = sorted(ROBOTS)
DECIMATION = 4  # physics steps per policy step: 200 Hz physics, 50 Hz policy
STAND_S = 2.0


@cache
def _model(name: str) -> mujoco.MjModel:
    return load_model(ROBOTS[name])


@cache
def _stand(name: str) -> dict[str, np.ndarray]:
    """Hold the default pose for STAND_S from the home keyframe; record the base at every policy step.

    A humanoid on position servos alone is an inverted pendulum whose ankle servos are softer than
    gravity's toppling stiffness (G1: 2 × 28.5 N·m/rad against m·g·h ≈ 230 N·m/rad), so it tips over
    in ~1.5 s. For humanoids the ankle targets therefore get a proportional-derivative correction on
    the centre of mass over the feet (the "ankle strategy"), written at the policy rate through
    ``ctrl`` like a policy would; every other joint stays at its default.
    """
    spec, model = ROBOTS[name], _model(name)
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    act, sites = actuator_ids(model, spec), foot_site_ids(model, spec)
    default = np.asarray(spec.per_joint(spec.default_joint_pos))
    pitch = [i for i, j in enumerate(spec.joint_names) if j.endswith("ankle_pitch_joint")]
    roll = [i for i, j in enumerate(spec.joint_names) if j.endswith("ankle_roll_joint")]
    base = model.body(spec.base_body).id
    heights, gravity_z, max_qvel = [], [], []
    for _ in range(round(STAND_S / (DECIMATION * model.opt.timestep))):
        ctrl = default.copy()
        if spec.kind == "humanoid":
            mujoco.mj_subtreeVel(model, data)
            com = data.subtree_com[base] - data.site_xpos[sites].mean(axis=0)  # m, world frame
            vel = data.subtree_linvel[base]  # m/s
            ctrl[pitch] += 30.0 * com[0] + 3.0 * vel[0]  # COM ahead -> push the toes down
            ctrl[roll] -= 30.0 * com[1] + 3.0 * vel[1]
        data.ctrl[act] = ctrl
        mujoco.mj_step(model, data, nstep=DECIMATION)
        heights.append(data.xpos[base, 2])
        gravity_z.append(data.xmat[base].reshape(3, 3)[2, 2] * -1.0)  # projected gravity z, base frame
        max_qvel.append(np.abs(data.qvel).max())
    return {
        "height": np.asarray(heights),
        "gravity_z": np.asarray(gravity_z),
        "max_qvel": np.asarray(max_qvel),
        "foot_z": data.site_xpos[sites, 2].copy(),
        "touch": data.sensordata[foot_touch_adr(model, spec)].copy(),
        "weight": mujoco.mj_getTotalmass(model) * -model.opt.gravity[2],
    }


# ------------------------------------------------------------------------------------------ registry
def test_get_robot_returns_registered_specs() -> None:
    for name in NAMES:
        assert get_robot(name) is ROBOTS[name]
        assert ROBOTS[name].name == name


def test_get_robot_unknown_name_lists_known_robots() -> None:
    with pytest.raises(UnknownRobotError) as err:
        get_robot("nope")
    message = str(err.value)
    assert "'nope'" in message
    assert all(name in message for name in NAMES)
    assert "ROBOTS" in message  # says how to add one


# ---------------------------------------------------------------------------------------------- spec
@pytest.mark.parametrize("name", NAMES)
def test_spec_tables_cover_exactly_the_joints(name: str) -> None:
    spec = ROBOTS[name]
    assert len(set(spec.joint_names)) == spec.num_joints
    for table in (spec.default_joint_pos, spec.kp, spec.kd, spec.torque_limits):
        assert set(table) == set(spec.joint_names)
    assert min(spec.kp.values()) > 0 and min(spec.kd.values()) > 0 and min(spec.torque_limits.values()) > 0
    assert len(spec.foot_bodies) == spec.num_feet == (4 if spec.kind == "quadruped" else 2)
    assert spec.min_base_height < spec.nominal_base_height < spec.init_base_height


# --------------------------------------------------------------------------------------------- model
@pytest.mark.parametrize("name", NAMES)
def test_model_has_every_name_in_the_spec(name: str) -> None:
    spec, model = ROBOTS[name], _model(name)
    assert model.opt.timestep == pytest.approx(0.005)
    assert model.opt.cone == mujoco.mjtCone.mjCONE_PYRAMIDAL
    for body in (spec.base_body, *spec.foot_bodies, *spec.termination_bodies):
        assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body) >= 0, body
    for site in (*spec.foot_sites, "imu"):
        assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site) >= 0, site
    for site in spec.foot_sites:
        sensor = model.sensor(site + TOUCH_SUFFIX)
        assert sensor.type == mujoco.mjtSensor.mjSENS_TOUCH
        assert sensor.objid == model.site(site).id
    for site, body in zip(spec.foot_sites, spec.foot_bodies, strict=True):
        assert model.site(site).bodyid == model.body(body).id
    assert model.nu == spec.num_joints  # every actuator is in the spec: no hidden servos
    assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_KEY, "home") >= 0


@pytest.mark.parametrize("name", NAMES)
def test_actuators_map_by_name_and_carry_the_spec_gains(name: str) -> None:
    spec = ROBOTS[name]
    # Both the model as loaded (gains set from the spec) and the raw MJCF (as vendored) must match.
    for model in (_model(name), mujoco.MjModel.from_xml_path(str(spec.mjcf_path))):
        act = actuator_ids(model, spec)
        for i, joint in enumerate(spec.joint_names):
            a = act[i]
            assert model.actuator(a).name == joint
            assert model.actuator_trnid[a, 0] == model.joint(joint).id
            kp, kd, tau = spec.kp[joint], spec.kd[joint], spec.torque_limits[joint]
            # force = gain·ctrl + bias0 + bias1·q + bias2·q̇ = kp·(ctrl − q) − kd·q̇
            np.testing.assert_allclose(model.actuator_gainprm[a, 0], kp, rtol=1e-5)
            np.testing.assert_allclose(model.actuator_biasprm[a, :3], [0.0, -kp, -kd], rtol=1e-5)
            assert model.actuator_forcelimited[a]
            np.testing.assert_allclose(model.actuator_forcerange[a], [-tau, tau], rtol=1e-5)
            assert model.actuator_ctrllimited[a]
            np.testing.assert_allclose(model.actuator_ctrlrange[a], model.jnt_range[model.joint(joint).id])


@pytest.mark.parametrize("name", NAMES)
def test_index_helpers_follow_names_not_order(name: str) -> None:
    spec, model = ROBOTS[name], _model(name)
    qadr, dadr = joint_qpos_adr(model, spec), joint_dof_adr(model, spec)
    for i, joint in enumerate(spec.joint_names):
        assert qadr[i] == model.joint(joint).qposadr[0]
        assert dadr[i] == model.joint(joint).dofadr[0]
    reversed_spec = dataclasses.replace(spec, joint_names=spec.joint_names[::-1])
    np.testing.assert_array_equal(actuator_ids(model, reversed_spec), actuator_ids(model, spec)[::-1])
    np.testing.assert_array_equal(joint_qpos_adr(model, reversed_spec), qadr[::-1])


@pytest.mark.parametrize("name", NAMES)
def test_home_keyframe_is_the_spec_default_pose_at_spawn_height(name: str) -> None:
    spec, model = ROBOTS[name], _model(name)
    key = model.key("home")
    assert key.qpos[2] == pytest.approx(spec.init_base_height)
    np.testing.assert_allclose(key.qpos[joint_qpos_adr(model, spec)], spec.per_joint(spec.default_joint_pos))
    np.testing.assert_allclose(key.ctrl[actuator_ids(model, spec)], spec.per_joint(spec.default_joint_pos))
    for joint, q in spec.default_joint_pos.items():
        low, high = model.jnt_range[model.joint(joint).id]
        assert low <= q <= high, joint


def test_a_spec_joint_missing_from_the_model_is_a_clear_error() -> None:
    spec: RobotSpec = dataclasses.replace(
        ROBOTS["go2"],
        joint_names=(*ROBOTS["go2"].joint_names, "tail_joint"),
        kp={**ROBOTS["go2"].kp, "tail_joint": 1.0},
        kd={**ROBOTS["go2"].kd, "tail_joint": 1.0},
        torque_limits={**ROBOTS["go2"].torque_limits, "tail_joint": 1.0},
    )
    with pytest.raises(RobotModelError, match="tail_joint"):
        load_model(spec)


# ---------------------------------------------------------------------------------------- collisions
@pytest.mark.parametrize("name", NAMES)
def test_only_feet_and_trunk_collide_with_the_floor_and_never_with_each_other(name: str) -> None:
    spec, model = ROBOTS[name], _model(name)
    floor = model.geom(FLOOR_GEOM).id
    allowed = {model.body(b).id for b in (*spec.foot_bodies, *spec.termination_bodies)}

    def can_collide(a: int, b: int) -> bool:
        return bool(
            model.geom_contype[a] & model.geom_conaffinity[b] or model.geom_contype[b] & model.geom_conaffinity[a]
        )

    robot = [g for g in range(model.ngeom) if model.geom_bodyid[g] != 0]
    touching = {model.geom_bodyid[g] for g in robot if can_collide(g, floor)}
    assert touching <= allowed, [model.body(b).name for b in touching - allowed]
    assert {model.body(b).id for b in spec.foot_bodies} <= touching  # every foot touches the floor
    assert not any(can_collide(a, b) for a in robot for b in robot if a < b)  # no self-collisions


# ------------------------------------------------------------------------------------------- standing
@pytest.mark.parametrize("name", NAMES)
def test_robot_stands_on_its_servos_in_the_default_pose(name: str) -> None:
    spec, run = ROBOTS[name], _stand(name)
    assert np.all(run["max_qvel"] < 50.0), "the drop from the spawn height blew up"
    assert np.all(run["gravity_z"] < -0.95), "the base tipped over"
    assert run["height"][-1] == pytest.approx(spec.nominal_base_height, abs=0.03)
    assert np.all(run["height"] > spec.min_base_height)


@pytest.mark.parametrize("name", NAMES)
def test_foot_sites_sit_on_the_floor_and_their_touch_sensors_carry_the_weight(name: str) -> None:
    run = _stand(name)
    np.testing.assert_allclose(run["foot_z"], 0.0, atol=0.01)  # m: sites are at the contact points
    assert np.all(run["touch"] > 0.0)  # every foot loaded
    # Standing still, the feet carry the whole weight (N); the humanoid's balance loop adds a little
    # vertical acceleration.
    assert run["touch"].sum() == pytest.approx(run["weight"], rel=0.1)
