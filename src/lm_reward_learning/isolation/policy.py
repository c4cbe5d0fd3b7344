"""What a sandboxed process may touch, and the environment it starts with.

A :class:`SandboxPolicy` travels as JSON on the command line of
:mod:`lm_reward_learning.isolation.enter`; :func:`scrubbed_env` builds the child's environment from an
allowlist, so API keys, tokens and other secrets of the parent never reach a process that runs a
reward program.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

#: Environment variables a sandboxed child keeps (exact names). Everything else is dropped.
SAFE_ENV_VARS: tuple[str, ...] = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONPATH", "PYTHONHASHSEED",
    "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PYTHONWARNINGS", "VIRTUAL_ENV", "LD_LIBRARY_PATH",
    "MUJOCO_GL", "PYOPENGL_PLATFORM", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "XDG_CACHE_HOME",
    "WARP_CACHE_PATH", "LMRL_SANDBOX", "LMRL_SANDBOX_EXTRA_READ",
)  # fmt: skip
#: Prefixes of environment variables a child keeps (locale settings).
SAFE_ENV_PREFIXES: tuple[str, ...] = ("LC_",)
#: A kept variable is still dropped when its name looks like a secret.
_SECRET_RE = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable name looks like it holds a secret (``OPENAI_API_KEY``, ``HF_TOKEN``)."""
    return bool(_SECRET_RE.search(name))


@contextlib.contextmanager
def secrets_withheld(extra_names: Iterable[str] = ()) -> Iterator[list[str]]:
    """Take secret-looking variables (and ``extra_names``) out of ``os.environ`` while the block runs.

    For starting helper processes that must not hold an API key but inherit the environment (a local
    process pool, a local Ray instance, the ROS trainer's worker): only the process that calls the
    endpoint keeps the key. The variables are restored afterwards. Not thread-safe with respect to
    other threads reading those variables meanwhile (endpoint clients read their key when built).

    Yields:
        The names taken out.
    """
    names = sorted({k for k in os.environ if is_secret_name(k)} | {k for k in extra_names if k in os.environ})
    saved = {k: os.environ.pop(k) for k in names}
    try:
        yield names
    finally:
        os.environ.update(saved)


def scrubbed_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of a sandboxed child: the allowlisted variables of ``base`` plus ``extra``.

    Args:
        base: The parent's environment (default ``os.environ``).
        **extra: Variables to set in the child (e.g. ``PYTHONPATH``, ``TMPDIR``); never secrets.

    Returns:
        A new dict; names matching :func:`is_secret_name` are never in it, even from ``extra``.
    """
    base = os.environ if base is None else base
    env = {
        k: v
        for k, v in base.items()
        if (k in SAFE_ENV_VARS or k.startswith(SAFE_ENV_PREFIXES)) and not is_secret_name(k)
    }
    env.update({k: v for k, v in extra.items() if not is_secret_name(k)})
    return env


@dataclass(frozen=True)
class SandboxPolicy:
    """Limits of one sandboxed process (see :mod:`lm_reward_learning.isolation.layers`).

    Attributes:
        write_dirs: Directories the process may create, write and remove files in (its run
            directory); it may read them too.
        read_paths: Further files or directories it may read (a warm-start checkpoint, assets).
        cpu_time_s: CPU-time limit (all threads), s; ``RLIMIT_CPU`` (SIGXCPU, then SIGKILL 5 s
            later). None: no limit.
        max_file_mb: Largest file the process may write, MiB (``RLIMIT_FSIZE``).
        report_file: Where :mod:`~.enter` writes which layers were applied (JSON), or ``""``.
    """

    write_dirs: tuple[str, ...]
    read_paths: tuple[str, ...] = ()
    cpu_time_s: float | None = None
    max_file_mb: float = 2048.0
    report_file: str = ""

    def to_json(self) -> str:
        """One-line JSON for the command line."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SandboxPolicy:
        """Parse :meth:`to_json` output.

        Raises:
            ValueError: not JSON or missing ``write_dirs``.
        """
        data = json.loads(text)
        if not isinstance(data, dict) or "write_dirs" not in data:
            raise ValueError(f"not a sandbox policy: {text[:200]!r}")
        data["write_dirs"] = tuple(data["write_dirs"])
        data["read_paths"] = tuple(data.get("read_paths", ()))
        return cls(**data)

    @classmethod
    def for_paths(
        cls,
        write_dirs: Sequence[Path],
        read_paths: Sequence[Path] = (),
        *,
        cpu_time_s: float | None = None,
        report_file: Path | None = None,
    ) -> SandboxPolicy:
        """A policy from paths (resolved to absolute; read paths that do not exist are left out)."""
        return cls(
            write_dirs=tuple(str(Path(p).resolve()) for p in write_dirs),
            read_paths=tuple(str(Path(p).resolve()) for p in read_paths if Path(p).exists()),
            cpu_time_s=cpu_time_s,
            report_file=str(Path(report_file).resolve()) if report_file else "",
        )
