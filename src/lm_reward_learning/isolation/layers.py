"""The OS layers of the reward sandbox, applied inside the process that will run a reward program.

Two steps, because some limits must be set by trusted code after it has loaded what it needs:

1. :func:`enter` (at process start, by :mod:`lm_reward_learning.isolation.enter`, before any thread
   exists):

   * **parent death**: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, so the process dies with the one that
     started it (a killed ``lmrl train`` leaves no worker training on);
   * **rlimits**: no core files, ``RLIMIT_CPU`` (the policy's CPU time), ``RLIMIT_FSIZE``;
   * **Landlock** (Linux ≥ 5.13, PyPI ``landlock``): the file system becomes read-only except the
     policy's write directories, and readable only where Python, the libraries, the policy's read
     paths, ``/proc/self`` and a few system files are (not ``$HOME``, not other processes'
     ``/proc/<pid>/environ``, not ``/tmp``).

2. :func:`seal` (right before the untrusted program is compiled): ``RLIMIT_DATA`` (memory; after the
   trainer's own allocations), then a **seccomp** filter (libseccomp through PyPI ``pyseccomp``, all
   threads): no ``execve``, no ``fork`` (threads only), no sockets, no signals to other processes, no
   ``ptrace``, no raising of rlimits, no mounts, namespaces, ``io_uring``, ``bpf``, ``chmod``/``chown``,
   device nodes, kernel keyring or modules. A denied call fails with ``EPERM`` (``ENOSYS`` for
   ``clone3``, so libc falls back to ``clone``), which Python raises as an ordinary error.

What could not be applied is recorded (:func:`report`), never silently skipped; the launcher warns
once per missing layer (:func:`warn_missing_once`). The scrubbed environment (:func:`~.policy.scrubbed_env`)
is the launcher's part.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import logging
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any

from lm_reward_learning.isolation.policy import SandboxPolicy, is_secret_name

log = logging.getLogger(__name__)

#: Every OS layer, in the order they are applied.
LAYERS: tuple[str, ...] = ("environment", "parent_death", "rlimits", "landlock", "memory_limit", "seccomp")

#: Files and directories under ``/etc``, ``/proc`` and ``/sys`` a sandboxed process may read.
SYSTEM_READ_PATHS: tuple[str, ...] = (
    "/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/os-release",
    "/etc/mime.types", "/etc/ssl/certs", "/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat",
    "/proc/sys/kernel/osrelease", "/proc/sys/vm/overcommit_memory", "/sys/devices/system/cpu",
    "/sys/fs/cgroup", "/sys/kernel/mm/transparent_hugepage",
)  # fmt: skip
#: Directory trees of shared libraries and executables (read and map only).
SYSTEM_READ_TREES: tuple[str, ...] = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
#: Device files a process may read and write (GPU devices also ``ioctl``).
DEVICE_PATHS: tuple[str, ...] = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full")
GPU_DEVICE_GLOBS: tuple[str, ...] = ("/dev/nvidia*", "/dev/dri")

#: Syscalls denied outright by the seccomp filter.
DENIED_SYSCALLS: tuple[str, ...] = (
    "execve", "execveat", "fork", "vfork", "socket", "socketpair", "ptrace", "process_vm_readv",
    "process_vm_writev", "kcmp", "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "tkill", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo", "setrlimit", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "move_mount", "open_tree", "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr", "init_module",
    "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct",
    "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "keyctl", "add_key", "request_key", "bpf",
    "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "open_by_handle_at", "name_to_handle_at", "chmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown",
    "fchownat", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "mknod",
    "mknodat", "personality", "syslog", "quotactl", "vhangup", "uselib", "modify_ldt",
)  # fmt: skip

_PR_SET_PDEATHSIG = 1
_TIOCSTI = 0x5412
_CLONE_THREAD = 0x00010000

_state: dict[str, Any] = {"entered": False, "sealed": False, "applied": [], "missing": {}}
_warned: set[str] = set()


class SandboxSetupError(RuntimeError):
    """A layer that is available could not be applied (the process must not go on without it)."""


# ---------------------------------------------------------------------------------------------- probing
def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is missing or disabled."""
    try:
        import landlock
    except ImportError:
        return 0
    try:
        return int(landlock.landlock_abi_version())
    except Exception:  # ENOSYS, EOPNOTSUPP, not Linux
        return 0


