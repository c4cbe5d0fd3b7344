"""The process layer of the reward sandbox: every process that runs a reward program is confined.

A reward program was written by an LLM from a VLM's feedback on an untrusted internet video, so it is
untrusted code on a lab machine that may be connected to a robot. Besides the language layer
(:mod:`lm_reward_learning.reward.guard`), the process running it

* starts with a scrubbed environment (:func:`scrubbed_env`: an allowlist, never API keys or tokens);
* dies with its parent, cannot write outside its run directory nor read outside Python, its
  libraries and its inputs (Landlock), has CPU-time, file-size and memory limits (rlimits);
* cannot start programs, open sockets, signal other processes or raise its limits (seccomp).

:func:`sandboxed_command` builds the command line and environment of such a child;
:func:`~.layers.seal` is called by the child right before it compiles the program. What was active is
reported by the child (:func:`~.layers.report`) and recorded by the caller (``run.yaml``,
``lmrl validate``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lm_reward_learning.isolation.layers import (
    LAYERS,
    available_layers,
    is_entered,
    is_sealed,
    report,
    seal,
    vm_data_bytes,
    warn_missing_once,
)
from lm_reward_learning.isolation.policy import SandboxPolicy, is_secret_name, scrubbed_env, secrets_withheld

__all__ = [
    "LAYERS",
    "SandboxPolicy",
    "available_layers",
    "is_entered",
    "is_sealed",
    "is_secret_name",
    "report",
    "sandboxed_command",
    "scrubbed_env",
    "seal",
    "secrets_withheld",
    "vm_data_bytes",
    "warn_missing_once",
]

ENTER_MODULE = "lm_reward_learning.isolation.enter"


def sandboxed_command(
    module: str,
    args: Sequence[str],
    policy: SandboxPolicy,
    *,
    python: str | Path | None = None,
    pythonpath: Sequence[str | Path] = (),
    tmp_dir: Path | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run ``python -m module args`` inside the sandbox.

    Args:
        module: The module to run as ``__main__`` (it must call :func:`seal` before compiling a program).
        args: Its arguments.
        policy: Write/read paths and limits.
        python: The interpreter (default: this one).
        pythonpath: Directories put first on the child's ``PYTHONPATH`` (e.g. this checkout's ``src``).
        tmp_dir: The child's ``TMPDIR`` (should be inside a write directory); created.

    Returns:
        ``(argv, env)`` for :class:`subprocess.Popen`; ``env`` is :func:`scrubbed_env`.
    """
    paths = [str(p) for p in pythonpath]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    extra = {"PYTHONPATH": os.pathsep.join(paths)} if paths else {}
    if tmp_dir is not None:
        Path(tmp_dir).mkdir(parents=True, exist_ok=True)
        extra["TMPDIR"] = str(Path(tmp_dir).resolve())
    argv = [str(python or sys.executable), "-m", ENTER_MODULE, policy.to_json(), str(os.getpid()), module, *args]
    return argv, scrubbed_env(**extra)
