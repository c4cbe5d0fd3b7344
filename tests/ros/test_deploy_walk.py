"""Sim-to-sim over ROS 2: the exported Go2 and G1 policies walk in ``mujoco_sim_node`` through ``policy_controller``.

Real processes, real rclpy: ``mujoco_sim_node`` (lockstep: each joint command advances 20 ms of
simulated time, so a loaded machine slows the run down instead of changing its result) and
``policy_controller`` with the shipped parameter files; the probe (``tests/deploy/ros_probe.py walk``)
configures and activates the controller, sends ``cmd_vel`` (0.5 or 0.8 m/s) and reads the simulator's
odometry over 10 s of simulated time once the policy runs. The reference speed is what the same ONNX
policy reaches in the training environment (``MujocoVecEnv``) at the same command, measured here. An
over-range ``cmd_vel`` must be clamped to the trained ranges with the robot still walking.

The G1 policy (``policies/g1/walk``) acts on the 12 leg joints with a gait clock; the controller holds
the other 17 joints at their default angles and runs the clock from the policy's start, in the full
29-joint model of ``mujoco_sim_node`` (training welds those joints). Its reference is the same ONNX
policy in the training env (``lmrl evaluate``'s exported-policy env), and issue 14 asks for >= 85 % of it.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch
from ros_harness import NAMESPACE, REPO, VENV_PYTHON, start_node

sys.path.insert(0, str(REPO / "tests" / "deploy"))
from policy_files import SHIPPED
from test_deploy_nodes import controller_argv, run_probe

pytestmark = pytest.mark.ros

DURATION = 10.0  # s of simulated time


def training_speed(command: float, duration: float = DURATION) -> float:
    """Forward speed of the shipped ONNX policy in the training env at ``command`` m/s (no observation noise), m/s."""
    from lm_reward_learning.config import load_train_config
    from lm_reward_learning.envs.mujoco_env import MujocoVecEnv
    from lm_reward_learning.reward.program import default_program, load_reward_fn
    from lm_reward_learning.robots import get_robot

    cfg = load_train_config("go2")
    env_cfg = dataclasses.replace(cfg.env, num_envs=1, obs_noise=False, num_threads=1)
    env = MujocoVecEnv(get_robot("go2"), load_reward_fn(default_program("go2").source), env_cfg, seed=0)
    sess = ort.InferenceSession(str(SHIPPED / "policy.onnx"), providers=["CPUExecutionProvider"])
    obs = env.start_rollout((command, 0.0, 0.0), duration_s=duration + 1.0)
    x0 = float(env.last_state.base_pos_w[0, 0])
    steps = round(duration / env.dt)
    for _ in range(steps):
        action = sess.run(None, {"obs": obs["policy"].numpy()})[0]
        obs, _, done, _ = env.step(torch.from_numpy(action))
        assert not done.any(), "the shipped policy fell in the training env"
    return (float(env.last_state.base_pos_w[0, 0]) - x0) / (steps * env.dt)


def sim_to_sim(
    ros_env, tmp_path, *probe_args: str, duration: float = DURATION, policy=SHIPPED, robot: str = "go2"
) -> tuple[dict, str]:
    """``mujoco_sim_node`` (lockstep) + ``policy_controller`` with the shipped files; the walk probe's result."""
    sim_argv = [
        str(VENV_PYTHON), "-m", "lm_reward_learning.ros.mujoco_sim_node", "--ros-args", "-r", f"__ns:={NAMESPACE}",
        "--params-file", str(REPO / "config" / "ros" / "mujoco_sim_node.yaml"), "-p", "mode:=lockstep",
        "-p", f"robot:={robot}",
    ]  # fmt: skip
    # The watchdog is tested with its default (100 ms) in test_deploy_nodes; here a loaded CI machine may
    # stall a process for longer than that, which must not turn a walking test into a damping one.
    ctl_argv = controller_argv(
        "-p", f"policy:={policy}", "-p", "stand_up_s:=1.0", "-p", "sensor_timeout_s:=0.5", "-p", "start_mode:=policy"
    )  # fmt: skip
    sim = start_node(ros_env, tmp_path, sim_argv, "mujoco_sim_node")
    ctl = start_node(ros_env, tmp_path, ctl_argv, "policy_controller")
    try:
        sim.wait_for(f"ready: {robot} in MuJoCo (lockstep", timeout=90)
        ctl.wait_for("ready (unconfigured)", timeout=90)
        out = run_probe(
            ros_env, tmp_path, "walk", *probe_args, "--duration", str(duration), "--timeout", "150", timeout=240
        )
    finally:
        ctl_code, sim_code = ctl.stop(), sim.stop()
    logs = f"controller:\n{ctl.log_text()[-3000:]}\nsim:\n{sim.log_text()[-2000:]}"
    assert ctl_code == 0 and sim_code == 0, logs
    assert out["configure"] and out["activate"] and out["deactivate"], logs
    return out, logs


