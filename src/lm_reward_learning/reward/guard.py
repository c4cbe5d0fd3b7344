"""The language layer of the reward sandbox: what a reward program can name and reach at run time.

A reward program (LLM-written, from feedback on an untrusted internet video) never sees the real
``torch`` module: ``torch.os``, ``torch.save``, ``torch.hub`` and the rest of torch's re-exported
modules are one attribute away on it. It sees a facade (:func:`torch_facade`) holding only the tensor
functions of :data:`~.allowlist.TORCH_FUNCTIONS`, the dtypes and constants of :data:`~.allowlist.TORCH_VALUES`, and two
sub-facades (``torch.linalg``, ``torch.nn.functional``). ``math`` is a facade of the public ``math``
functions.

Every attribute read in a program is compiled into a call of :func:`guarded_getattr` (see
:func:`~lm_reward_learning.reward.sandbox.compile_reward_fn`), which allows a name only if the
object's type has it in an allowlist (:data:`~.allowlist.TENSOR_ATTRS` for tensors, the fields for the state,
a few methods for dicts, lists and strings, ...). Anything else, and every name starting with ``_``,
raises :class:`SandboxViolation`. That closes the paths the static checks cannot see through
aliases (``t = torch; t.save``) and the interpreter internals that have no underscore
(``gi_frame``, ``f_globals``, ``f_back``, ``tb_frame``, ``cr_frame``, ...): generators, frames, code
objects, functions and types have no allowed attribute at all. Facade functions refuse ``out=``
(writing into a tensor the program did not create).

Module-level values are frozen after the module body runs (:func:`freeze`: dicts become read-only
mappings, lists tuples, sets frozensets), so a program keeps no mutable state between calls.

This layer is the first of several (:mod:`lm_reward_learning.isolation` confines the process that
runs it); it is not meant to hold on its own.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional

from lm_reward_learning.reward.allowlist import (
    FUNCTIONAL_FUNCTIONS,
    LINALG_FUNCTIONS,
    MATH_NAMES,
    PLAIN_ATTRS,
    RETURN_TYPE_ATTRS,
    STATE_ATTRS,
    TENSOR_ATTRS,
    TORCH_FUNCTIONS,
    TORCH_VALUES,
)
from lm_reward_learning.reward.state import RewardState

#: Allowed attributes by exact type of plain values (from :data:`~.allowlist.PLAIN_ATTRS`).
_PLAIN_ATTRS: dict[type, frozenset[str]] = {
    t: PLAIN_ATTRS[name]
    for t, name in (
        (dict, "dict"), (types.MappingProxyType, "mappingproxy"), (list, "list"), (tuple, "tuple"), (str, "str"),
        (float, "float"), (int, "int"), (bool, "bool"), (range, "range"), (torch.Size, "torch.Size"),
        (torch.device, "torch.device"), (torch.dtype, "torch.dtype"),
    )
}  # fmt: skip
_STATE_ATTRS = frozenset(STATE_ATTRS)

#: Name of the guard in a program's globals (programs cannot name it: names starting with ``_`` are rejected).
GUARD_NAME = "__lmrl_getattr__"


class SandboxViolation(Exception):  # noqa: N818 (named for what happened, as in RestrictedPython)
    """A reward program reached for something outside the language sandbox (attribute, module, ``out=``)."""


class Facade(types.SimpleNamespace):
    """A module stand-in holding only allowlisted members (``torch``, ``torch.linalg``, ``math``, ...)."""


class _NoOut:
    """A facade function: calls the torch function, refusing ``out=``."""

    __slots__ = ("fn", "qualname")

    def __init__(self, fn: Callable[..., Any], qualname: str) -> None:
        self.fn, self.qualname = fn, qualname

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if "out" in kwargs:
            raise SandboxViolation(
                f"{self.qualname}(..., out=...) is not allowed; use the returned tensor (x = {self.qualname}(...))"
            )
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<reward-sandbox function {self.qualname}>"


def _facade(module: Any, prefix: str, functions: tuple[str, ...], values: tuple[str, ...] = ()) -> Facade:
    members: dict[str, Any] = {name: _NoOut(getattr(module, name), f"{prefix}.{name}") for name in functions}
    members.update({name: getattr(module, name) for name in values})
    return Facade(**members)


def torch_facade() -> Facade:
    """The ``torch`` a reward program sees: the allowlisted functions and values, ``linalg`` and
    ``nn.functional`` (each call is the real torch function, refusing ``out=``)."""
    facade = _facade(torch, "torch", TORCH_FUNCTIONS, TORCH_VALUES)
    facade.linalg = _facade(torch.linalg, "torch.linalg", LINALG_FUNCTIONS)
    facade.nn = Facade(functional=_facade(torch.nn.functional, "torch.nn.functional", FUNCTIONAL_FUNCTIONS))
    return facade


def math_facade() -> Facade:
    """The ``math`` a reward program sees: every public name of :mod:`math` (all pure functions and constants)."""
    return Facade(**{name: getattr(math, name) for name in MATH_NAMES})


def _describe(obj: Any) -> str:
    if isinstance(obj, Facade):
        return "this module"
    if isinstance(obj, torch.Tensor):
        return "a tensor"
    if isinstance(obj, RewardState):
        return "the state"
    return f"a {type(obj).__name__} object"


def _allowed(obj: Any) -> frozenset[str] | Mapping[str, Any]:
    kind = type(obj)
    if kind is Facade:
        return vars(obj)
    if isinstance(obj, torch.Tensor):
        return TENSOR_ATTRS
    if kind is RewardState:
        return _STATE_ATTRS
    if kind.__module__ == "torch.return_types":
        return RETURN_TYPE_ATTRS
    return _PLAIN_ATTRS.get(kind, frozenset())


def guarded_getattr(obj: Any, name: str) -> Any:
    """``obj.name`` for reward programs: allowed only for the names :func:`_allowed` lists for ``obj``'s type.

    Raises:
        SandboxViolation: for any other attribute (message names what is available for tensors and
            the state, the usual targets).
    """
    if not name.startswith("_") and name in _allowed(obj):
        return getattr(obj, name)
    what = _describe(obj)
    hint = ""
    if isinstance(obj, torch.Tensor):
        hint = (
            "; tensors offer math, reductions, shape and dtype methods only (no numpy, storage, hooks or in-place ops)"
        )
    elif isinstance(obj, Facade):
        hint = "; reward programs get tensor math only (the available torch functions are listed in the task)"
    raise SandboxViolation(f"'{name}' of {what} is not available to reward programs{hint}")


def freeze(value: Any) -> Any:
    """A read-only copy of a module-level value: dict → read-only mapping, list → tuple, set → frozenset."""
    if isinstance(value, (dict, types.MappingProxyType)):
        return types.MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    return value


def freeze_namespace(namespace: dict[str, Any], program_names: set[str]) -> None:
    """Freeze every module-level value and top-level function default a program defined, in place."""
    for name in program_names:
        value = namespace.get(name)
        if isinstance(value, types.FunctionType):
            if value.__defaults__:
                value.__defaults__ = tuple(freeze(v) for v in value.__defaults__)
            if value.__kwdefaults__:
                value.__kwdefaults__ = {k: freeze(v) for k, v in value.__kwdefaults__.items()}
        elif name in namespace:
            namespace[name] = freeze(value)
