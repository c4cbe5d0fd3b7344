"""The restricted namespace a reward program runs in, shared by the dry run and the trainer.

A reward program is parsed, its attribute reads are rewritten into calls of the guard
(:func:`~lm_reward_learning.reward.guard.guarded_getattr`), and it is compiled with the file name
``"<reward>"`` (so tracebacks name its own lines) and executed in a fresh namespace holding only:

* ``torch`` and ``math`` as facades (:mod:`~lm_reward_learning.reward.guard`): allowlisted tensor
  functions and constants, never the modules themselves; nothing can be imported;
* the builtins in :data:`SAFE_BUILTINS` (``__builtins__`` is replaced by a dict of exactly those);
* the names the program itself defines (frozen after the module body ran).

This is the language layer of the reward sandbox, checked statically first by
:mod:`~lm_reward_learning.reward.static_checks`. The process that runs a program is confined as well
(:mod:`lm_reward_learning.isolation`: no secrets in its environment, no programs, no sockets, writes
only in its run directory, memory and CPU-time limits), so one layer failing is not an escape.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import sys
import traceback
from collections.abc import Callable
from importlib import resources
from typing import Any

import torch

from lm_reward_learning.errors import LmrlError, RewardValidationError
from lm_reward_learning.reward.allowlist import SAFE_BUILTINS
from lm_reward_learning.reward.guard import GUARD_NAME, freeze_namespace, guarded_getattr, math_facade, torch_facade
from lm_reward_learning.reward.state import RewardState

#: File name given to compiled reward programs; traceback frames with this name are the program's.
PROGRAM_FILENAME = "<reward>"

#: Modules a reward program sees as free names (facades: allowlisted members only).
MODULES: dict[str, Any] = {"torch": torch_facade(), "math": math_facade()}

#: Modules torch's C code may import through a program's builtins (already loaded; see make_namespace).
_RUNTIME_IMPORTS = ("torch",)

_MAX_ERROR_CHARS = 500

RewardFn = Callable[[RewardState], "tuple[torch.Tensor, dict[str, torch.Tensor]]"]


def make_namespace() -> dict[str, Any]:
    """Return a fresh global namespace for one reward program (restricted ``__builtins__``).

    Besides :data:`SAFE_BUILTINS`, ``__builtins__`` holds :func:`loaded_module_import` as
    ``__import__``: C extensions import through the builtins of the calling Python frame
    (``PyImport_Import``), and torch may do so from inside some ops. It returns only torch's own
    modules, already loaded. Program code can name neither it nor the guard (names starting with
    ``_`` are rejected statically, and no attribute path leads to a namespace at run time).
    """
    safe = {name: getattr(builtins, name) for name in SAFE_BUILTINS}
    safe["__import__"] = loaded_module_import
    return {"__builtins__": safe, "__name__": "reward_program", GUARD_NAME: guarded_getattr, **MODULES}


def loaded_module_import(
    name: str,
    globals: dict[str, Any] | None = None,
    locals: dict[str, Any] | None = None,
    fromlist: tuple[str, ...] | list[str] | None = (),
    level: int = 0,
) -> Any:
    """``__import__`` that only returns modules already loaded, for torch's C-level imports.

    Raises:
        ImportError: for a module that is not loaded yet (nothing new is imported on a program's
            behalf).
    """
    top = name.partition(".")[0]
    if level != 0 or top not in _RUNTIME_IMPORTS or name not in sys.modules:
        raise ImportError(f"reward programs cannot import modules ({name!r})")
    return builtins.__import__(name, globals, locals, fromlist or (), 0)


class SandboxRequiredError(LmrlError):
    """An untrusted reward program was about to be compiled outside a sealed sandbox process."""


#: Constructs the language layer refuses on its own (the static checks name them with advice too):
#: they reach names or attributes without passing the guard (``from torch import save``, class patterns
#: of ``match``), define types, or catch the time limit's exception.
_REFUSED_NODES: dict[type, str] = {
    ast.Import: "import statements",
    ast.ImportFrom: "import statements",
    ast.Match: "`match` statements",
    ast.ClassDef: "class definitions",
    ast.Try: "try/except",
    ast.Global: "`global`",
    ast.Nonlocal: "`nonlocal`",
    ast.AsyncFunctionDef: "async code",
    ast.Await: "async code",
}
if hasattr(ast, "TryStar"):  # Python >= 3.11
    _REFUSED_NODES[ast.TryStar] = "try/except"


def _refuse(node: ast.AST, what: str) -> RewardValidationError:
    msg = f"line {getattr(node, 'lineno', 1)}: {what} not allowed in reward programs"
    return RewardValidationError(msg, [msg])


class _GuardAttributes(ast.NodeTransformer):
    """Rewrites every attribute read ``x.name`` into ``__lmrl_getattr__(x, "name")``; refuses what bypasses it.

    Refused (:class:`~lm_reward_learning.errors.RewardValidationError`): :data:`_REFUSED_NODES`, names
    starting with ``_`` (``__builtins__``, ``__import__``, the guard itself; ``_`` alone is fine),
    attributes starting with ``_``, and attribute assignment or deletion.
    """

    def generic_visit(self, node: ast.AST) -> ast.AST:
        what = _REFUSED_NODES.get(type(node))
        if what is not None:
            raise _refuse(node, f"{what} are")
        return super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id.startswith("_") and node.id != "_":
            raise _refuse(node, f"the name {node.id!r} (names starting with '_') is")
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        if node.arg.startswith("_") and node.arg != "_":
            raise _refuse(node, f"the parameter name {node.arg!r} (names starting with '_') is")
        return self.generic_visit(node)  # its annotation is an expression

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        if node.name.startswith("_"):
            raise _refuse(node, f"the function name {node.name!r} (names starting with '_') is")
        return self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if node.attr.startswith("_"):
            raise _refuse(node, f"the attribute {node.attr!r} (attributes starting with '_') is")
        if not isinstance(node.ctx, ast.Load):
            raise _refuse(node, "assigning or deleting attributes is")
        call = ast.Call(func=ast.Name(GUARD_NAME, ast.Load()), args=[node.value, ast.Constant(node.attr)], keywords=[])
        return ast.copy_location(call, node)


def compile_guarded(source: str) -> Any:
    """Parse ``source``, route its attribute reads through the guard, and compile it (file ``<reward>``).

    This is the language layer's own check, independent of the static checks: what it refuses
    (see :class:`_GuardAttributes`) would bypass the guard.

    Raises:
        RewardValidationError: on a syntax error or a refused construct.
    """
    try:
        tree = ast.parse(source, filename=PROGRAM_FILENAME)
    except SyntaxError as exc:
        msg = f"line {exc.lineno}: syntax error: {exc.msg}; run the validator for details"
        raise RewardValidationError(msg, [msg]) from exc
    tree = ast.fix_missing_locations(_GuardAttributes().visit(tree))
    return compile(tree, PROGRAM_FILENAME, "exec", dont_inherit=True)


def bundled_sources() -> frozenset[str]:
    """SHA-256 of the reward programs shipped in this package (``defaults/*.py``, ``library/*.py``)."""
    global _BUNDLED
    if _BUNDLED is None:
        root = resources.files(__package__)
        _BUNDLED = frozenset(
            hashlib.sha256(f.read_bytes()).hexdigest()
            for folder in ("defaults", "library")
            for f in root.joinpath(folder).iterdir()
            if f.name.endswith(".py") and f.name != "__init__.py"
        )
    return _BUNDLED


_BUNDLED: frozenset[str] | None = None


def compile_reward_fn(source: str, *, trusted: bool = False) -> RewardFn:
    """Compile ``source`` (attribute reads guarded) and return its ``compute_reward``, run in :func:`make_namespace`.

    The source should already have passed :func:`~lm_reward_learning.reward.validator.check_source`;
    this function does not repeat the static checks, but the run-time guard holds without them.
    Module-level values are frozen after the module body runs (:func:`~.guard.freeze_namespace`).

    Untrusted programs are compiled only inside a sealed sandbox process (the dry run, a training
    worker: :func:`lm_reward_learning.isolation.seal`), so no code path can run one in an unconfined
    process by mistake. The programs shipped with the package and callers that say ``trusted=True``
    (tests, programs a person wrote) are exempt.

    Raises:
        SandboxRequiredError: an untrusted program outside a sealed sandbox process.
        RewardValidationError: if the source does not compile, its top level raises, or it defines
            no callable ``compute_reward``.
    """
    from lm_reward_learning import isolation

    if not (trusted or isolation.is_sealed() or hashlib.sha256(source.encode()).hexdigest() in bundled_sources()):
        raise SandboxRequiredError(
            "reward programs run only inside the reward sandbox (the validator's dry run or a training worker, "
            "lm_reward_learning.isolation); this process is not sandboxed. Train or validate the program "
            "(lmrl train / lmrl validate) instead of loading it here."
        )
    code = compile_guarded(source)
    namespace = make_namespace()
    before = set(namespace)
    try:
        exec(code, namespace)
    except Exception as exc:
        msg = format_program_error(exc, source)
        raise RewardValidationError(msg, [msg]) from exc
    freeze_namespace(namespace, set(namespace) - before)
    fn = namespace.get("compute_reward")
    if not callable(fn):
        msg = "line 1: no function compute_reward; define `def compute_reward(state):`"
        raise RewardValidationError(msg, [msg])
    return fn


def program_line(exc: BaseException) -> int | None:
    """Return the innermost line of the reward program in ``exc``'s traceback, or ``None``."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == PROGRAM_FILENAME]
    return lines[-1] if lines and lines[-1] is not None else None


def format_program_error(exc: BaseException, source: str | None = None) -> str:
    """Describe an exception raised inside a reward program, by the program's own line numbers.

    Frames outside the program (torch internals, the caller) are dropped. The innermost program line
    comes first, quoted when ``source`` is given; the lines that called it follow, e.g.
    ``"line 12: RuntimeError: The size of tensor a (12) must match ... (at `x = a + b`; called from
    line 30)"``.
    """
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == PROGRAM_FILENAME]
    detail = str(exc) if len(str(exc)) <= _MAX_ERROR_CHARS else str(exc)[:_MAX_ERROR_CHARS] + " ..."
    text = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    if not frames:
        return f"line ?: {text}"
    inner, callers = frames[-1], frames[:-1]
    notes = []
    if source is not None and inner.lineno is not None:
        src_lines = source.splitlines()
        if 0 < inner.lineno <= len(src_lines):
            notes.append(f"at `{src_lines[inner.lineno - 1].strip()}`")
    if callers:
        notes.append("called from line " + ", line ".join(str(f.lineno) for f in reversed(callers)))
    return f"line {inner.lineno}: {text}" + (f" ({'; '.join(notes)})" if notes else "")