@pytest.mark.parametrize("command", [0.5, 0.8])
def test_exported_policy_walks_in_mujoco_sim_node_through_policy_controller(ros_env, tmp_path, command):
    reference = training_speed(command)
    assert reference == pytest.approx({0.5: 0.62, 0.8: 0.87}[command], abs=0.05)  # README: measured

    out, _logs = sim_to_sim(ros_env, tmp_path, "--speed", str(command))

    # Walked 10 s of simulated time at the commanded speed, within 15 % of what training reached.
    assert out["sim_time_s"] >= DURATION - 0.05
    assert out["speed_x"] == pytest.approx(reference, rel=0.15), out
    assert abs(out["speed_y"]) < 0.2
    # No fall: the base stays well above the fall height (0.15 m) and nearly level.
    assert out["min_height"] > 0.2 and out["max_tilt_rad"] < 0.5, out
    # The safety layer never intervened.
    modes = [s.split(":")[0] for s in out["states"]]
    assert (
        modes[-4:] == ["inactive", "passive", "stand_up", "policy"] and "damping" not in modes and "hold" not in modes
    )
    d = out["diagnostics"]
    assert d["mode"] == "policy" and float(d["faults"]) == 0 and float(d["rate_limited"]) == 0
    assert d["command"] == f"{command:.4g} 0 0" and float(d["cmd_clamped"]) == 0
    # A sanity bound (the benchmark measures jitter properly): with the two cores shared by other jobs
    # (load average 6 seen here) the 99th percentile reaches 25 ms.
    assert float(d["jitter_p99_ms"]) < 50.0
    print(
        f"sim-to-sim at {command} m/s: {out['speed_x']:.3f} m/s (training {reference:.3f} m/s) over "
        f"{out['sim_time_s']:.1f} s simulated in {out['wall_time_s']:.1f} s wall; jitter p50/p99 "
        f"{d['jitter_p50_ms']}/{d['jitter_p99_ms']} ms, inference p50/p99 {d['inference_p50_us']}/"
        f"{d['inference_p99_us']} µs"
    )
    assert np.isfinite(out["speed_x"])


def test_an_over_range_cmd_vel_is_clamped_and_the_robot_keeps_walking(ros_env, tmp_path):
    """cmd_vel (2, 2, 4) is far outside the trained v_x [0.5, 1] m/s, v_y = yaw rate = 0: clamped to (1, 0, 0)."""
    out, logs = sim_to_sim(ros_env, tmp_path, "--cmd", "2.0,2.0,4.0", duration=4.0)
    assert out["min_height"] > 0.2 and out["max_tilt_rad"] < 0.5, out  # did not fall
    d = out["diagnostics"]
    assert d["command"] == "1 0 0" and d["command_requested"] == "2 2 4" and float(d["cmd_clamped"]) > 0, d
    assert out["speed_x"] > 0.6 and "damping" not in " ".join(out["states"]), out
    assert "is outside the range the policy was trained on" in logs


