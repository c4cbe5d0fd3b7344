"""The process layer on its own: code that escaped the language layer, with full Python, inside the sandbox.

``sandbox_probe.py`` runs each snippet in a process started like the dry run and the training
workers (scrubbed environment, parent-death signal, rlimits, Landlock, then sealed: memory limit and
seccomp). Every attempt to start a program, open a socket, write or read outside the run directory,
read a secret, signal another process or lift a limit must fail. Layers this machine cannot apply
are skipped with the reason (the product warns about them).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sandbox_fixtures import SECRET, SECRET_VARS, files_under, run_probe

from lm_reward_learning import isolation
from lm_reward_learning.isolation.policy import scrubbed_env

AVAILABLE = isolation.available_layers()

#: name -> (layer that must stop it, code). Code sets ``result`` when it observes something.
SNIPPETS: dict[str, tuple[str, str]] = {
    "os_system": ("seccomp", "import os\nresult = os.system(f'touch {CANARY}/os_system')"),
    "subprocess": ("seccomp", "import subprocess\nsubprocess.run(['touch', f'{CANARY}/subprocess'])"),
    "fork": ("seccomp", "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)"),
    "posix_spawn": ("seccomp", "import os\nos.posix_spawn('/usr/bin/touch', ['touch', f'{CANARY}/spawn'], {})"),
    "libc_execve": (
        "seccomp",
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "argv = (ctypes.c_char_p * 3)(b'/usr/bin/touch', f'{CANARY}/execve'.encode(), None)\n"
        "rc = libc.execve(b'/usr/bin/touch', argv, None)\n"
        "raise PermissionError(ctypes.get_errno(), 'execve returned')",
    ),
    "tcp_socket": ("seccomp", "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)"),
    "unix_socket": ("seccomp", "import socket\ns = socket.socket(socket.AF_UNIX)"),
    "kill_parent": ("seccomp", "import os\nos.kill(os.getppid(), 0)"),
    "kill_init": ("seccomp", "import os\nos.kill(1, 0)"),
    "raise_memory_limit": (
        "seccomp",
        "import resource\nresource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))",
    ),
    "chmod_outside": ("seccomp", "import os\nos.chmod(OUTSIDE_FILE, 0o777)"),
    "clear_parent_death": (
        "seccomp",
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "if libc.prctl(1, 0, 0, 0, 0) != 0:\n    raise PermissionError(ctypes.get_errno(), 'prctl')",
    ),
    "write_outside": ("landlock", "open(f'{CANARY}/written', 'w').write('x')"),
    "write_home": ("landlock", "import os\nopen(os.path.expanduser('~/.lmrl_sandbox_canary'), 'a').write('x')"),
    "append_etc": ("landlock", "open('/etc/passwd', 'a')"),
    "delete_outside": ("landlock", "import os\nos.unlink(OUTSIDE_FILE)"),
    "rename_outside": ("landlock", "import os\nos.rename(OUTSIDE_FILE, OUTSIDE_FILE + '.moved')"),
    "write_tmp": ("landlock", "open('/tmp/lmrl_sandbox_canary', 'w').write('x')"),
    "write_dev_shm": ("landlock", "open('/dev/shm/lmrl_sandbox_canary', 'w').write('x')"),
    "read_secret_file": ("landlock", "result = open(SECRET_FILE).read()"),
    "read_parent_environ": ("landlock", "import os\nresult = open(f'/proc/{os.getppid()}/environ').read()"),
    "symlink_escape": (
        "landlock",
        "import os\nos.symlink(CANARY, 'link')\nopen('link/via_symlink', 'w').write('x')",
    ),
}


def _context(planted: dict[str, Path]) -> dict[str, str]:
    outside = planted["root"] / "outside_file"
    outside.write_text("do not touch")
    outside.chmod(0o600)
    return {"CANARY": str(planted["canary"]), "SECRET_FILE": str(planted["secret_file"]), "OUTSIDE_FILE": str(outside)}


@pytest.fixture(scope="module")
def escaped(planted, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every snippet's outcome in one sandboxed process (its run directory is ``work``)."""
    work = tmp_path_factory.mktemp("work")
    context = _context(planted)
    records = run_probe(
        {"mode": "escape", "snippets": {n: code for n, (_, code) in SNIPPETS.items()}, "context": context},
        work,
    )
    return {"_sandbox": records[0]["sandbox"], **{r["name"]: r for r in records[1:]}}


