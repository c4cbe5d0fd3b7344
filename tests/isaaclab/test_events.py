"""The randomization section as Isaac Lab event terms: Isaac Lab's names and parameters, passed through
(pure Python; the terms themselves run in tests/isaaclab/test_randomization_isaaclab.py)."""

from __future__ import annotations

import dataclasses

import pytest

from lm_reward_learning.config import load_train_config, to_dict
from lm_reward_learning.errors import ConfigError
from lm_reward_learning.isaaclab_backend.events import event_specs, ground_friction, reset_velocity_range
from lm_reward_learning.randomization import Terrain
from lm_reward_learning.robots import get_robot

SPEC = get_robot("go2")


def _specs(r):
    return event_specs(to_dict(r), base_body="base", joints=list(SPEC.joint_names), physics_dt=0.005)


def test_go2_preset_maps_to_isaac_labs_own_events() -> None:
    r = load_train_config("go2").randomization
    ev = _specs(r)
    assert ev["physics_material"].func == "mdp.randomize_rigid_body_material"
    assert ev["physics_material"].params["static_friction_range"] == (0.3, 1.25)
    assert ev["add_base_mass"].func == "mdp.randomize_rigid_body_mass"
    assert ev["add_base_mass"].params["operation"] == "add" and ev["add_base_mass"].params["recompute_inertia"]
    assert ev["add_base_mass"].params["mass_distribution_params"] == (-1.0, 3.0)
    assert ev["add_base_mass"].asset == {"body_names": ["base"]}
    assert ev["base_com"].func == "mdp.randomize_rigid_body_com"
    assert ev["base_com"].params["com_range"] == {"x": (-0.03, 0.03), "y": (-0.03, 0.03), "z": (-0.01, 0.01)}
    assert ev["actuator_gains"].func == "mdp.randomize_actuator_gains"
    assert ev["actuator_gains"].params["operation"] == "scale"
    assert ev["push_robot"].func == "mdp.push_by_setting_velocity" and ev["push_robot"].mode == "interval"
    assert ev["push_robot"].interval_range_s == (5.0, 10.0)
    assert ev["push_robot"].params["velocity_range"] == {"x": (-1.0, 1.0), "y": (-1.0, 1.0)}
    # no Isaac Lab event: ours
    assert ev["motor_strength"].func == "lmrl.motor_strength_term"
    assert ev["joint_calibration"].func == "lmrl.set_joint_calibration"
    assert ev["action_latency"].params == {"steps_range": (0, 4)}  # 0-20 ms in 5 ms physics steps
    assert {e.mode for n, e in ev.items() if n != "push_robot"} == {"reset"}
    assert reset_velocity_range(to_dict(r))["roll"] == (-0.5, 0.5)
    # the ground takes the low end, so the contact's friction (the larger of the two) is the robot's draw
    assert ground_friction(to_dict(r), 0.8) == 0.3


def test_off_startup_and_terrain() -> None:
    r = load_train_config("go2").randomization
    assert _specs(dataclasses.replace(r, enabled=False)) == {}
    assert ground_friction(to_dict(dataclasses.replace(r, enabled=False)), 0.8) == 0.8
    assert {e.mode for e in _specs(dataclasses.replace(r, resample="startup")).values()} == {"startup", "interval"}
    with pytest.raises(ConfigError, match="terrain is not available in the Isaac Lab task"):
        _specs(dataclasses.replace(r, terrain=Terrain()))


def test_curriculum_maps_to_modify_term_cfg_ramps() -> None:
    from types import SimpleNamespace

    from lm_reward_learning.isaaclab_backend.events import curriculum_specs, ramp_param

    r = dataclasses.replace(load_train_config("go2").randomization, curriculum_steps=1000)
    d = to_dict(r)
    ramps = curriculum_specs(d, _specs(r))
    assert (
        ramps["add_base_mass_mass_distribution_params"]["address"]
        == "events.add_base_mass.params.mass_distribution_params"
    )
    assert "physics_material_static_friction_range" not in ramps  # Newton reads that range once
    assert ramps["reset_base_velocity_range"]["address"] == "events.reset_base.params.velocity_range"
    mass = ramps["add_base_mass_mass_distribution_params"]["modify_params"]
    assert ramp_param(SimpleNamespace(common_step_counter=0), None, None, **mass) == (0.0, 0.0)
    assert ramp_param(SimpleNamespace(common_step_counter=500), None, None, **mass) == (-0.5, 1.5)
    assert ramp_param(SimpleNamespace(common_step_counter=5000), None, None, **mass) == (-1.0, 3.0)
    push = ramps["push_robot_velocity_range"]["modify_params"]
    assert ramp_param(SimpleNamespace(common_step_counter=250), None, None, **push) == {
        "x": (-0.25, 0.25),
        "y": (-0.25, 0.25),
    }
    lat = ramps["action_latency_steps_range"]["modify_params"]
    assert ramp_param(SimpleNamespace(common_step_counter=500), None, None, **lat) == (0, 2)
    assert curriculum_specs(to_dict(dataclasses.replace(r, curriculum_steps=0)), _specs(r)) == {}  # no curriculum
