"""Child process of the validator's dry run: ``python -m lm_reward_learning.reward._dry_run REQ OUT``.

``REQ`` is a JSON file ``{"batch_path", "sources": [...], "timeout_s", "memory_mb", "max_abs_reward"}``.
The child loads the batch once, then runs each program in turn and appends JSON lines to ``OUT``:

* ``{"event": "ready", "num_envs": N}`` after torch and the batch are loaded;
* ``{"event": "start", "index": i}`` before program ``i`` runs;
* ``{"event": "done", "index": i, "result": {...}}`` after it (see :func:`run_one`);
* ``{"event": "fatal", "message": ...}`` if the batch cannot be loaded (then exit code 2).

The child is started inside the reward sandbox (:mod:`lm_reward_learning.isolation`: scrubbed
environment, Landlock, parent death, rlimits); after loading the batch it seals itself
(``RLIMIT_DATA`` and seccomp) before compiling the first program. The ``ready`` record carries the
sandbox report (``{"applied": [...], "missing": {...}}``).

Limits:

* **Time**, per call: ``SIGALRM`` after ``timeout_s`` raises :class:`ProgramTimeout` at the line being
  run (the program cannot catch it: ``try`` is rejected statically). The parent kills the whole
  process if a program is stuck in one long C call and the alarm cannot be delivered.
* **Memory**: ``RLIMIT_DATA`` is set once, at seal, to the process's data size after torch and the
  batch are loaded (``VmData``) plus ``memory_mb``; every program's tensors are freed before the next
  one runs. ``RLIMIT_DATA`` counts private writable mappings (heap and anonymous ``mmap``, where
  tensor storage lives), not shared libraries or ``PROT_NONE`` reservations. ``RLIMIT_AS`` counts
  those too, so it measures torch's virtual size (~620 MiB for the CPU build, far more for CUDA
  builds) rather than memory in use: an ``RLIMIT_AS`` of 512 MiB set before ``import torch`` makes the
  import fail (OpenBLAS cannot allocate its buffers), while an ``RLIMIT_DATA`` of 512 MiB does not. An
  allocation past the limit fails at once (torch raises ``RuntimeError: DefaultCPUAllocator: can't
  allocate memory``, Python ``MemoryError``) and is reported as such; the process survives and runs
  the next program. Measured on torch 2.13 CPU, Linux 6.x: ``VmData`` after ``import torch`` is
  ~220 MiB; ``torch.zeros(10**9)`` under a 256 MiB budget fails in < 1 ms.
* Each program is called ``calls`` times (default :data:`CALLS`), each call under the time limit; the
  record's ``wall_s`` is the median call time, which the trainer scales into its per-call time limit.
"""

from __future__ import annotations

import json
import logging
import math
import re
import statistics
import sys
import time
from dataclasses import fields
from typing import Any

import torch

from lm_reward_learning import isolation
from lm_reward_learning.errors import RewardValidationError
from lm_reward_learning.reward.batch import load_state_batch
from lm_reward_learning.reward.guard import SandboxViolation
from lm_reward_learning.reward.runtime import ProgramTimeout, allocation_text, is_out_of_memory, time_limit
from lm_reward_learning.reward.sandbox import compile_reward_fn, format_program_error, program_line
from lm_reward_learning.reward.state import RewardState

logger = logging.getLogger(__name__)

#: ``reward`` must equal the sum of components within ``SUM_ATOL + SUM_RTOL * |sum|`` per env.
SUM_ATOL = 1e-4
SUM_RTOL = 1e-4
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
#: Calls of ``compute_reward`` per program (the median time sets the trainer's per-call limit).
CALLS = 3


