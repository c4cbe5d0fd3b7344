"""Static checks of a reward program's source, run before anything executes.

The rules are few, and each rejection says where, what is not allowed, and what is:

1. **It parses.** Syntax errors are reported with line, column and a caret.
2. **Shape of the module.** The top level holds only a docstring, constant assignments (numbers,
   strings, booleans, ``None``, tuples/lists/dicts of them, arithmetic, ``math`` constants and
   functions, e.g. ``PARAMS = {"track_lin_vel_xy_exp": {"weight": 1.5, "std": math.sqrt(0.25)}}``) and
   function definitions without decorators. Computation belongs inside functions.
3. **The entry point.** A top-level ``def compute_reward(state):`` with exactly one parameter.
4. **No imports, no scope tricks, no hidden control flow.** ``import``, ``from ... import``,
   ``global``, ``nonlocal``, ``class``, ``try``/``except`` (errors must reach the validator), ``yield``,
   ``async`` and ``match`` (class patterns read attributes unguarded) are not allowed. ``lambda``,
   comprehensions, ``with``, ``assert``, ``raise``, ``for``/``while`` are. Top-level function
   defaults are constants, like module-level values.
5. **Names.** Free names are ``torch``, ``math``, the builtins in
   :data:`~lm_reward_learning.reward.sandbox.SAFE_BUILTINS` and names the program defines. Names and
   attributes starting with ``_`` are not allowed (dunders reach interpreter internals), except the
   throwaway name ``_`` itself. Builtins that
   execute code, reflect or do I/O (:data:`FORBIDDEN_NAMES`: ``exec``, ``eval``, ``open``,
   ``getattr``, ``globals``, ``print``, ...) are named as such.
6. **torch, tensor math only.** ``torch.<name>`` must be in the facade's allowlist
   (:data:`~lm_reward_learning.reward.guard.TORCH_FUNCTIONS` and friends); the rest (``torch.save``,
   ``torch.os``, ``torch.jit``, ...) is rejected, the usual ones (:data:`FORBIDDEN_TORCH_ATTRS`) with
   the reason. An attribute name no allowed object has (``x.numpy()``, ``gen.gi_frame``) is rejected.
   The run-time guard (:mod:`~lm_reward_learning.reward.guard`) checks the same per object type.
7. **The state is read-only and documented.** ``state.<name>`` must be a
   :class:`~lm_reward_learning.reward.state.RewardState` field (or ``num_envs``); assigning to any
   attribute is not allowed.

Findings read ``"line N: <what is wrong>; <what is allowed or what to do>"``.
"""

from __future__ import annotations

import ast
import difflib

from lm_reward_learning.reward.allowlist import (
    INTERNAL_ATTRS,
    MODULE_NAMES,
    SAFE_BUILTINS,
    STATE_ATTRS,
    TORCH_MEMBERS,
    allowed_attribute_names,
)

#: Builtins that are rejected by name: name -> (why, what to do instead).
FORBIDDEN_NAMES: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        ("exec", "eval", "compile", "__import__", "breakpoint"),
        ("it executes or imports code", "write the computation directly with torch and math"),
    ),
    **dict.fromkeys(
        [
            "getattr",
            "setattr",
            "delattr",
            "hasattr",
            "globals",
            "locals",
            "vars",
            "dir",
            "type",
            "id",
            "object",
            "super",
            "classmethod",
            "staticmethod",
            "property",
            "memoryview",
        ],
        ("reflection", "access state fields and tensors directly, e.g. state.joint_vel"),
    ),
    **dict.fromkeys(
        ("open", "input", "help", "exit", "quit"),
        ("file or console I/O", "a reward program only computes tensors"),
    ),
    "print": ("console output", "return what you want to see as a named component"),
}

#: ``torch.<attr>`` names that do I/O, change global state, compile code or control devices.
FORBIDDEN_TORCH_ATTRS: frozenset[str] = frozenset(
    {
        "save", "load", "from_file", "hub", "jit", "compile", "ops", "utils", "library", "classes",
        "cuda", "mps", "xpu", "distributed", "multiprocessing", "backends", "export", "onnx", "package",
        "set_default_dtype", "set_default_device", "set_default_tensor_type", "set_num_threads",
        "set_num_interop_threads", "set_grad_enabled", "set_printoptions", "set_rng_state",
        "manual_seed", "seed", "use_deterministic_algorithms", "set_float32_matmul_precision",
        "set_warn_always", "autograd",
    }
)  # fmt: skip