def seccomp_available() -> str | None:
    """None when a seccomp filter can be installed here, else the reason it cannot."""
    if not sys.platform.startswith("linux"):
        return f"seccomp is Linux-only (this is {sys.platform})"
    try:
        import pyseccomp
    except (ImportError, OSError) as exc:  # OSError: libseccomp.so.2 missing
        return f"pyseccomp/libseccomp not loadable ({exc}); install libseccomp2 and `pip install pyseccomp`"
    try:
        if pyseccomp.get_api() < 1:
            return "the kernel has no seccomp filter support"
    except Exception as exc:
        return f"libseccomp cannot talk to the kernel ({exc})"
    return None


def available_layers() -> dict[str, str | None]:
    """Each OS layer → None if this machine can apply it, else why not (nothing is applied)."""
    linux = sys.platform.startswith("linux")
    abi = landlock_abi()
    return {
        "environment": None,
        "parent_death": None if linux else "prctl(PR_SET_PDEATHSIG) is Linux-only",
        "rlimits": None,
        "landlock": None
        if abi > 0
        else "Landlock is not enabled in this kernel (needs Linux >= 5.13 with landlock in CONFIG_LSM/lsm=)",
        "memory_limit": None,
        "seccomp": seccomp_available(),
    }


# ---------------------------------------------------------------------------------------------- step 1
def enter(policy: SandboxPolicy, *, parent_pid: int | None = None) -> dict[str, Any]:
    """Apply the process-start layers (see the module docstring) to this process, irreversibly.

    Call it before any thread starts (Landlock applies to the calling thread and threads created later).

    Args:
        policy: What the process may write and read, its CPU time.
        parent_pid: The launcher's pid; if this process was already orphaned, it exits.

    Returns:
        :func:`report` after this step.

    Raises:
        SandboxSetupError: an available layer failed to apply.
    """
    applied: list[str] = _state["applied"]
    missing: dict[str, str] = _state["missing"]
    avail = available_layers()
    leaked = sorted(k for k in os.environ if is_secret_name(k))
    if leaked:
        missing["environment"] = f"secret-looking variables are set: {', '.join(leaked)}"
    else:
        applied.append("environment")
    if avail["parent_death"] is None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise SandboxSetupError(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}")
        if parent_pid is not None and os.getppid() != parent_pid:
            os._exit(128 + signal.SIGKILL)  # the launcher died before the signal was armed
        applied.append("parent_death")
    else:
        missing["parent_death"] = str(avail["parent_death"])
    _set_limit(resource.RLIMIT_CORE, 0)
    if policy.cpu_time_s is not None:
        soft = max(1, int(policy.cpu_time_s))
        _set_limit(resource.RLIMIT_CPU, soft, soft + 5)
    _set_limit(resource.RLIMIT_FSIZE, int(policy.max_file_mb * 2**20))
    applied.append("rlimits")
    if avail["landlock"] is None:
        _apply_landlock(policy)
        applied.append("landlock")
    else:
        missing["landlock"] = str(avail["landlock"])
    _state["entered"] = True
    _state["policy"] = policy
    return report()


