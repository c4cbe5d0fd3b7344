"""Runs inside the reward sandbox for the tests: ``python -m lm_reward_learning.isolation.enter POLICY PPID
sandbox_probe REQUEST OUT``.

``REQUEST`` (JSON) has ``mode``:

* ``programs``: compile each of ``sources`` with the language layer only (no static checks) and call it
  three times on the batch ``batch_path``, as the dry run would, under ``timeout_s``; one JSON line
  per program: ``{"name", "outcome": "ran" | <exception class>, "message"}``. This shows the run-time
  guard holding on its own.
* ``escape``: the process seals itself like a worker, then runs each of ``snippets`` with full Python
  (as if a program had escaped the language layer); one line per snippet: ``{"name", "outcome":
  "ran" | <exception class>, "message", "result"}``. This shows the OS layers holding on their own.

The first line is ``{"sandbox": <report>}``.
"""

from __future__ import annotations

import json
import sys
import time
import traceback


def main(argv: list[str]) -> int:
    req_path, out_path = argv
    with open(req_path, encoding="utf-8") as fh:
        req = json.load(fh)
    import torch

    from lm_reward_learning import isolation

    torch.set_num_threads(1)
    state = None
    if req["mode"] == "programs":
        from lm_reward_learning.reward.batch import load_state_batch

        state = load_state_batch(req["batch_path"])
    base = isolation.vm_data_bytes()
    layers = isolation.seal(memory_limit_bytes=base + int(req.get("memory_mb", 512) * 2**20) if base else None)
    with open(out_path, "a", encoding="utf-8") as out:

        def emit(record: dict) -> None:
            out.write(json.dumps(record, default=str)[:4000] + "\n")
            out.flush()

        emit({"sandbox": layers})
        if req["mode"] == "programs":
            for name, source in req["sources"].items():
                emit({"name": name, **_run_program(source, state, float(req["timeout_s"]))})
        else:
            for name, code in req["snippets"].items():
                emit({"name": name, **_run_snippet(code, req.get("context", {}))})
    return 0


def _run_program(source: str, state, timeout_s: float) -> dict:
    from lm_reward_learning.reward.runtime import time_limit
    from lm_reward_learning.reward.sandbox import compile_reward_fn

    start = time.monotonic()
    try:
        with time_limit(timeout_s):
            fn = compile_reward_fn(source)
            for _ in range(3):
                fn(state)
        outcome, message = "ran", ""
    except BaseException as exc:
        outcome, message = type(exc).__name__, str(exc)[:500]
    return {"outcome": outcome, "message": message, "wall_s": round(time.monotonic() - start, 3)}


def _run_snippet(code: str, context: dict) -> dict:
    scope = {"__name__": "escaped", **context}
    try:
        exec(code, scope)
        return {"outcome": "ran", "message": "", "result": scope.get("result")}
    except BaseException as exc:
        return {"outcome": type(exc).__name__, "message": str(exc)[:300], "trace": traceback.format_exc()[-300:]}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