def main(argv: list[str]) -> int:
    """Run the programs of request file ``argv[0]``, writing JSON lines to ``argv[1]``."""
    req_path, out_path = argv
    with open(req_path, encoding="utf-8") as fh:
        req = json.load(fh)
    torch.set_num_threads(1)
    with open(out_path, "a", encoding="utf-8") as out:

        def emit(record: dict[str, Any]) -> None:
            out.write(json.dumps(record, allow_nan=False) + "\n")
            out.flush()

        try:
            state = load_state_batch(req["batch_path"])
        except Exception as exc:  # any failure here is about the batch file, not a program
            emit({"event": "fatal", "message": str(exc)})
            return 2
        base = isolation.vm_data_bytes()
        limit = base + int(float(req["memory_mb"]) * 2**20) if base else None
        layers = isolation.seal(memory_limit_bytes=limit)  # nothing untrusted has run before this line
        emit({"event": "ready", "num_envs": state.num_envs, "sandbox": layers})
        for i, source in enumerate(req["sources"]):
            emit({"event": "start", "index": i})
            result = run_one(
                source,
                state,
                timeout_s=float(req["timeout_s"]),
                memory_mb=float(req["memory_mb"]),
                max_abs_reward=float(req["max_abs_reward"]),
                calls=int(req.get("calls", CALLS)),
            )
            emit({"event": "done", "index": i, "result": result})
    return 0


def run_one(
    source: str,
    state: RewardState,
    *,
    timeout_s: float,
    memory_mb: float,
    max_abs_reward: float,
    calls: int = CALLS,
) -> dict[str, Any]:
    """Run one program (compiled in the language sandbox) ``calls`` times on a private copy of
    ``state``, each call (and the compilation) under ``timeout_s``, and check its last output.

    The memory limit is the process's (set at seal); ``memory_mb`` only words the message.

    Returns:
        ``{"issues": [str], "components": [name], "stats": {name: [mean, min, max]},
        "reward_stats": [mean, min, max] | None, "wall_s": float}``; ``wall_s`` is the median call time.
    """
    result: dict[str, Any] = {
        "issues": [],
        "components": [],
        "stats": {},
        "reward_stats": None,
        "wall_s": 0.0,
    }
    issues: list[str] = result["issues"]
    original = _clone_state(state)
    arg = _clone_state(state)
    out: object = None
    try:
        times = []
        with torch.no_grad():
            with time_limit(timeout_s):
                fn = compile_reward_fn(source)
            for _ in range(calls):
                with time_limit(timeout_s):
                    start = time.perf_counter()
                    out = fn(arg)
                    times.append(time.perf_counter() - start)
        result["wall_s"] = statistics.median(times)
        _check_output(out, state.num_envs, max_abs_reward, result)
    except ProgramTimeout as exc:
        line = program_line(exc)
        issues.append(
            f"line {line}: compute_reward did not finish within the time limit of {timeout_s:g} s on "
            f"{state.num_envs} envs (stopped at line {line}); use vectorised torch operations over the env "
            "dimension instead of Python loops over envs, feet or steps"
        )
    except RewardValidationError as exc:  # from compiling: syntax or top-level errors
        issues.extend(exc.issues or [str(exc)])
    except SandboxViolation as exc:
        issues.append(f"line {program_line(exc)}: {exc}")
    except RecursionError as exc:
        issues.append(
            f"line {program_line(exc)}: RecursionError: maximum recursion depth exceeded; reward terms "
            "do not need recursion — write them as tensor expressions"
        )
    except Exception as exc:
        if is_out_of_memory(exc):
            issues.append(
                f"line {program_line(exc)}: the program ran out of memory: {allocation_text(exc)} exceeded the "
                f"dry run's memory limit of {memory_mb:g} MiB; every term needs only O(num_envs x joints) "
                "memory — do not build (N, N) or history-sized tensors"
            )
        else:
            issues.append(format_program_error(exc, source))
    issues.extend(_mutations(original, arg))
    return result


