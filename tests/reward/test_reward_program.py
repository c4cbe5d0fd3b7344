"""Reward programs as data: hashing, files, the bundled defaults, loading in the trainer's process."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from lm_reward_learning.errors import LmrlError, RewardValidationError, UnknownRobotError
from lm_reward_learning.reward.batch import load_state_batch
from lm_reward_learning.reward.program import (
    DEFAULT_PROGRAM_ROBOTS,
    RewardProgram,
    default_program,
    load_reward_fn,
)
from lm_reward_learning.reward.sandbox import SandboxRequiredError
from lm_reward_learning.reward.static_checks import check_source
from lm_reward_learning.reward.validator import ensure_valid, validate_programs


def test_hash_is_the_sha256_of_the_utf8_source() -> None:
    # SHA-256("abc") from FIPS 180-2, appendix B.1.
    program = RewardProgram(source="abc", name="x")
    assert program.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert RewardProgram(source="abc", name="y", origin="llm").sha256 == program.sha256


def test_from_file_keeps_the_text_and_hash(tmp_path: Path) -> None:
    path = tmp_path / "candidate_3.py"
    path.write_text(default_program("go2").source, encoding="utf-8")
    program = RewardProgram.from_file(path)
    assert program.name == "candidate_3"
    assert program.origin == f"file:{path.resolve()}"
    assert program.sha256 == default_program("go2").sha256
    assert program.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_from_file_missing(tmp_path: Path) -> None:
    with pytest.raises(LmrlError, match=r"nope\.py does not exist; give the path of a \.py file"):
        RewardProgram.from_file(tmp_path / "nope.py")


def test_from_file_not_text(tmp_path: Path) -> None:
    path = tmp_path / "binary.py"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(LmrlError, match="cannot read reward program"):
        RewardProgram.from_file(path)


def test_unknown_default_robot() -> None:
    with pytest.raises(UnknownRobotError, match="no default reward program for robot 'spot'; available: go2, g1"):
        default_program("spot")


@pytest.mark.parametrize("robot", DEFAULT_PROGRAM_ROBOTS)
def test_defaults_pass_the_static_checks(robot: str) -> None:
    program = default_program(robot)
    assert program.origin == f"default:{robot}"
    assert check_source(program.source) == []


def test_default_go2_passes_and_loads_to_the_same_values(go2_batch: Path) -> None:
    program = default_program("go2")
    (result,) = validate_programs([program.source], go2_batch)
    assert result.ok, result.issues
    assert result.component_names == (
        "track_lin_vel_xy_exp",
        "track_ang_vel_z_exp",
        "lin_vel_z_l2",
        "ang_vel_xy_l2",
        "joint_torques_l2",
        "action_rate_l2",
        "feet_air_time",
        "flat_orientation_l2",
    )
    # The trainer's in-process function gives the numbers the dry run saw.
    reward, components = program.load()(load_state_batch(go2_batch))
    for name, stats in result.component_stats.items():
        value = components[name].double()
        assert (float(value.mean()), float(value.min()), float(value.max())) == pytest.approx(
            (stats.mean, stats.min, stats.max), rel=1e-6, abs=1e-9
        )
    assert float(reward.double().mean()) == pytest.approx(result.reward_stats.mean, rel=1e-6, abs=1e-9)
    # Positive weights only on the tracking and air-time terms, as in Isaac Lab.
    assert float(components["track_lin_vel_xy_exp"].min()) >= 0.0
    assert float(components["joint_torques_l2"].max()) <= 0.0


def test_default_g1_passes(g1_batch: Path) -> None:
    result = ensure_valid(default_program("g1").source, g1_batch)
    assert result.ok
    assert "base_height_l2" in result.component_names
    # the periodic gait terms of unitree_rl_gym's G1 (contact schedule, swing height) and HumanoidGym's feet distance
    assert {"contact_phase_match", "feet_swing_height_l2", "feet_distance_exp"} <= set(result.component_names)


def test_g1_contact_phase_match_counts_feet_on_schedule() -> None:
    """Left foot stands in the first 55 % of the stride, the right half a stride later."""
    import torch

    ns: dict = {"torch": torch, "math": __import__("math")}
    exec(compile(default_program("g1").source, "g1", "exec"), ns)
    phase = torch.tensor([0.1, 0.1, 0.7, 0.52])

    class S:
        gait_phase = phase
        foot_contact = torch.tensor([[True, False], [True, True], [False, True], [True, True]])

    got = ns["contact_phase_match"](S, duty_factor=0.55, phase_right=0.5)
    # phase 0.1: left stance, right (0.6) swing; 0.7: left swing, right (0.2) stance; 0.52: both stance (0.52, 0.02)
    assert got.tolist() == [2.0, 1.0, 2.0, 2.0]


def test_ensure_valid_raises_with_every_finding(go2_batch: Path) -> None:
    source = "import os\ndef compute_reward(state):\n    return eval('1'), {}\n"
    with pytest.raises(RewardValidationError) as info:
        ensure_valid(source, go2_batch)
    assert len(info.value.issues) == 2
    assert str(info.value).startswith("reward program rejected (2 issues):\n  - line 1: `import os`")
    assert "\n  - line 3: 'eval' is not allowed" in str(info.value)


def test_loaded_function_runs_in_the_restricted_namespace() -> None:
    # The static checks would reject `open`; the namespace refuses it too.
    fn = load_reward_fn("def compute_reward(state):\n    return open('x'), {}\n", trusted=True)
    with pytest.raises(NameError, match="name 'open' is not defined"):
        fn(None)


def test_load_reports_top_level_errors_by_program_line() -> None:
    source = "def compute_reward(state):\n    return 0\n\nSCALE = 1 // 0\n"
    with pytest.raises(RewardValidationError, match=r"line 4: ZeroDivisionError: integer division or modulo"):
        load_reward_fn(source, trusted=True)


def test_untrusted_programs_load_only_inside_the_sandbox() -> None:
    # this test process is not a sealed sandbox process: an untrusted program is refused before it runs
    with pytest.raises(SandboxRequiredError, match="run only inside the reward sandbox"):
        load_reward_fn("def compute_reward(state):\n    return 0, {}\n")
    # the programs shipped with the package are trusted
    assert callable(load_reward_fn(default_program("go2").source))


def test_restricted_import_only_returns_loaded_modules() -> None:
    from lm_reward_learning.reward.sandbox import loaded_module_import

    assert loaded_module_import("torch") is torch
    with pytest.raises(ImportError, match="reward programs cannot import modules"):
        loaded_module_import("a_module_that_is_not_loaded")
    with pytest.raises(ImportError, match="reward programs cannot import modules"):
        loaded_module_import("os")  # loaded, but not one of torch's own modules
