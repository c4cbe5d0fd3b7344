"""The hostile-program suite: every program either rejected or harmless, through each layer on its own.

* The product path (static checks, then the sandboxed dry run) rejects every attack; only the time
  bombs pass, because they behave while the episode is young (``test_train_time_limits.py`` catches
  them at train time).
* The language layer alone (no static checks, ``sandbox_probe.py`` in the sandbox) stops every attack
  at run time.
In both: no file appears outside the run directory, the planted secret appears nowhere, every hang is
cut at the limit, and nothing raises out of the checker.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_programs import HOSTILE, TIME_BOMBS, render
from sandbox_fixtures import SECRET, files_under, run_probe

from lm_reward_learning.reward.static_checks import check_source
from lm_reward_learning.reward.validator import validate_programs

TIMEOUT_S = 2.0
MEMORY_MB = 256.0
ATTACK_CLASSES = {"torch_reexport", "alias", "internals", "builtins", "tensor", "secrets"}


def _sources(planted: dict[str, Path]) -> dict[str, str]:
    return {
        name: render(src, str(planted["canary"]), str(planted["secret_file"])) for name, (_, src) in HOSTILE.items()
    }


def test_the_suite_covers_every_class_with_at_least_40_programs() -> None:
    classes = {cls for cls, _ in HOSTILE.values()}
    assert len(HOSTILE) >= 40
    assert classes == ATTACK_CLASSES | {"resources", "time_bomb"}
    assert set(TIME_BOMBS) == {n for n, (cls, _) in HOSTILE.items() if cls == "time_bomb"}


def test_static_checks_never_raise_and_reject_every_attack(planted) -> None:
    for name, source in _sources(planted).items():
        found = check_source(source)  # must not raise, whatever the text
        cls = HOSTILE[name][0]
        if cls in ATTACK_CLASSES:
            assert found, f"{name}: an attack passed the static checks"
        if cls == "time_bomb":
            assert found == [], f"{name}: {found}"


def test_validation_rejects_every_attack_and_stays_contained(planted, recorded_batch: Path) -> None:
    sources = _sources(planted)
    checked = validate_programs(list(sources.values()), recorded_batch, timeout_s=TIMEOUT_S, memory_mb=MEMORY_MB)
    results = dict(zip(sources, checked, strict=True))
    for name, result in results.items():
        cls = HOSTILE[name][0]
        if cls == "time_bomb":
            assert result.ok, f"{name} should behave in the dry run: {result.issues}"
        else:
            assert not result.ok, f"{name} passed validation"
        assert len(result.message()) <= 1100  # what goes back to the LLM stays short
        assert SECRET not in result.message()
    assert "time limit" in results["infinite_loop"].issues[0]
    ran = [r for r in results.values() if r.num_envs]
    assert ran and all(r.sandbox.get("applied") for r in ran)  # the dry runs reported their sandbox
    assert files_under(planted["canary"]) == []


def test_language_layer_alone_stops_every_attack(planted, recorded_batch: Path, tmp_path: Path) -> None:
    """No static checks: the guard, the facades and the compile-time refusals hold by themselves."""
    sources = {n: s for n, s in _sources(planted).items() if n != "infinite_loop"}
    records = run_probe(
        {"mode": "programs", "sources": sources, "batch_path": str(recorded_batch), "timeout_s": TIMEOUT_S,
         "memory_mb": MEMORY_MB, "read": [str(recorded_batch)]},
        tmp_path / "work",
    )  # fmt: skip
    outcomes = {r["name"]: r for r in records[1:]}
    assert set(outcomes) == set(sources)
    for name, rec in outcomes.items():
        cls = HOSTILE[name][0]
        if cls in ATTACK_CLASSES:
            assert rec["outcome"] != "ran", f"{name} ran unchecked: {rec}"
        if cls == "time_bomb":
            assert rec["outcome"] == "ran", f"{name}: {rec}"
    assert outcomes["torch_os_system"]["outcome"] == "SandboxViolation"
    assert outcomes["generator_frame_globals"]["outcome"] == "SandboxViolation"
    assert outcomes["from_import_torch"]["outcome"] == "RewardValidationError"
    assert outcomes["match_class_pattern"]["outcome"] == "RewardValidationError"
    assert outcomes["out_argument_writes_state"]["outcome"] == "SandboxViolation"
    assert outcomes["huge_tensor"]["outcome"] in ("RuntimeError", "MemoryError")
    assert files_under(planted["canary"]) == []


@pytest.mark.parametrize("name", ["torch_os_system", "from_import_torch", "kill_parent", "parser_bomb"])
def test_lmrl_validate_exits_2_with_a_message(planted, tmp_path: Path, name: str) -> None:
    import subprocess
    import sys

    program = tmp_path / f"{name}.py"
    program.write_text(_sources(planted)[name])
    proc = subprocess.run(
        [sys.executable, "-m", "lm_reward_learning.cli", "validate", str(program)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "lmrl validate: error: reward program rejected" in proc.stderr
    assert "Traceback" not in proc.stderr and SECRET not in proc.stderr + proc.stdout
    assert files_under(planted["canary"]) == []


def test_every_program_through_lmrl_validate_exits_0_or_2_with_a_message(planted, tmp_path: Path, capsys) -> None:
    """The command a person runs: no traceback, no other exit code, whatever the program does."""
    from lm_reward_learning.cli import main

    for name, source in _sources(planted).items():
        program = tmp_path / f"{name}.py"
        program.write_text(source)
        code = main(["validate", str(program)])
        out = capsys.readouterr()
        text = out.out + out.err
        expected = 0 if HOSTILE[name][0] == "time_bomb" else 2
        assert code == expected, f"{name}: exit {code}\n{text}"
        if code == 2:
            assert "lmrl validate: error: reward program rejected" in out.err, f"{name}: {text}"
        assert "Traceback" not in text and SECRET not in text
    assert files_under(planted["canary"]) == []
