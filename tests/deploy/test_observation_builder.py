"""ObservationBuilder and JointMap: the deployed observation equals training's for the same state."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from policy_files import SHIPPED

from lm_reward_learning.config import load_train_config
from lm_reward_learning.deploy import DeployedPolicy, JointMap, ObservationBuilder, PolicyMismatchError
from lm_reward_learning.deploy.observation import projected_gravity, roll_pitch
from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
from lm_reward_learning.reward.program import default_program, load_reward_fn
from lm_reward_learning.robots import get_robot


def test_observation_matches_the_training_env_for_the_same_state():
    """Random actions move 4 envs away from their reset; each env's observation is rebuilt from what a
    driver would publish (joint states in a shuffled order, an IMU quaternion x y z w, the command)."""
    spec = get_robot("go2")
    cfg = load_train_config("go2")
    env_cfg = dataclasses.replace(cfg.env, num_envs=4, obs_noise=False, num_threads=1)
    env = MujocoVecEnv(spec, load_reward_fn(default_program("go2").source), env_cfg, seed=3)
    builder = ObservationBuilder(DeployedPolicy.load(SHIPPED).facts)
    rng = np.random.default_rng(0)
    driver_order = list(rng.permutation(spec.joint_names))  # the driver lists joints in its own order
    jmap = JointMap(spec.joint_names, driver_order)
    checked = 0
    for _ in range(5):
        obs, *_ = env.step(torch.from_numpy(rng.normal(0.0, 1.0, size=(4, 12)).astype(np.float32)))
        s = env.last_state
        for i in range(4):
            by_name_pos = dict(zip(spec.joint_names, s.joint_pos[i].double().numpy(), strict=True))
            by_name_vel = dict(zip(spec.joint_names, s.joint_vel[i].double().numpy(), strict=True))
            w, x, y, z = s.base_quat_w[i].double().numpy()
            got = builder.build(
                jmap.gather([by_name_pos[n] for n in driver_order]),
                jmap.gather([by_name_vel[n] for n in driver_order]),
                s.base_ang_vel_b[i].double().numpy(),
                np.array([x, y, z, w]),
                s.commands[i].double().numpy(),
                s.actions[i].double().numpy(),
            )
            assert got.dtype == np.float32 and got.shape == (45,)
            np.testing.assert_allclose(got, obs["policy"][i].numpy(), rtol=0, atol=2e-6)
            checked += 1
    assert checked == 20


def test_projected_gravity_and_roll_pitch_of_known_rotations():
    level = [0.0, 0.0, 0.0, 1.0]
    np.testing.assert_allclose(projected_gravity(level), [0.0, 0.0, -1.0])
    assert roll_pitch(level) == (0.0, 0.0)
    # Roll phi about x: q = (sin(phi/2), 0, 0, cos(phi/2)); R^T (0,0,-1) = (0, -sin phi, -cos phi).
    phi = 0.3
    q = [math.sin(phi / 2), 0.0, 0.0, math.cos(phi / 2)]
    np.testing.assert_allclose(projected_gravity(q), [0.0, -math.sin(phi), -math.cos(phi)], atol=1e-12)
    assert roll_pitch(q) == pytest.approx((phi, 0.0))
    # Pitch theta about y: R^T (0,0,-1) = (sin theta, 0, -cos theta); a yaw on top changes neither.
    th, yaw = -0.4, 1.2
    qy = np.array([0.0, math.sin(th / 2), 0.0, math.cos(th / 2)])
    qz = np.array([0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)])
    x1, y1, z1, w1 = qz
    x2, y2, z2, w2 = qy
    q_zy = [  # qz * qy (Hamilton product, x y z w)
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
    ]
    np.testing.assert_allclose(projected_gravity(q_zy), [math.sin(th), 0.0, -math.cos(th)], atol=1e-12)
    assert roll_pitch(q_zy) == pytest.approx((0.0, th))
    # Not normalised (as some IMUs send): normalised first. Non-finite: NaN.
    np.testing.assert_allclose(projected_gravity([0.0, 0.0, 0.0, 2.0]), [0.0, 0.0, -1.0])
    assert np.isnan(projected_gravity([math.nan, 0.0, 0.0, 1.0])).all()


def test_joint_map_orders_by_name_and_names_what_is_missing():
    m = JointMap(["a", "b", "c"], ["c", "x", "a", "b"])
    np.testing.assert_array_equal(m.gather([3.0, 9.0, 1.0, 2.0]), [1.0, 2.0, 3.0])
    assert m.extra == ["x"]
    # An empty velocity array (allowed by JointState) gives NaNs, which the safety layer reports.
    assert np.isnan(m.gather([])).all()
    with pytest.raises(PolicyMismatchError, match=r"joints \['b'\] are not in joint_states"):
        JointMap(["a", "b"], ["a", "B"])
    with pytest.raises(PolicyMismatchError, match=r"names joints \['a'\] more than once"):
        JointMap(["a"], ["a", "a"])


def test_a_policy_for_another_robot_is_refused_in_a_short_message():
    """The G1 policy (29 joints) against the Go2's joint_states (12): every joint named at most once."""
    g1, go2 = get_robot("g1").joint_names, get_robot("go2").joint_names
    with pytest.raises(PolicyMismatchError) as err:
        JointMap(g1, go2, robot="g1")
    msg = str(err.value)
    assert msg.startswith("joint name mismatch: none of the 29 joints of the policy for g1 (['left_hip_pitch_joint'")
    assert "... and 23 more]) is in joint_states, which has 12 other joints (['FL_hip_joint'" in msg
    assert "deploy a policy for this robot" in msg
    assert len(msg) < 450, len(msg)  # was 1.8 kB: every policy joint twice and every driver joint
    assert all(msg.count(f"'{n}'") <= 1 for n in (*g1, *go2))
    # One joint renamed: the missing joint and the driver's unused joints (the remap candidates), once each.
    renamed = [n.replace("FL_calf", "FL_knee") for n in go2]
    with pytest.raises(PolicyMismatchError) as err:
        JointMap(go2, renamed)
    assert str(err.value).startswith(
        "joint name mismatch: the policy's joints ['FL_calf_joint'] are not in joint_states (its joints that the "
        "policy does not use: ['FL_knee_joint'])"
    )
