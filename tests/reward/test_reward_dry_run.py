"""Dry run: each class of program rejected at run time, and the message it gets.

All programs run in one child process (module-scoped fixture): the child imports torch once (~3 s)
and runs each program on its own copy of the batch with its own limits, so this also shows that a
program after a timeout or an out-of-memory one is still checked normally.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.reward import validator
from lm_reward_learning.reward.validator import ValidationResult, interpret_records, validate_programs

N, J = 16, 12  # envs and joints of the go2_batch fixture (conftest.GO2_SHAPE)
TIMEOUT_S = 1.0
MEMORY_MB = 256.0

# name -> program source (all pass the static checks).
PROGRAMS: dict[str, str] = {
    "infinite_loop": """
        def compute_reward(state):
            while True:
                pass
        """,
    "huge_allocation": """
        def compute_reward(state):
            big = torch.zeros(10**9)
            return big, {"big": big}
        """,
    "valid_after_limits": """
        def compute_reward(state):
            term = -0.01 * torch.sum(torch.square(state.actions - state.last_actions), dim=1)
            return term, {"action_rate_l2": term}
        """,
    "runtime_exception": """
        def per_leg(x):
            return x.reshape(3, 7)

        def compute_reward(state):
            legs = per_leg(state.joint_pos)
            return legs, {}
        """,
    "wrong_return_type": """
        def compute_reward(state):
            return state.time_s
        """,
    "components_not_dict": """
        def compute_reward(state):
            return state.time_s, [state.time_s]
        """,
    "wrong_shape": """
        def compute_reward(state):
            return state.joint_pos, {"joint_pos_l1": state.joint_pos.sum(dim=1)}
        """,
    "bool_dtype": """
        def compute_reward(state):
            contact = state.foot_contact[:, 0]
            return contact.float(), {"contact": contact}
        """,
    "nan": """
        def compute_reward(state):
            bad = torch.log(-torch.ones(state.num_envs))
            return bad, {"bad": bad}
        """,
    "inf": """
        def compute_reward(state):
            bad = torch.zeros(state.num_envs)
            bad[3] = float("inf")
            return bad, {"bad": bad}
        """,
    "too_large": """
        def compute_reward(state):
            big = torch.full((state.num_envs,), -5000.0)
            return big, {"big": big}
        """,
    "not_the_sum": """
        def compute_reward(state):
            a = torch.ones(state.num_envs)
            return a + 1.0, {"a": a}
        """,
    "empty_components": """
        def compute_reward(state):
            return torch.zeros(state.num_envs), {}
        """,
    "bad_component_name": """
        def compute_reward(state):
            a = torch.zeros(state.num_envs)
            return a, {"Track Vel": a}
        """,
    "mutates_state": """
        def compute_reward(state):
            q = state.joint_pos
            q -= state.default_joint_pos
            term = -torch.sum(torch.abs(q), dim=1)
            return term, {"joint_deviation_l1": term}
        """,
}


@pytest.fixture(scope="module")
def results(go2_batch: Path) -> dict[str, ValidationResult]:
    sources = [textwrap.dedent(s).lstrip("\n") for s in PROGRAMS.values()]
    out = validate_programs(sources, go2_batch, timeout_s=TIMEOUT_S, memory_mb=MEMORY_MB)
    return dict(zip(PROGRAMS, out, strict=True))


def only_issue(result: ValidationResult) -> str:
    assert not result.ok
    assert len(result.issues) == 1, result.issues
    return result.issues[0]


def test_infinite_loop_hits_the_time_limit(results: dict[str, ValidationResult]) -> None:
    assert only_issue(results["infinite_loop"]) == (
        f"line 2: compute_reward did not finish within the time limit of 1 s on {N} envs (stopped at "
        "line 2); use vectorised torch operations over the env dimension instead of Python loops over "
        "envs, feet or steps"
    )


def test_huge_allocation_hits_the_memory_limit(results: dict[str, ValidationResult]) -> None:
    # 10**9 float32 = 4e9 bytes = 3.73 GiB, far above the 256 MiB budget.
    assert only_issue(results["huge_allocation"]) == (
        "line 2: the program ran out of memory: allocating 3.73 GiB exceeded the dry run's memory limit "
        "of 256 MiB; every term needs only O(num_envs x joints) memory — do not build (N, N) or "
        "history-sized tensors"
    )


def test_programs_after_limits_still_run(results: dict[str, ValidationResult]) -> None:
    result = results["valid_after_limits"]
    assert result.ok, result.issues
    assert result.component_names == ("action_rate_l2",)
    assert result.num_envs == N
    stats = result.component_stats["action_rate_l2"]
    assert stats.min <= stats.mean <= stats.max <= 0.0
    assert result.reward_stats == stats
    assert result.wall_s > 0.0


def test_runtime_exception_names_the_program_line(results: dict[str, ValidationResult]) -> None:
    # joint_pos has N * J = 16 * 12 = 192 elements.
    assert only_issue(results["runtime_exception"]) == (
        "line 2: RuntimeError: shape '[3, 7]' is invalid for input of size 192 "
        "(at `return x.reshape(3, 7)`; called from line 5)"
    )


def test_wrong_return_type(results: dict[str, ValidationResult]) -> None:
    assert only_issue(results["wrong_return_type"]) == (
        f"compute_reward returned a tensor of shape ({N},); it must return a 2-tuple `reward, "
        f"components` with reward a float tensor of shape ({N},) and components a dict of named ({N},) "
        "tensors"
    )
    assert only_issue(results["components_not_dict"]).startswith(
        "components (the second returned value) is a list of length 1; it must be a dict mapping term "
        f"names to ({N},) float tensors"
    )


def test_wrong_shape(results: dict[str, ValidationResult]) -> None:
    assert only_issue(results["wrong_shape"]) == (
        f"reward (the first returned value) has shape ({N}, {J}); it must be ({N},), one value per env — "
        "reduce the other dimensions (e.g. .sum(dim=-1)) or drop size-1 ones (.squeeze(-1))"
    )


def test_non_float_dtype(results: dict[str, ValidationResult]) -> None:
    assert only_issue(results["bool_dtype"]) == (
        "component 'contact' has dtype torch.bool; it must be torch.float32 (or float64) — convert with "
        ".float(), e.g. state.foot_contact.float()"
    )


def test_nan_and_inf(results: dict[str, ValidationResult]) -> None:
    nan_issues = results["nan"].issues
    assert nan_issues[0].startswith(
        f"reward (the first returned value) is not finite in {N} of {N} envs ({N} nan, 0 inf; first at "
        "env 0: nan); guard divisions, logs and square roots"
    )
    assert nan_issues[1].startswith(f"component 'bad' is not finite in {N} of {N} envs")
    assert (
        results["inf"]
        .issues[1]
        .startswith(f"component 'bad' is not finite in 1 of {N} envs (0 nan, 1 inf; first at env 3: inf)")
    )


def test_magnitude_too_large(results: dict[str, ValidationResult]) -> None:
    assert results["too_large"].issues[1] == (
        "component 'big' reaches |value| = 5000 (env 0), above the limit of 1000 per call; scale its "
        "weight down or bound the term (exp kernels, torch.clamp)"
    )


def test_reward_must_be_the_sum_of_components(results: dict[str, ValidationResult]) -> None:
    # reward = a + 1 = 2 everywhere, sum of components = a = 1: they differ by 1.
    assert only_issue(results["not_the_sum"]) == (
        "reward is not the sum of the components: they differ by up to 1 (env 0: reward 2, sum 1); "
        "return the weighted terms as components and `reward = sum(components.values())` "
        "(tolerance 0.0001 + 0.0001·|sum|)"
    )


def test_empty_components_and_bad_names(results: dict[str, ValidationResult]) -> None:
    assert only_issue(results["empty_components"]).startswith(
        "components is an empty dict; return every term by name (at least one)"
    )
    assert only_issue(results["bad_component_name"]).startswith(
        "component name 'Track Vel' is not allowed; use snake_case names '<quantity>_<kernel>'"
    )


def test_state_must_not_be_modified(results: dict[str, ValidationResult]) -> None:
    assert only_issue(results["mutates_state"]).startswith(
        "compute_reward modified state.joint_pos; the state is shared with the simulator and must stay read-only"
    )


def test_missing_batch_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(LmrlError, match=r"missing\.pt does not exist; record one from the simulator"):
        validate_programs(["def compute_reward(state):\n    return 0, {}\n"], tmp_path / "missing.pt")


def test_damaged_batch_is_a_setup_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_text("not a torch file")
    with pytest.raises(LmrlError, match=r"dry run could not start: cannot read the state batch .*bad\.pt"):
        validate_programs(["def compute_reward(state):\n    return 0, {}\n"], bad)


LIMITS = {"timeout_s": 2.0, "memory_mb": 512.0, "max_abs_reward": 1000.0}
READY = {"event": "ready", "num_envs": 8}


def test_killed_child_marks_the_running_program_and_leaves_the_rest() -> None:
    done = {"event": "done", "index": 0, "result": {"issues": []}}
    records = [READY, {"event": "start", "index": 0}, done, {"event": "start", "index": 1}]
    out = interpret_records(records, 3, killed=True, returncode=-9, stderr="", limits=LIMITS)
    assert len(out) == 2  # program 2 is left for a fresh child
    assert out[0] == ({"issues": []}, 8)
    assert out[1][0]["issues"][0].startswith(
        "compute_reward did not finish within the time limit of 2 s on 8 envs and the dry run had to be killed"
    )


def test_crashed_child_blames_memory() -> None:
    records = [READY, {"event": "start", "index": 0}]
    ((record, _),) = interpret_records(records, 2, killed=False, returncode=-9, stderr="", limits=LIMITS)
    assert record["issues"][0].startswith(
        "the dry-run process died (signal SIGKILL) while running compute_reward; the usual cause is memory "
        "use beyond the limit of 512 MiB"
    )


def test_child_that_never_starts_is_a_setup_error() -> None:
    with pytest.raises(LmrlError, match="exited with code 1 before running any program; its stderr ends:\nboom"):
        interpret_records([], 1, killed=False, returncode=1, stderr="boom", limits=LIMITS)


def test_stuck_child_is_killed_and_the_rest_rerun(go2_batch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A negative grace makes the parent kill the child 0.5 s after the loop starts (the deadline is
    # timeout_s per call and for compiling, plus the grace), before the child's
    # own 1 s alarm: the path taken when a program is stuck inside one long C call.
    monkeypatch.setattr(validator, "KILL_GRACE_S", 0.5 - TIMEOUT_S * (validator.DRY_RUN_CALLS + 1))
    loop = "def compute_reward(state):\n    while True:\n        pass\n"
    valid = "def compute_reward(state):\n    t = state.time_s * 0.0\n    return t, {'zero_l1': t}\n"
    stuck, after = validate_programs([loop, valid], go2_batch, timeout_s=TIMEOUT_S)
    assert only_issue(stuck).startswith(
        f"compute_reward did not finish within the time limit of 1 s on {N} envs and the dry run had to be killed"
    )
    assert after.ok, after.issues  # run by a fresh child