_NOT_ALLOWED_NODES: dict[type, str] = {
    ast.Import: "import statements are not allowed; torch and math are already available as `torch` "
    "and `math`, nothing else can be imported",
    ast.ImportFrom: "import statements are not allowed; torch and math are already available as "
    "`torch` and `math`, nothing else can be imported",
    ast.Global: "`global` is not allowed; pass values as arguments and return results",
    ast.Nonlocal: "`nonlocal` is not allowed; pass values as arguments and return results",
    ast.ClassDef: "class definitions are not allowed; use functions and dicts",
    ast.Try: "try/except is not allowed; let errors surface so the validator can report them, and "
    "guard values instead (e.g. torch.clamp(x, min=1e-6))",
    ast.Yield: "`yield` is not allowed; return tensors",
    ast.YieldFrom: "`yield` is not allowed; return tensors",
    ast.AsyncFunctionDef: "async functions are not allowed; use plain `def`",
    ast.AsyncFor: "async code is not allowed; use plain loops",
    ast.AsyncWith: "async code is not allowed; use plain `with`",
    ast.Await: "async code is not allowed",
}
if hasattr(ast, "TryStar"):  # Python >= 3.11
    _NOT_ALLOWED_NODES[ast.TryStar] = _NOT_ALLOWED_NODES[ast.Try]
_NOT_ALLOWED_NODES[ast.Match] = "`match` is not allowed (class patterns read attributes); use if/elif"

_ALLOWED_ATTRIBUTES = allowed_attribute_names()

_NUMPY_NAMES = frozenset({"np", "numpy", "F", "nn", "torch_utils", "scipy"})
_MAX_FINDINGS = 25
_MAX_QUOTED_LINE = 160
#: Longest program source accepted, characters (the bundled programs are ~4 000).
MAX_SOURCE_CHARS = 100_000


def check_source(source: str) -> list[str]:
    """Check a reward program's source statically (no code runs).

    Args:
        source: Python source text defining ``compute_reward(state)``.

    Returns:
        Findings sorted by line, each ``"line N: <what is wrong>; <what is allowed>"``; empty if the
        program passes. At most 25 findings are listed (then one line saying how many more).

    Never raises for any text: a program too long (over :data:`MAX_SOURCE_CHARS`) or nested too
    deeply for the parser (``RecursionError``, ``MemoryError`` while parsing) is a finding too, so a
    hostile program cannot crash the process that checks it.
    """
    if len(source) > MAX_SOURCE_CHARS:
        return [
            f"line 1: the program is {len(source)} characters long, over the limit of {MAX_SOURCE_CHARS}; "
            "a reward program is a few small term functions and a weight table"
        ]
    try:
        tree = ast.parse(source, filename="<reward>", type_comments=False)
        checker = _Checker(tree)
        checker.run()
    except SyntaxError as exc:
        return [_syntax_finding(exc)]
    except (RecursionError, MemoryError, ValueError) as exc:
        return [
            f"line 1: the program cannot be parsed ({type(exc).__name__}: {str(exc)[:120] or 'too deep'}); "
            "write flat expressions: no deeply nested parentheses, operators or calls"
        ]
    found = sorted(set(checker.findings))
    if len(found) > _MAX_FINDINGS:
        rest = len(found) - _MAX_FINDINGS
        found = [*found[:_MAX_FINDINGS], (found[_MAX_FINDINGS][0], f"... and {rest} more findings")]
    return [f"line {line}: {text}" for line, text in found]


def _syntax_finding(exc: SyntaxError) -> str:
    line = exc.lineno or 1
    msg = f"line {line}: syntax error: {exc.msg}; the program must be valid Python 3.10"
    if exc.text:
        text = exc.text.rstrip("\n")
        stripped = text.lstrip()
        col = max((exc.offset or 1) - 1 - (len(text) - len(stripped)), 0)
        if len(stripped) <= _MAX_QUOTED_LINE:
            msg += f":\n    {stripped}\n    {' ' * col}^"
    return msg