def test_the_sandbox_reports_what_it_applied(escaped) -> None:
    report = escaped["_sandbox"]
    assert report["entered"] and report["sealed"]
    expected = {"environment", "parent_death", "rlimits", "memory_limit"}
    expected |= {name for name in ("landlock", "seccomp") if AVAILABLE[name] is None}
    assert expected <= set(report["applied"])
    assert set(report["missing"]) == {name for name, why in AVAILABLE.items() if why is not None}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_escaped_code_is_stopped(escaped, planted, name: str) -> None:
    layer, _ = SNIPPETS[name]
    if AVAILABLE[layer] is not None:
        pytest.skip(f"the {layer} layer is not available here: {AVAILABLE[layer]}")
    rec = escaped[name]
    if name == "os_system":  # system() reports the failed spawn as exit status 127, not an exception
        assert rec["outcome"] == "ran" and rec["result"] != 0
    elif name == "raise_memory_limit":  # Python reports setrlimit's EPERM as ValueError
        assert rec["outcome"] == "ValueError" and "not allowed" in rec["message"], rec
    else:
        assert rec["outcome"] in ("PermissionError", "OSError", "FileNotFoundError"), rec
    assert SECRET not in str(rec)
    assert files_under(planted["canary"]) == []
    outside = planted["root"] / "outside_file"
    assert outside.read_text() == "do not touch" and stat.S_IMODE(outside.stat().st_mode) == 0o600
    assert not Path("/tmp/lmrl_sandbox_canary").exists()
    assert not Path(os.path.expanduser("~/.lmrl_sandbox_canary")).exists()


def test_the_environment_holds_no_secret(planted, tmp_path: Path) -> None:
    records = run_probe(
        {"mode": "escape", "snippets": {
            "environ": "import os\nresult = sorted(os.environ)",
            "proc_self_environ": "result = open('/proc/self/environ').read()",
        }},
        tmp_path / "work",
    )  # fmt: skip
    env_names = records[1]["result"]
    assert not set(SECRET_VARS) & set(env_names)
    assert all(not isolation.is_secret_name(n) for n in env_names)
    assert SECRET not in str(records[2])


def test_scrubbed_env_is_an_allowlist() -> None:
    env = scrubbed_env(
        {"PATH": "/bin", "OPENAI_API_KEY": "x", "AWS_SECRET_ACCESS_KEY": "y", "MY_TOKEN": "z", "RANDOM_VAR": "1",
         "LC_ALL": "C", "MUJOCO_GL": "egl"},
        PYTHONPATH="/src", GITHUB_TOKEN="leak",
    )  # fmt: skip
    assert env == {"PATH": "/bin", "LC_ALL": "C", "MUJOCO_GL": "egl", "PYTHONPATH": "/src"}


def test_a_sandboxed_child_dies_with_its_parent(tmp_path: Path) -> None:
    """The parent-death signal: a launcher killed with SIGKILL leaves no sandboxed child behind."""
    import subprocess
    import sys
    import time

    if AVAILABLE["parent_death"] is not None:
        pytest.skip(AVAILABLE["parent_death"])
    pid_file = tmp_path / "child.pid"
    launcher = (
        "import subprocess, sys, time\n"
        "from pathlib import Path\n"
        "from lm_reward_learning import isolation\n"
        f"policy = isolation.SandboxPolicy.for_paths([Path({str(tmp_path)!r})])\n"
        f"cmd, env = isolation.sandboxed_command('sandbox_sleeper', [{str(pid_file)!r}], policy, "
        f"pythonpath=[{str(Path(__file__).parent)!r}])\n"
        "subprocess.Popen(cmd, env=env)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", launcher])
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pid_file.exists(), "the sandboxed child did not start"
    child = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