G1_WALK = REPO / "policies" / "g1" / "walk"


def g1_training_speed(command: float, tmp_path, duration: float = DURATION) -> float:
    """Forward speed of policies/g1/walk in its training env (``lmrl evaluate``'s exported-policy env), m/s."""
    from lm_reward_learning.evaluation.targets import resolve_target

    result = resolve_target(G1_WALK).rollout(duration + 1.0, (command, 0.0, 0.0), tmp_path / "rollout.npz")
    assert not result.fell, "policies/g1/walk fell in its training env"
    return result.mean_forward_speed


@pytest.mark.skipif(not (G1_WALK / "policy.onnx").is_file(), reason="policies/g1/walk is not shipped yet (issue 14)")
def test_g1_walk_policy_walks_in_mujoco_sim_node_through_policy_controller(ros_env, tmp_path):
    command = 0.6
    reference = g1_training_speed(command, tmp_path)
    assert reference > 0.5

    out, logs = sim_to_sim(ros_env, tmp_path, "--speed", str(command), policy=G1_WALK, robot="g1")

    assert "(+17 held at their default angles)" in logs
    assert out["sim_time_s"] >= DURATION - 0.05
    # issue 14: at least 85 % of the training env's speed, no fall (pelvis above 0.5 m, nearly upright)
    assert out["speed_x"] >= 0.85 * reference, out
    assert out["min_height"] > 0.5 and out["max_tilt_rad"] < 0.5, out
    modes = [s.split(":")[0] for s in out["states"]]
    assert modes[-4:] == ["inactive", "passive", "stand_up", "policy"] and "damping" not in modes, out
    d = out["diagnostics"]
    assert d["mode"] == "policy" and float(d["faults"]) == 0
    print(f"G1 sim-to-sim at {command} m/s: {out['speed_x']:.3f} m/s (training env {reference:.3f} m/s)")


@pytest.fixture(scope="module")
def tiny_g1_legs_policy(tmp_path_factory):
    """A G1 legs + gait clock policy after one PPO iteration (config/train/g1.yaml), exported: it does not
    walk, but it is exported and deployed exactly as policies/g1/walk would be."""
    from lm_reward_learning.config import load_train_config
    from lm_reward_learning.export import export_run
    from lm_reward_learning.reward.program import default_program
    from lm_reward_learning.training.trainer import prepare_run, train

    cfg = load_train_config("g1", iterations=1, **{"env.num_envs": 8, "ppo.num_steps_per_env": 8})
    run = prepare_run("g1", default_program("g1"), cfg, tmp_path_factory.mktemp("runs"), "legs")
    train(run, cfg, progress=False)
    return export_run(run, tmp_path_factory.mktemp("policies"), name="legs").onnx_path.parent


def test_a_g1_legs_policy_runs_in_mujoco_sim_node_with_the_other_joints_held(ros_env, tmp_path, tiny_g1_legs_policy):
    """The controller commands all 29 joints of the simulated G1 (12 from the policy, 17 held at their
    default angles) through stand-up into policy mode, and the simulator takes every command. The
    one-iteration policy cannot balance: the safety layer may damp it when it tilts, for no other reason."""
    out, logs = sim_to_sim(ros_env, tmp_path, "--speed", "0.0", duration=1.0, policy=tiny_g1_legs_policy, robot="g1")
    assert "12 joints (+17 held at their default angles), observation 47" in logs
    assert "ignored joint_commands" not in logs and "ignored a joint command" not in logs
    modes = [s.split(":")[0] for s in out["states"]]
    start = modes.index("stand_up")
    assert modes[start - 2 : start + 2] == ["inactive", "passive", "stand_up", "policy"], out
    assert all(s.startswith("damping: base tilted") for s in out["states"][start + 2 :]), out
    assert out["sim_time_s"] >= 1.0 - 0.05