class _Checker(ast.NodeVisitor):
    """Collects ``(line, text)`` findings over a parsed program."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.findings: list[tuple[int, str]] = []
        self.defined = _bound_names(tree)
        self.state_param: str | None = None

    def add(self, node: ast.AST, text: str) -> None:
        self.findings.append((getattr(node, "lineno", 1), text))

    def run(self) -> None:
        self._check_top_level()
        self.visit(self.tree)

    # -- module shape -------------------------------------------------------------------------
    def _check_top_level(self) -> None:
        constants: set[str] = set()
        entry: ast.FunctionDef | None = None
        for i, stmt in enumerate(self.tree.body):
            if i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # docstring
            if isinstance(stmt, ast.FunctionDef):
                if stmt.name == "compute_reward":
                    entry = stmt
                defaults = [*stmt.args.defaults, *(d for d in stmt.args.kw_defaults if d is not None)]
                for default in defaults:
                    if not _is_constant(default, constants):
                        self.add(
                            default,
                            f"default value `{ast.unparse(default)}` of {stmt.name}() is not a constant; "
                            "defaults may only be numbers, strings, booleans, None and tuples/lists/dicts of them",
                        )
                continue
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                self._check_constant_assignment(stmt, constants)
                continue
            if type(stmt) in _NOT_ALLOWED_NODES:
                continue  # reported by the visitor with a specific message
            self.add(
                stmt,
                f"{_describe(stmt)} at module level is not allowed; the top level may only hold a "
                "docstring, constant assignments (e.g. PARAMS = {...}) and function definitions — "
                "move computation into compute_reward",
            )
        if entry is None:
            text = (
                "no top-level function compute_reward; define `def compute_reward(state):` returning "
                "`reward, components`"
            )
            self.findings.append((1, text))
            return
        args = entry.args
        params = [*args.posonlyargs, *args.args]
        if len(params) != 1 or args.vararg or args.kwarg or args.kwonlyargs or args.defaults:
            self.add(
                entry,
                f"compute_reward({ast.unparse(args)}) has the wrong signature; it must take exactly "
                "one parameter, the state: `def compute_reward(state):`",
            )
        if params:
            self.state_param = params[0].arg

    def _check_constant_assignment(self, stmt: ast.Assign | ast.AnnAssign, constants: set[str]) -> None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if len(names) != len(targets):
            self.add(stmt, "module-level assignments must bind plain names (e.g. `PARAMS = {...}`)")
            return
        if stmt.value is None or not _is_constant(stmt.value, constants):
            shown = ", ".join(repr(n) for n in names)
            self.add(
                stmt,
                f"module-level value of {shown} is not a constant; module-level names may "
                "only hold numbers, strings, booleans, None and tuples/lists/dicts of them (arithmetic, "
                "math.pi and math functions allowed) — build tensors inside compute_reward",
            )
            return
        constants.update(names)

    # -- statements and expressions ---------------------------------------------------------------
    def generic_visit(self, node: ast.AST) -> None:
        text = _NOT_ALLOWED_NODES.get(type(node))
        if text is not None:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                text = f"`{ast.unparse(node)}`: {text}"
            self.add(node, text)
        super().generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        for dec in node.decorator_list:
            self.add(dec, f"decorator `@{ast.unparse(dec)}` is not allowed; call functions directly")
        self._check_name(node, node.name)
        for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
            self._check_name(arg, arg.arg)
        for arg in (node.args.vararg, node.args.kwarg):
            if arg is not None:
                self._check_name(arg, arg.arg)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        for kw in node.keywords:
            if kw.arg == "out":
                self.add(
                    kw.value,
                    "`out=` is not allowed (it writes into an existing tensor, e.g. the state); "
                    "use the returned tensor: x = torch.add(a, b)",
                )
        self.generic_visit(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
            self._check_name(arg, arg.arg)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name in FORBIDDEN_NAMES:
            why, todo = FORBIDDEN_NAMES[name]
            self.add(node, f"'{name}' is not allowed ({why}); {todo}")
        elif (
            not self._check_name(node, name)
            and isinstance(node.ctx, ast.Load)
            and name not in self.defined
            and name not in MODULE_NAMES
            and name not in SAFE_BUILTINS
        ):
            self.add(node, _undefined_name_text(name))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        base = node.value.id if isinstance(node.value, ast.Name) else None
        if attr.startswith("_"):
            self.add(
                node,
                f"attribute '{attr}' is not allowed; attributes starting with '_' (dunder or private) "
                "reach interpreter internals — use the public torch and math API",
            )
        elif base == self.state_param and base not in MODULE_NAMES:
            self._check_state_attr(node)
        elif not isinstance(node.ctx, ast.Load):
            self.add(node, f"assigning or deleting attribute '{attr}' is not allowed; compute new values instead")
        elif base == "torch" and attr in FORBIDDEN_TORCH_ATTRS:
            self.add(
                node,
                f"torch.{attr} is not allowed (file I/O, global settings, compilation and device "
                "control are off limits); use tensor math only, and create tensors on the state's "
                "device, e.g. torch.zeros(state.num_envs, device=state.base_pos_w.device)",
            )
        elif base == "torch" and attr not in TORCH_MEMBERS:
            self.add(
                node,
                f"torch.{attr} is not available; reward programs get tensor math only — the available "
                "torch functions are listed in the task (e.g. torch.exp, torch.sum, torch.where, torch.clamp)",
            )
        elif attr in INTERNAL_ATTRS or attr not in _ALLOWED_ATTRIBUTES:
            self.add(
                node,
                f"attribute '{attr}' is not available to reward programs; tensors offer math, reductions, "
                "shape and dtype methods only (no numpy, storage, file, hook, frame or in-place methods)",
            )
        self.generic_visit(node)

    def _check_state_attr(self, node: ast.Attribute) -> None:
        attr = node.attr
        if not isinstance(node.ctx, ast.Load):
            self.add(
                node,
                f"assigning to {self.state_param}.{attr} is not allowed; the state is read-only — "
                "compute new tensors instead",
            )
        elif attr not in STATE_ATTRS:
            close = difflib.get_close_matches(attr, STATE_ATTRS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            self.add(
                node,
                f"state has no field '{attr}'; {hint}the fields are: {', '.join(STATE_ATTRS)}",
            )

    def _check_name(self, node: ast.AST, name: str) -> bool:
        """Report a name starting with ``_``; return whether it was reported."""
        if name.startswith("_") and name != "_" and name not in FORBIDDEN_NAMES:
            self.add(
                node,
                f"name '{name}' starts with an underscore; names starting with '_' are not allowed — "
                f"rename it (e.g. '{name.lstrip('_') or 'value'}')",
            )
            return True
        return False


def _undefined_name_text(name: str) -> str:
    available = f"available are torch, math, the builtins {', '.join(SAFE_BUILTINS)}, and names the program defines"
    if name in _NUMPY_NAMES:
        return (
            f"name '{name}' is not available (no numpy, scipy or module aliases); {available} — use the "
            "torch equivalent (torch.exp, torch.sum, torch.nn.functional.relu, ...)"
        )
    return f"name '{name}' is not defined; {available}"


def _bound_names(tree: ast.Module) -> set[str]:
    """Every name the program binds anywhere (assignments, parameters, loop targets, defs)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def _is_constant(node: ast.AST, constants: set[str]) -> bool:
    """Whether a module-level value is built from literals, arithmetic and ``math`` only."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_constant(e, constants) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_constant(k, constants) for k in node.keys) and all(
            _is_constant(v, constants) for v in node.values
        )
    if isinstance(node, ast.UnaryOp):
        return _is_constant(node.operand, constants)
    if isinstance(node, ast.BinOp):
        return _is_constant(node.left, constants) and _is_constant(node.right, constants)
    if isinstance(node, ast.Name):
        return node.id in constants
    if isinstance(node, ast.Attribute):
        return isinstance(node.value, ast.Name) and node.value.id == "math" and not node.attr.startswith("_")
    if isinstance(node, ast.Call):
        return (
            isinstance(node.func, ast.Attribute)
            and _is_constant(node.func, constants)
            and not node.keywords
            and all(_is_constant(a, constants) for a in node.args)
        )
    return False


def _describe(stmt: ast.stmt) -> str:
    """A short name for a statement kind, e.g. ``"a for loop"``."""
    kinds = {
        ast.Expr: "an expression statement",
        ast.For: "a for loop",
        ast.While: "a while loop",
        ast.If: "an if statement",
        ast.With: "a with statement",
        ast.AugAssign: "an augmented assignment",
        ast.Assert: "an assert statement",
        ast.Raise: "a raise statement",
        ast.Delete: "a del statement",
        ast.Return: "a return statement",
    }
    return kinds.get(type(stmt), f"a {type(stmt).__name__} statement")
