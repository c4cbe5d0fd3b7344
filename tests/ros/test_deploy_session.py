"""An operator's session over ROS 2 in simulation: passive -> stand_up -> policy -> sit_down -> passive.

``mujoco_sim_node`` (lockstep) and ``policy_controller`` with the shipped parameter files (``start_mode:
passive``, as on hardware); the probe (``tests/deploy/ros_probe.py session``) is the operator: it sends the
heartbeat, activates the controller, lets the limp robot sink, stands it up, starts the policy, walks it at
0.5 m/s for 10 s of simulated time, stops, sits it down. Once with the services (``~/stand_up`` ...,
``cmd_vel``) and once with the gamepad (``joy`` in the unitree layout: L2 + up, R1 + X, L2 + down, the
left stick for the speed). The speed must be within 15 % of what the same policy reaches in the training
environment at the same command (``test_deploy_walk.training_speed``).
"""

from __future__ import annotations

import pytest
from ros_harness import NAMESPACE, REPO, VENV_PYTHON, start_node
from test_deploy_nodes import SHIPPED, controller_argv, run_probe
from test_deploy_walk import training_speed

pytestmark = pytest.mark.ros

SPEED = 0.5  # m/s
DURATION = 10.0  # s of simulated time
STAND_UP_S = 2.0


@pytest.fixture(scope="module")
def reference() -> float:
    """The training env's speed at 0.5 m/s (README: 0.62 m/s)."""
    return training_speed(SPEED)


@pytest.mark.parametrize("driver", ["service", "joystick"])
def test_an_operator_session_stands_walks_and_sits_the_robot(ros_env, tmp_path, reference, driver):
    sim_argv = [
        str(VENV_PYTHON), "-m", "lm_reward_learning.ros.mujoco_sim_node", "--ros-args", "-r", f"__ns:={NAMESPACE}",
        "--params-file", str(REPO / "config" / "ros" / "mujoco_sim_node.yaml"), "-p", "mode:=lockstep",
    ]  # fmt: skip
    # As on hardware (start_mode passive, the shipped file), with two allowances for a loaded CI machine, whose
    # stalls must not turn the walk into damping: the input watchdog at 0.5 s and the heartbeat at 1 s (both are
    # tested with their defaults in test_deploy_nodes and test_deploy_estop).
    ctl_argv = controller_argv(
        "-p", f"policy:={SHIPPED}", "-p", f"stand_up_s:={STAND_UP_S}", "-p", "sensor_timeout_s:=0.5",
        "-p", "heartbeat_timeout_s:=1.0",
    )  # fmt: skip
    sim = start_node(ros_env, tmp_path, sim_argv, "mujoco_sim_node")
    ctl = start_node(ros_env, tmp_path, ctl_argv, "policy_controller")
    try:
        sim.wait_for("ready: go2 in MuJoCo (lockstep", timeout=90)
        ctl.wait_for("ready (unconfigured)", timeout=90)
        out = run_probe(
            ros_env, tmp_path, "session", "--driver", driver, "--speed", str(SPEED), "--duration", str(DURATION),
            "--stand-up-s", str(STAND_UP_S), "--timeout", "150", timeout=300,
        )  # fmt: skip
    finally:
        ctl_code, sim_code = ctl.stop(), sim.stop()
    logs = f"controller:\n{ctl.log_text()[-4000:]}\nsim:\n{sim.log_text()[-2000:]}"
    assert ctl_code == 0 and sim_code == 0, logs
    assert out["configure"] and out["activate"] and out["deactivate"], logs
    modes = [s.split(":")[0] for s in out["states"]]
    assert modes[-5:] == ["passive", "stand_up", "policy", "sit_down", "passive"], out["states"]
    assert "damping" not in modes and "hold" not in modes, out["states"]
    if driver == "service":
        assert out["stand_up"] == [True, "stand_up: service: stand_up"]
        ok, why = out["policy_too_early"]
        assert not ok and why.startswith("still standing up ("), why
    else:
        assert "joystick asked for stand_up: stand_up: joystick: stand_up" in ctl.log_text(), logs
    # Limp on the floor, standing, walking within 15 % of training without falling, sitting.
    assert out["z_passive"] < 0.15 and out["z_standing"] > 0.25 and out["z_sat"] < 0.15, out
    assert out["sim_time_s"] >= DURATION - 0.05
    assert out["speed_x"] == pytest.approx(reference, rel=0.15), (out, reference)
    assert abs(out["speed_y"]) < 0.2 and out["min_height"] > 0.2 and out["max_tilt_rad"] < 0.5, out
    d = out["diagnostics"]
    assert d["mode"] == "passive" and float(d["faults"]) == 0 and d["e_stop"] == "released", d
    print(
        f"session ({driver}): passive z {out['z_passive']:.3f} m, standing {out['z_standing']:.3f} m, walked "
        f"{out['speed_x']:.3f} m/s at {SPEED} m/s (training env {reference:.3f} m/s) over {out['sim_time_s']:.1f} s "
        f"simulated in {out['wall_time_s']:.1f} s wall, sat {out['z_sat']:.3f} m"
    )
