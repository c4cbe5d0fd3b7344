"""The restricted namespace a reward program runs in, shared by the dry run and the trainer.

A reward program is compiled with the file name ``"<reward>"`` (so tracebacks name its own lines) and
executed in a fresh namespace holding only:

* ``torch`` and ``math`` (the modules themselves, given by name; nothing can be imported);
* the builtins in :data:`SAFE_BUILTINS` (``__builtins__`` is replaced by a dict of exactly those);
* the names the program itself defines.

This is a guard against the mistakes and habits of LLM-written code (imports, file access,
reflection), checked statically by :mod:`~lm_reward_learning.reward.static_checks` first; it is not a
security sandbox. Run programs from untrusted sources inside a container.
"""

from __future__ import annotations

import builtins
import math
import sys
import traceback
from collections.abc import Callable
from typing import Any

import torch

from lm_reward_learning.errors import RewardValidationError
from lm_reward_learning.reward.state import RewardState

#: File name given to compiled reward programs; traceback frames with this name are the program's.
PROGRAM_FILENAME = "<reward>"

#: Builtins a reward program may use (pure functions and constructors, no I/O or reflection).
SAFE_BUILTINS: tuple[str, ...] = (
    "abs",
    "all",
    "any",
    "bool",
    "dict",
    "enumerate",
    "float",
    "int",
    "isinstance",
    "len",
    "list",
    "max",
    "min",
    "pow",
    "range",
    "round",
    "sorted",
    "str",
    "sum",
    "tuple",
    "zip",
)

#: Modules a reward program sees as free names.
MODULES: dict[str, Any] = {"torch": torch, "math": math}

_MAX_ERROR_CHARS = 500

RewardFn = Callable[[RewardState], "tuple[torch.Tensor, dict[str, torch.Tensor]]"]


def make_namespace() -> dict[str, Any]:
    """Return a fresh global namespace for one reward program (restricted ``__builtins__``).

    Besides :data:`SAFE_BUILTINS`, ``__builtins__`` holds :func:`loaded_module_import` as
    ``__import__``: C extensions import through the builtins of the calling Python frame
    (``PyImport_Import``), and torch does so from inside some ops (e.g. comparisons with Python
    numbers import ``torch``). Program code cannot name it (names starting with ``_`` are rejected).
    """
    safe = {name: getattr(builtins, name) for name in SAFE_BUILTINS}
    safe["__import__"] = loaded_module_import
    return {"__builtins__": safe, "__name__": "reward_program", **MODULES}


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
    if level != 0 or name not in sys.modules:
        raise ImportError(f"reward programs cannot import modules ({name!r} is not already loaded)")
    return builtins.__import__(name, globals, locals, fromlist or (), 0)


def compile_reward_fn(source: str) -> RewardFn:
    """Compile ``source`` and return its ``compute_reward``, run in :func:`make_namespace`.

    The source should already have passed :func:`~lm_reward_learning.reward.validator.check_source`;
    this function does not repeat the static checks.

    Raises:
        RewardValidationError: if the source does not compile, its top level raises, or it defines
            no callable ``compute_reward``.
    """
    try:
        code = compile(source, PROGRAM_FILENAME, "exec", dont_inherit=True)
    except SyntaxError as exc:
        msg = f"line {exc.lineno}: syntax error: {exc.msg}; run the validator for details"
        raise RewardValidationError(msg, [msg]) from exc
    namespace = make_namespace()
    try:
        exec(code, namespace)
    except Exception as exc:
        msg = format_program_error(exc, source)
        raise RewardValidationError(msg, [msg]) from exc
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
