"""Static checks: each class of rejected program and the message it gets (no code runs)."""

from __future__ import annotations

import textwrap

import pytest

from lm_reward_learning.reward.static_checks import check_source
from lm_reward_learning.reward.validator import validate_program

VALID = textwrap.dedent(
    '''\
    """A valid program using everything that is allowed."""
    PARAMS = {"track_lin_vel_xy_exp": {"weight": 1.5, "std": math.sqrt(0.25)}, "tilt_max": math.pi / 6}
    NAMES = ("a", "b")


    def track_lin_vel_xy_exp(state, std):
        error = torch.sum(torch.square(state.commands[:, :2] - state.base_lin_vel_b[:, :2]), dim=1)
        return torch.exp(-error / std**2)


    def compute_reward(state):
        p = PARAMS["track_lin_vel_xy_exp"]
        scale = lambda x: p["weight"] * x
        parts = [torch.zeros(state.num_envs) for _ in range(2)]
        with torch.no_grad():
            term = scale(track_lin_vel_xy_exp(state, p["std"]))
        for i, name in enumerate(NAMES):
            parts[i] = parts[i] + float(len(name))
        assert term.shape == (state.num_envs,)
        components = {"track_lin_vel_xy_exp": term, "const_l1": -abs(min(parts[0].max(), 0.0)) * term}
        return sum(components.values()), components
    '''
)


def program(body: str) -> str:
    """Dedent a test program."""
    return textwrap.dedent(body)


def test_valid_program_passes() -> None:
    assert check_source(VALID) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "import numpy as np\ndef compute_reward(state):\n    return state.time_s, {}\n",
            "line 1: `import numpy as np`: import statements are not allowed; torch and math are already "
            "available as `torch` and `math`, nothing else can be imported",
        ),
        (
            "def compute_reward(state):\n    from torch import nn\n    return state.time_s, {}\n",
            "line 2: `from torch import nn`: import statements are not allowed;",
        ),
        (
            "def compute_reward(state):\n    x = state.time_s\n    return x.__class__, {}\n",
            "line 3: attribute '__class__' is not allowed; attributes starting with '_' (dunder or "
            "private) reach interpreter internals — use the public torch and math API",
        ),
        (
            "def compute_reward(state):\n    return torch._C, {}\n",
            "line 2: attribute '_C' is not allowed;",
        ),
    ],
    ids=["import", "from-import", "dunder-attribute", "private-attribute"],
)
def test_imports_and_private_attributes_are_rejected(source: str, expected: str) -> None:
    findings = check_source(source)
    assert any(f.startswith(expected) for f in findings), findings


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("exec", "it executes or imports code"),
        ("eval", "it executes or imports code"),
        ("compile", "it executes or imports code"),
        ("__import__", "it executes or imports code"),
        ("open", "file or console I/O"),
        ("getattr", "reflection"),
        ("globals", "reflection"),
        ("print", "console output"),
    ],
)
def test_forbidden_builtins_are_named(name: str, why: str) -> None:
    source = f"def compute_reward(state):\n    x = {name}('state')\n    return x, {{}}\n"
    assert check_source(source) == [f"line 2: '{name}' is not allowed ({why}); " + _TODO[why]]


_TODO = {
    "it executes or imports code": "write the computation directly with torch and math",
    "file or console I/O": "a reward program only computes tensors",
    "reflection": "access state fields and tensors directly, e.g. state.joint_vel",
    "console output": "return what you want to see as a named component",
}


def test_syntax_error_gives_line_and_caret() -> None:
    source = "def compute_reward(state):\n    r = state.time_s +* 2\n    return r, {}\n"
    (finding,) = check_source(source)
    # Python reports the '*' after '+': column 24 of the line, 20 after removing the 4-space indent.
    assert finding == (
        "line 2: syntax error: invalid syntax; the program must be valid Python 3.10:\n"
        "    r = state.time_s +* 2\n"
        "                      ^"
    )


def test_missing_compute_reward() -> None:
    assert check_source("def reward(state):\n    return state.time_s, {}\n") == [
        "line 1: no top-level function compute_reward; define `def compute_reward(state):` returning "
        "`reward, components`"
    ]


@pytest.mark.parametrize("params", ["state, dt", "", "*states", "state=None", "state, *, scale"])
def test_wrong_signature(params: str) -> None:
    source = f"\n\ndef compute_reward({params}):\n    return 0, {{}}\n"
    assert check_source(source) == [
        f"line 3: compute_reward({params}) has the wrong signature; it must take exactly one parameter, "
        "the state: `def compute_reward(state):`"
    ]