def _set_limit(which: int, soft: int, hard: int | None = None) -> None:
    """Lower a resource limit (never above the current hard limit)."""
    _, cur_hard = resource.getrlimit(which)
    hard = soft if hard is None else hard
    if cur_hard != resource.RLIM_INFINITY:
        hard = min(hard, cur_hard)
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def read_paths(policy: SandboxPolicy) -> list[str]:
    """Every path the sandboxed process may read: Python, libraries, the policy's, system files."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *SYSTEM_READ_TREES}
    paths.update(p for p in sys.path if p)
    paths.update(SYSTEM_READ_PATHS)
    paths.update(policy.read_paths)
    paths.update(p for p in os.environ.get("LMRL_SANDBOX_EXTRA_READ", "").split(os.pathsep) if p)
    return sorted(p for p in paths if os.path.exists(p))


def _apply_landlock(policy: SandboxPolicy) -> None:
    from landlock import FSAccess, Ruleset

    read_file = FSAccess.READ_FILE | FSAccess.EXECUTE
    read_dir = read_file | FSAccess.READ_DIR
    # write directories: everything but device nodes, sockets and pipes
    write_dir = FSAccess.all() & ~(FSAccess.MAKE_CHAR | FSAccess.MAKE_BLOCK | FSAccess.MAKE_SOCK | FSAccess.MAKE_FIFO)
    rw_file = FSAccess.READ_FILE | FSAccess.WRITE_FILE
    if landlock_abi() >= 3:
        rw_file |= FSAccess.TRUNCATE
    try:
        ruleset = Ruleset()
        for path in read_paths(policy):
            ruleset.allow(path, rules=read_dir if os.path.isdir(path) else read_file)
        for path in DEVICE_PATHS:
            if os.path.exists(path):
                ruleset.allow(path, rules=rw_file)
        gpu_rights = rw_file | (FSAccess.IOCTL_DEV if landlock_abi() >= 5 else 0)
        for pattern in GPU_DEVICE_GLOBS:
            for path in glob.glob(pattern):
                ruleset.allow(path, rules=gpu_rights | (FSAccess.READ_DIR if os.path.isdir(path) else 0))
        for path in policy.write_dirs:
            Path(path).mkdir(parents=True, exist_ok=True)
            ruleset.allow(path, rules=write_dir)
        ruleset.apply()
    except OSError as exc:
        raise SandboxSetupError(f"Landlock is available but could not be applied: {exc}") from exc


# ---------------------------------------------------------------------------------------------- step 2
def seal(memory_limit_bytes: int | None = None) -> dict[str, Any]:
    """Set the memory limit and install the seccomp filter; a no-op outside a process made by ``enter``.

    Call it right before compiling untrusted code: after it, this process cannot raise its limits,
    start programs, open sockets or signal other processes.

    Args:
        memory_limit_bytes: ``RLIMIT_DATA`` (heap and anonymous mappings: where tensors live), bytes;
            None leaves it.

    Returns:
        :func:`report` after this step.

    Raises:
        SandboxSetupError: libseccomp is available but the filter could not be loaded.
    """
    if not _state["entered"] or _state["sealed"]:
        return report()
    applied: list[str] = _state["applied"]
    if memory_limit_bytes is not None:
        _set_limit(resource.RLIMIT_DATA, int(memory_limit_bytes))
        applied.append("memory_limit")
    reason = seccomp_available()
    if reason is None:
        _apply_seccomp()
        applied.append("seccomp")
    else:
        _state["missing"]["seccomp"] = reason
    _state["sealed"] = True
    return report()


def _apply_seccomp() -> None:
    import pyseccomp as sc

    deny = sc.ERRNO(errno.EPERM)
    pid = os.getpid()
    try:
        filt = sc.SyscallFilter(sc.ALLOW)
        filt.set_attr(sc.Attr.CTL_TSYNC, 1)  # every thread (torch's pools exist by now)
        for name in DENIED_SYSCALLS:
            try:
                filt.add_rule(deny, name)
            except (OSError, ValueError, RuntimeError):  # not a syscall on this architecture
                continue
        filt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # flags live in a struct; libc falls back to clone
        filt.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))  # a process, not a thread
        filt.add_rule(deny, "kill", sc.Arg(0, sc.NE, pid))
        filt.add_rule(deny, "tgkill", sc.Arg(0, sc.NE, pid))
        filt.add_rule(deny, "prlimit64", sc.Arg(2, sc.NE, 0))  # reading limits is fine, setting is not
        filt.add_rule(deny, "ioctl", sc.Arg(1, sc.EQ, _TIOCSTI))  # typing into a terminal
        filt.add_rule(deny, "prctl", sc.Arg(0, sc.EQ, _PR_SET_PDEATHSIG))
        filt.load()
    except OSError as exc:
        raise SandboxSetupError(f"seccomp is available but the filter could not be loaded: {exc}") from exc


def vm_data_bytes() -> int:
    """This process's data size (``VmData``: heap and private anonymous mappings, what ``RLIMIT_DATA``
    counts), bytes; 0 where ``/proc/self/status`` cannot be read."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------------------------------------- report
def report() -> dict[str, Any]:
    """``{"entered": bool, "sealed": bool, "applied": [layer], "missing": {layer: reason}}`` of this process."""
    return {
        "entered": bool(_state["entered"]),
        "sealed": bool(_state["sealed"]),
        "applied": list(_state["applied"]),
        "missing": dict(_state["missing"]),
    }


def is_entered() -> bool:
    """Whether this process was started through :func:`enter`."""
    return bool(_state["entered"])


def is_sealed() -> bool:
    """Whether :func:`seal` ran in this process (untrusted code may be compiled)."""
    return bool(_state["sealed"])


def warn_missing_once(layers: dict[str, Any], where: str) -> None:
    """Log one warning per OS layer a sandboxed child reported missing (once per layer per process).

    Args:
        layers: A child's :func:`report`.
        where: What ran sandboxed (``"dry run"``, ``"training worker"``), for the message.
    """
    for name, reason in sorted(dict(layers.get("missing", {})).items()):
        if name in _warned:
            continue
        _warned.add(name)
        log.warning(
            "reward sandbox: the %s layer is not active in the %s (%s); reward programs still run in the "
            "language sandbox and the other layers (%s)",
            name,
            where,
            reason,
            ", ".join(layers.get("applied", [])) or "none",
        )
