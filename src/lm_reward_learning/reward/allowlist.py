"""What a reward program may name: the allowlists of the language sandbox, as plain names.

Torch-free on purpose: the static checks (:mod:`~lm_reward_learning.reward.static_checks`), the LLM's
prompt (:mod:`lm_reward_learning.prompts.messages`) and ``lmrl validate``'s fast path read these
without importing torch. :mod:`~lm_reward_learning.reward.guard` builds the run-time facades and
the per-type attribute guard from the same lists, so prompt, static checks and guard cannot drift
apart.
"""

from __future__ import annotations

import math
from dataclasses import fields

from lm_reward_learning.reward.state import RewardState

#: Modules a reward program sees as free names (as facades).
MODULE_NAMES: tuple[str, ...] = ("torch", "math")

#: Builtins a reward program may use (pure functions and constructors, no I/O or reflection).
SAFE_BUILTINS: tuple[str, ...] = (
    "abs", "all", "any", "bool", "dict", "enumerate", "float", "int", "isinstance", "len", "list", "max",
    "min", "pow", "range", "round", "sorted", "str", "sum", "tuple", "zip",
)  # fmt: skip

#: ``torch.<name>`` functions a reward program may call: pure tensor math, creation and reduction.
TORCH_FUNCTIONS: tuple[str, ...] = (
    "abs", "absolute", "acos", "acosh", "add", "addcdiv", "addcmul", "all", "allclose", "amax", "amin", "aminmax",
    "any", "arange", "argmax", "argmin", "argsort", "as_tensor", "asin", "asinh", "atan", "atan2", "atanh", "bmm",
    "broadcast_tensors", "broadcast_to", "bucketize", "cat", "cdist", "ceil", "chunk", "clamp", "clamp_max",
    "clamp_min", "clip", "clone", "column_stack", "concat", "concatenate", "cos", "cosh", "count_nonzero", "cross",
    "cummax", "cummin", "cumprod", "cumsum", "deg2rad", "diag", "diag_embed", "diagonal", "diff", "dist", "div",
    "divide", "dot", "dstack", "einsum", "eq", "equal", "erf", "erfc", "exp", "exp2", "expm1", "eye", "flatten",
    "flip", "fliplr", "flipud", "float_power", "floor", "floor_divide", "fmax", "fmin", "fmod", "frac", "full",
    "full_like", "gather", "ge", "greater", "greater_equal", "gt", "heaviside", "hstack", "hypot", "index_select",
    "inner", "isclose", "isfinite", "isin", "isinf", "isnan", "isneginf", "isposinf", "kron", "le", "lerp", "less",
    "less_equal", "linspace", "log", "log10", "log1p", "log2", "log_softmax", "logaddexp", "logical_and",
    "logical_not", "logical_or", "logical_xor", "logit", "logsumexp", "lt", "masked_fill", "masked_select",
    "matmul", "max", "maximum", "mean", "median", "min", "minimum", "mm", "moveaxis", "movedim", "mul", "multiply",
    "mv", "nan_to_num", "nanmean", "nansum", "narrow", "ne", "neg", "negative", "nonzero", "norm", "not_equal",
    "numel", "ones", "ones_like", "outer", "permute", "pow", "prod", "rad2deg", "ravel", "reciprocal", "relu",
    "remainder", "repeat_interleave", "reshape", "roll", "round", "rsqrt", "searchsorted", "select", "sgn",
    "sigmoid", "sign", "signbit", "sin", "sinc", "sinh", "softmax", "sort", "split", "sqrt", "square", "squeeze",
    "stack", "std", "std_mean", "sub", "subtract", "sum", "swapaxes", "swapdims", "t", "take", "take_along_dim",
    "tan", "tanh", "tensor", "tensordot", "tile", "topk", "trace", "transpose", "trapezoid", "tril", "triu",
    "true_divide", "trunc", "unbind", "unique", "unsqueeze", "var", "var_mean", "vstack", "where", "xlogy", "zeros",
    "zeros_like",
)  # fmt: skip

#: ``torch.<name>`` values: dtypes, constants, ``torch.Tensor`` (for ``isinstance``) and ``torch.no_grad``.
TORCH_VALUES: tuple[str, ...] = (
    "float", "float16", "float32", "float64", "double", "half", "bfloat16", "int", "int8", "int16", "int32",
    "int64", "long", "uint8", "bool", "pi", "e", "inf", "nan", "Tensor", "no_grad",
)  # fmt: skip

#: ``torch.linalg.<name>`` functions.
LINALG_FUNCTIONS: tuple[str, ...] = ("norm", "vector_norm", "matrix_norm", "cross", "vecdot", "det", "inv", "solve")

#: ``torch.nn.functional.<name>`` functions.
FUNCTIONAL_FUNCTIONS: tuple[str, ...] = (
    "relu", "relu6", "elu", "selu", "celu", "gelu", "silu", "softplus", "softsign", "sigmoid", "tanh", "hardtanh",
    "leaky_relu", "logsigmoid", "softmax", "log_softmax", "normalize", "one_hot", "cosine_similarity",
    "pairwise_distance", "smooth_l1_loss", "huber_loss", "mse_loss", "l1_loss", "pad",
)  # fmt: skip