@pytest.mark.parametrize(
    ("top", "what"),
    [
        ("for i in range(3):\n    pass", "a for loop"),
        ("torch.manual_seed(0) if False else None", "an expression statement"),
        ("if True:\n    W = 1", "an if statement"),
    ],
)
def test_forbidden_top_level_statement(top: str, what: str) -> None:
    source = f"{top}\ndef compute_reward(state):\n    return state.time_s, {{}}\n"
    assert (
        f"line 1: {what} at module level is not allowed; the top level may only hold a docstring, "
        "constant assignments (e.g. PARAMS = {...}) and function definitions — move computation into "
        "compute_reward"
    ) in check_source(source)


def test_module_level_values_must_be_constants() -> None:
    source = "OFFSET = torch.ones(3)\ndef compute_reward(state):\n    return state.time_s, {}\n"
    (finding,) = check_source(source)
    assert finding.startswith(
        "line 1: module-level value of 'OFFSET' is not a constant; module-level names may only hold "
        "numbers, strings, booleans, None and tuples/lists/dicts of them"
    )
    assert finding.endswith("build tensors inside compute_reward")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("    global W\n", "line 2: `global` is not allowed; pass values as arguments and return results"),
        (
            "    class C:\n        pass\n",
            "line 2: class definitions are not allowed; use functions and dicts",
        ),
        (
            "    try:\n        x = 1\n    finally:\n        x = 2\n",
            "line 2: try/except is not allowed; let errors surface so the validator can report them",
        ),
        ("    yield 1\n", "line 2: `yield` is not allowed; return tensors"),
        (
            "    @torch.jit.script\n    def f(x):\n        return x\n",
            "line 2: decorator `@torch.jit.script` is not allowed; call functions directly",
        ),
    ],
    ids=["global", "class", "try", "yield", "decorator"],
)
def test_forbidden_statements(body: str, expected: str) -> None:
    source = f"def compute_reward(state):\n{body}    return state.time_s, {{}}\n"
    findings = check_source(source)
    assert any(f.startswith(expected) for f in findings), findings


def test_underscore_names() -> None:
    source = "def compute_reward(state):\n    _tmp = state.time_s\n    return _tmp, {}\n"
    assert check_source(source) == [
        "line 2: name '_tmp' starts with an underscore; names starting with '_' are not allowed — "
        "rename it (e.g. 'tmp')",
        "line 3: name '_tmp' starts with an underscore; names starting with '_' are not allowed — "
        "rename it (e.g. 'tmp')",
    ]


def test_undefined_names_list_what_is_available() -> None:
    source = "def compute_reward(state):\n    return np.exp(state.time_s), {}\n"
    (finding,) = check_source(source)
    assert finding.startswith("line 2: name 'np' is not available (no numpy, scipy or module aliases); ")
    assert "available are torch, math, the builtins abs, all, any," in finding
    assert finding.endswith("use the torch equivalent (torch.exp, torch.sum, torch.nn.functional.relu, ...)")


def test_forbidden_torch_attributes() -> None:
    source = "def compute_reward(state):\n    torch.save(state.time_s, 'x.pt')\n    return state.time_s, {}\n"
    (finding,) = check_source(source)
    assert finding.startswith(
        "line 2: torch.save is not allowed (file I/O, global settings, compilation and device control "
        "are off limits); use tensor math only"
    )


def test_state_fields_are_checked_with_a_suggestion() -> None:
    source = "def compute_reward(s):\n    return s.base_lin_vel[:, 0], {}\n"
    (finding,) = check_source(source)
    assert finding.startswith(
        "line 2: state has no field 'base_lin_vel'; did you mean 'base_lin_vel_w'? the fields are: "
        "base_pos_w, base_quat_w,"
    )


def test_assigning_to_state_is_rejected() -> None:
    source = "def compute_reward(state):\n    state.joint_pos = state.joint_pos * 0\n    return state.time_s, {}\n"
    assert check_source(source) == [
        "line 2: assigning to state.joint_pos is not allowed; the state is read-only — compute new tensors instead"
    ]


def test_static_rejection_skips_the_dry_run(tmp_path) -> None:
    # The batch file does not exist: the dry run would raise, so reaching it would fail this test.
    result = validate_program("import os\n", tmp_path / "missing.pt")
    assert not result.ok
    assert result.num_envs == 0
    assert result.issues[0].startswith("line 1: `import os`: import statements are not allowed")
    assert "rejected (2 issues)" in result.message()