def _check_output(out: object, n: int, max_abs: float, result: dict[str, Any]) -> None:
    """Append findings about ``out = compute_reward(state)`` to ``result["issues"]``; fill stats."""
    issues: list[str] = result["issues"]
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        issues.append(
            f"compute_reward returned {_describe(out)}; it must return a 2-tuple `reward, components` "
            f"with reward a float tensor of shape ({n},) and components a dict of named ({n},) tensors"
        )
        return
    reward, components = out
    reward_ok = _check_tensor("reward (the first returned value)", reward, n, max_abs, issues)
    if not isinstance(components, dict):
        issues.append(
            f"components (the second returned value) is {_describe(components)}; it must be a dict "
            f"mapping term names to ({n},) float tensors, e.g. {{'track_lin_vel_xy_exp': ...}}"
        )
        return
    if not components:
        issues.append(
            "components is an empty dict; return every term by name (at least one), e.g. "
            "{'track_lin_vel_xy_exp': ..., 'action_rate_l2': ...}, so training can log each term"
        )
        return
    good: dict[str, torch.Tensor] = {}
    for name, value in components.items():
        if not isinstance(name, str) or not _NAME_RE.match(name):
            issues.append(
                f"component name {name!r} is not allowed; use snake_case names '<quantity>_<kernel>' "
                "(lowercase letters, digits, '_'), e.g. 'track_lin_vel_xy_exp'"
            )
            continue
        if _check_tensor(f"component '{name}'", value, n, max_abs, issues):
            good[name] = value
    result["components"] = [str(k) for k in components]
    if reward_ok:
        result["reward_stats"] = _stats(reward)
    result["stats"] = {k: _stats(v) for k, v in good.items()}
    if reward_ok and len(good) == len(components):
        total = torch.stack([v.double() for v in good.values()]).sum(dim=0)
        err = (reward.double() - total).abs()
        bad = err > SUM_ATOL + SUM_RTOL * total.abs()
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            issues.append(
                f"reward is not the sum of the components: they differ by up to {float(err.max()):.4g} "
                f"(env {i}: reward {float(reward[i]):.6g}, sum {float(total[i]):.6g}); return the "
                "weighted terms as components and `reward = sum(components.values())` "
                f"(tolerance {SUM_ATOL:g} + {SUM_RTOL:g}·|sum|)"
            )


def _check_tensor(what: str, value: object, n: int, max_abs: float, issues: list[str]) -> bool:
    """Check one returned tensor: type, shape ``(n,)``, float dtype, finite, bounded."""
    if not isinstance(value, torch.Tensor):
        issues.append(f"{what} is {_describe(value)}; it must be a float tensor of shape ({n},)")
        return False
    if tuple(value.shape) != (n,):
        issues.append(
            f"{what} has shape {tuple(value.shape)}; it must be ({n},), one value per env — reduce "
            "the other dimensions (e.g. .sum(dim=-1)) or drop size-1 ones (.squeeze(-1))"
        )
        return False
    if value.dtype not in (torch.float32, torch.float64):
        issues.append(
            f"{what} has dtype {value.dtype}; it must be torch.float32 (or float64) — convert with "
            ".float(), e.g. state.foot_contact.float()"
        )
        return False
    finite = torch.isfinite(value)
    if not bool(finite.all()):
        nan, inf = int(torch.isnan(value).sum()), int(torch.isinf(value).sum())
        first = int((~finite).nonzero()[0, 0])
        issues.append(
            f"{what} is not finite in {nan + inf} of {n} envs ({nan} nan, {inf} inf; first at env {first}: "
            f"{float(value[first])}); guard divisions, logs and square roots, e.g. "
            "torch.clamp(x, min=1e-6), and prefer bounded kernels (torch.exp(-err / std**2))"
        )
        return False
    peak = value.abs().max()
    if float(peak) > max_abs:
        i = int(value.abs().argmax())
        issues.append(
            f"{what} reaches |value| = {float(peak):.4g} (env {i}), above the limit of {max_abs:g} per "
            "call; scale its weight down or bound the term (exp kernels, torch.clamp)"
        )
        return False
    return True


def _mutations(original: RewardState, passed: RewardState) -> list[str]:
    """Findings for state fields the program changed in place or rebound."""
    found = []
    for f in fields(RewardState):
        before, after = getattr(original, f.name), getattr(passed, f.name)
        if isinstance(before, torch.Tensor):
            same = isinstance(after, torch.Tensor) and before.shape == after.shape and torch.equal(before, after)
        else:
            same = type(after) is type(before) and after == before
        if not same:
            found.append(
                f"compute_reward modified state.{f.name}; the state is shared with the simulator and "
                f"must stay read-only — compute new tensors (e.g. x = state.{f.name} * 2, not "
                f"state.{f.name} *= 2 or state.{f.name}[...] = ...)"
            )
    return found


def _clone_state(state: RewardState) -> RewardState:
    return RewardState(
        **{
            f.name: v.clone() if isinstance(v := getattr(state, f.name), torch.Tensor) else v
            for f in fields(RewardState)
        }
    )


def _stats(t: torch.Tensor) -> list[float]:
    t = t.double()
    return [float(t.mean()), float(t.min()), float(t.max())]


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"the float {value}"
    return f"a {type(value).__name__}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
