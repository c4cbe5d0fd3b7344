"""Helpers of the reward-sandbox tests (a unique module name: test folders share ``sys.path``)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

#: The value of every planted secret; it must never appear in anything a sandboxed program produces.
SECRET = "sk-lmrl-canary-5f0c3a9e1d"
#: Secret-looking variables planted in the test process's environment.
SECRET_VARS = ("OPENAI_API_KEY", "GEMINI_API_KEY", "HF_TOKEN", "LMRL_TEST_PASSWORD")
HERE = Path(__file__).resolve().parent


def run_probe(request: dict, work: Path, *, timeout_s: float = 300.0) -> list[dict]:
    """Run ``sandbox_probe.py`` inside the sandbox (write access: ``work`` only); return its records."""
    from lm_reward_learning import isolation

    work.mkdir(parents=True, exist_ok=True)
    req, out = work / "request.json", work / "out.jsonl"
    req.write_text(json.dumps(request))
    policy = isolation.SandboxPolicy.for_paths([work], [Path(p) for p in request.get("read", [])], cpu_time_s=600)
    cmd, env = isolation.sandboxed_command(
        "sandbox_probe", [str(req), str(out)], policy, pythonpath=[HERE, _src()], tmp_dir=work / "tmp"
    )
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True, timeout=timeout_s)
    wall = time.monotonic() - start
    assert proc.returncode == 0, f"probe exited {proc.returncode} after {wall:.1f} s:\n{proc.stderr}"
    text = out.read_text()
    assert SECRET not in text + proc.stdout + proc.stderr
    return [json.loads(line) for line in text.splitlines()]


def _src() -> Path:
    import lm_reward_learning

    return Path(lm_reward_learning.__file__).resolve().parent.parent


def files_under(path: Path) -> list[Path]:
    """Every file below ``path``."""
    return sorted(p for p in path.rglob("*") if p.is_file())