#: Tensor methods and properties a program may use (no I/O, storage, pointers, hooks, autograd or in-place ops).
TENSOR_ATTRS: frozenset[str] = frozenset({
    "abs", "absolute", "acos", "acosh", "add", "addcdiv", "addcmul", "all", "allclose", "amax", "amin", "aminmax",
    "any", "argmax", "argmin", "argsort", "asin", "asinh", "atan", "atan2", "atanh", "bmm", "bool", "broadcast_to",
    "ceil", "chunk", "clamp", "clamp_max", "clamp_min", "clip", "clone", "contiguous", "cos", "cosh",
    "count_nonzero", "cross", "cummax", "cummin", "cumprod", "cumsum", "deg2rad", "detach", "device", "diag",
    "diagonal", "diff", "dim", "dist", "div", "divide", "dot", "double", "dtype", "eq", "equal", "erf", "exp",
    "exp2", "expand", "expand_as", "expm1", "flatten", "flip", "float", "float_power", "floor", "floor_divide",
    "fmax", "fmin", "fmod", "frac", "gather", "ge", "greater", "greater_equal", "gt", "half", "heaviside", "hypot",
    "index_select", "inner", "int", "is_floating_point", "isclose", "isfinite", "isinf", "isnan", "isneginf",
    "isposinf", "item", "kron", "le", "lerp", "less", "less_equal", "log", "log10", "log1p", "log2", "log_softmax",
    "logaddexp", "logical_and", "logical_not", "logical_or", "logical_xor", "logit", "logsumexp", "long", "lt",
    "masked_fill", "masked_select", "matmul", "max", "maximum", "mean", "median", "min", "minimum", "mm",
    "moveaxis", "movedim", "mul", "multiply", "mv", "nan_to_num", "nanmean", "nansum", "narrow", "ndim",
    "ndimension", "ne", "neg", "negative", "nelement", "new_full", "new_ones", "new_tensor", "new_zeros", "nonzero",
    "norm", "not_equal", "numel", "outer", "permute", "pow", "prod", "rad2deg", "ravel", "reciprocal", "relu",
    "remainder", "repeat", "repeat_interleave", "reshape", "reshape_as", "roll", "round", "rsqrt", "sgn", "shape",
    "sigmoid", "sign", "signbit", "sin", "sinc", "sinh", "size", "softmax", "sort", "split", "sqrt", "square",
    "squeeze", "std", "sub", "subtract", "sum", "swapaxes", "swapdims", "t", "T", "mT", "tan", "tanh", "tile", "to",
    "tolist", "topk", "trace", "transpose", "tril", "triu", "true_divide", "trunc", "type_as", "unbind",
    "unflatten", "unique", "unsqueeze", "var", "view", "view_as", "where", "xlogy", "requires_grad", "is_cuda",
})  # fmt: skip

#: Attributes of plain Python values by type name (no ``format``: format strings reach attributes by name).
PLAIN_ATTRS: dict[str, frozenset[str]] = {
    "dict": frozenset({"keys", "values", "items", "get", "copy", "pop", "setdefault", "update"}),
    "mappingproxy": frozenset({"keys", "values", "items", "get", "copy"}),
    "list": frozenset(
        {"append", "extend", "insert", "pop", "remove", "index", "count", "reverse", "sort", "copy", "clear"}
    ),
    "tuple": frozenset({"index", "count"}),
    "str": frozenset({"lower", "upper", "startswith", "endswith", "join", "split", "strip", "replace"}),
    "float": frozenset({"real", "imag", "is_integer"}),
    "int": frozenset({"real", "imag", "bit_length"}),
    "bool": frozenset({"real", "imag"}),
    "range": frozenset({"start", "stop", "step"}),
    "torch.Size": frozenset({"numel", "index", "count"}),
    "torch.device": frozenset({"type", "index"}),
    "torch.dtype": frozenset({"is_floating_point", "is_signed", "itemsize"}),
}

#: Fields of ``torch.max(x, dim=...)``-style named results (``torch.return_types``).
RETURN_TYPE_ATTRS = frozenset({"values", "indices", "min", "max", "mean", "std", "var", "eigenvalues"})

#: State attributes a program may read.
STATE_ATTRS: tuple[str, ...] = (*(f.name for f in fields(RewardState)), "num_envs")

#: Attribute names that reach interpreter internals without an underscore; named in static findings.
INTERNAL_ATTRS: frozenset[str] = frozenset({
    "gi_frame", "gi_code", "gi_yieldfrom", "gi_running", "gi_suspended", "cr_frame", "cr_code", "cr_await",
    "cr_origin", "ag_frame", "ag_code", "ag_await", "f_globals", "f_locals", "f_builtins", "f_back", "f_code",
    "f_lasti", "f_lineno", "f_trace", "tb_frame", "tb_next", "tb_lasti", "tb_lineno", "co_code", "co_consts",
    "co_names", "func_globals", "func_code", "mro", "format", "format_map",
})  # fmt: skip


#: Public names of :mod:`math` (all pure functions and constants).
MATH_NAMES: tuple[str, ...] = tuple(n for n in dir(math) if not n.startswith("_"))

#: ``torch.<name>`` a program may use: functions, values and the two sub-modules.
TORCH_MEMBERS: frozenset[str] = frozenset({*TORCH_FUNCTIONS, *TORCH_VALUES, "linalg", "nn"})


def allowed_attribute_names() -> frozenset[str]:
    """Every attribute name some object in a program may have (the static checks reject the rest)."""
    names: set[str] = {*TENSOR_ATTRS, *STATE_ATTRS, *RETURN_TYPE_ATTRS, *TORCH_MEMBERS, "functional"}
    for attrs in PLAIN_ATTRS.values():
        names |= attrs
    names |= {*LINALG_FUNCTIONS, *FUNCTIONAL_FUNCTIONS, *MATH_NAMES}
    return frozenset(names)
