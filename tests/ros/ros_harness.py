"""Helpers of the ROS tests: the ROS environment (``.venv-ros`` + ``.ros-install``) and node processes.

ROS code runs only in processes started with ``.venv-ros/bin/python`` (real rclpy from the PyPI
wheels; ``bash scripts/setup_ros.sh`` makes it); these fixtures skip, with the reason, where that
environment is missing. Discovery stays on this machine (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``)
on a fixed domain (:data:`DOMAIN_ID`). ``LMRL_ROS_OVERLAY`` (colon-separated install prefixes or colcon
``install/`` folders) adds packages on top, e.g. Unitree's own ``unitree_go`` for the bridge tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv-ros" / "bin" / "python"
PREFIX = REPO / ".ros-install"
ROSSIDE = Path(__file__).resolve().parent / "rosside.py"
DOMAIN_ID = os.environ.get("LMRL_TEST_ROS_DOMAIN_ID", "47")
"""Fixed ``ROS_DOMAIN_ID`` of the tests (0-101 are valid with Fast DDS's default ports)."""
NAMESPACE = f"/lmrl_test_{os.getpid()}"
"""Namespace of the nodes and clients of this test run, so that two runs on one machine never share an
action server (``/tf`` is absolute and shared; the tests only count it)."""


def shipped_params(node: str) -> dict[str, Any]:
    """The ``ros__parameters`` of ``config/ros/<node>.yaml`` (key ``/**/<node>``: the node in any namespace)."""
    import yaml

    data = yaml.safe_load((REPO / "config" / "ros" / f"{node}.yaml").read_text())
    return data[f"/**/{node}"]["ros__parameters"]


def missing_ros() -> str | None:
    """Why the ROS environment is unusable here, or None if it is ready."""
    if not VENV_PYTHON.is_file():
        return f"no ROS venv ({VENV_PYTHON.parent.parent} missing): run `bash scripts/setup_ros.sh`"
    if not (PREFIX / "env.sh").is_file() or not list(PREFIX.glob(".built-lm_reward_learning_interfaces")):
        return f"interfaces not built ({PREFIX} incomplete): run `bash scripts/setup_ros.sh`"
    env = ros_environment()
    probe = subprocess.run(
        [str(VENV_PYTHON), "-c", "import " + ", ".join(f"{m}.msg" for m in NEEDED_MSGS) + ", std_srvs.srv"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if probe.returncode != 0:
        return f"{VENV_PYTHON.parent.parent} lacks message packages the nodes use: re-run `bash scripts/setup_ros.sh`"
    return None


NEEDED_MSGS = ("std_msgs", "sensor_msgs", "nav_msgs", "trajectory_msgs", "diagnostic_msgs", "rosgraph_msgs")
"""Message packages of the nodes (with ``std_srvs``) that must import in ``.venv-ros``: a venv made
before ``setup_ros.sh`` added one skips the ROS tests with the reason instead of failing them."""


def missing_unitree(env: dict[str, str]) -> str | None:
    """Why the ``unitree_go`` and ``unitree_hg`` messages cannot be imported in the ROS environment, or None."""
    probe = subprocess.run(
        [str(VENV_PYTHON), "-c", "import unitree_go.msg, unitree_hg.msg"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if probe.returncode == 0:
        return None
    return (
        "no unitree_go / unitree_hg messages: re-run `bash scripts/setup_ros.sh` (it builds ros2_ws/src/unitree_go "
        "and unitree_hg into .ros-install), or point LMRL_ROS_OVERLAY at an install prefix that has them (Unitree's "
        "unitree_ros2)"
    )


def _overlay(env: dict[str, str], prefix: Path) -> None:
    """Put the packages of ``prefix`` (a colcon ``install/`` or a plain install prefix) first in ``env``."""
    setup = prefix / "local_setup.bash"
    if setup.is_file():
        out = subprocess.run(["bash", "-c", f"source {setup} && env -0"], env=env, capture_output=True, check=True)
        env.update(item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)
        return
    sites = sorted(str(p) for p in prefix.glob("lib/python3*/site-packages"))
    for var, paths in (
        ("AMENT_PREFIX_PATH", [str(prefix)]),
        ("CMAKE_PREFIX_PATH", [str(prefix)]),
        ("PYTHONPATH", sites),
        ("LD_LIBRARY_PATH", [str(prefix / "lib")]),
    ):
        env[var] = os.pathsep.join([*paths, *(p for p in env.get(var, "").split(os.pathsep) if p)])


def run_rosside(env: dict[str, str], tmp: Path, *args: str, timeout: float = 300.0) -> dict[str, Any]:
    """Run ``rosside.py ARGS`` with the ROS venv and return the JSON it wrote.

    Raises:
        AssertionError: with the script's output if it fails or times out.
    """
    out = tmp / f"rosside_{time.monotonic_ns()}.json"
    cmd = [str(VENV_PYTHON), str(ROSSIDE), "--out", str(out), "--namespace", NAMESPACE, *args]
    try:
        proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{' '.join(args)} timed out after {timeout} s:\n{exc.stderr}") from exc
    assert proc.returncode == 0, f"rosside {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(out.read_text())


@dataclass
class NodeProcess:
    """A node running as a process, its log, and its working directory."""

    proc: subprocess.Popen
    log: Path
    cwd: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float) -> None:
        """Wait until ``text`` appears in the log.

        Raises:
            AssertionError: if the process exits or ``timeout`` s pass first (with the log).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"node exited ({self.proc.returncode}) before {text!r}:\n{self.log_text()}")
            time.sleep(0.2)
        raise AssertionError(f"no {text!r} within {timeout} s:\n{self.log_text()}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT (as Ctrl-C), then SIGKILL after ``timeout`` s; return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def start_node(env: dict[str, str], cwd: Path, argv: list[str], name: str, log_dir: Path | None = None) -> NodeProcess:
    """Start ``argv`` (a node's command line) in ``cwd`` with its output in ``<log_dir or cwd>/<name>.log``."""
    log = (log_dir or cwd) / f"{name}.log"
    with log.open("w") as f:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
    return NodeProcess(proc, log, cwd)


def trainer_argv(runs: Path, *extra: str) -> list[str]:
    """``trainer_node`` for tests: the shipped YAML, small fast rollouts, runs under ``runs``."""
    return [
        str(VENV_PYTHON),
        "-m",
        "lm_reward_learning.ros.trainer_node",
        "--ros-args",
        "-r",
        f"__ns:={NAMESPACE}",
        "--params-file",
        str(REPO / "config" / "ros" / "trainer_node.yaml"),
        "-p",
        f"runs_dir:={runs}",
        "-p",
        "realtime_factor:=0.0",
        "-p",
        "image_width:=96",
        "-p",
        "image_height:=72",
        *extra,
    ]


def ros_environment() -> dict[str, str]:
    """Environment for ROS processes: this environment plus ``.ros-install/env.sh``, this checkout's ``src/``
    first on ``PYTHONPATH``, fixed domain."""
    out = subprocess.run(
        ["bash", "-c", f"source {PREFIX / 'env.sh'} && env -0"], capture_output=True, check=True, timeout=30
    ).stdout
    env = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    for prefix in filter(None, os.environ.get("LMRL_ROS_OVERLAY", "").split(os.pathsep)):
        _overlay(env, Path(prefix))
    # Node processes import this checkout's core: .venv-ros installs the package editable from the checkout
    # that ran setup_ros.sh, which a second git worktree shares (its .venv-ros is a link to the first's).
    src = str(REPO / "src")
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    env["PYTHONPATH"] = os.pathsep.join([src, *rest])
    env.update(ROS_DOMAIN_ID=DOMAIN_ID, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
    env.setdefault("MUJOCO_GL", "egl")
    env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)
    return env


def node_argv(node: str, *extra: str) -> list[str]:
    """``lm_reward_learning.ros.<node>`` in this run's namespace with its shipped ``config/ros/<node>.yaml``."""
    return [
        str(VENV_PYTHON),
        "-m",
        f"lm_reward_learning.ros.{node}",
        "--ros-args",
        "-r",
        f"__ns:={NAMESPACE}",
        "--params-file",
        str(REPO / "config" / "ros" / f"{node}.yaml"),
        *extra,
    ]


def run_learn_client(
    env: dict[str, str], tmp: Path, goals: list[dict[str, Any]], timeout: float = 480.0
) -> dict[str, Any]:
    """Send ``goals`` (``LearnReward`` goal fields) one after another with ``rosside.learn_main``; return its JSON.

    Raises:
        AssertionError: with the client's output if it fails or times out.
    """
    stamp = time.monotonic_ns()
    goals_file, out = tmp / f"learn_goals_{stamp}.json", tmp / f"learn_client_{stamp}.json"
    goals_file.write_text(json.dumps(goals))
    code = f"import sys; sys.path.insert(0, {str(ROSSIDE.parent)!r}); import rosside; rosside.learn_main()"
    cmd = [str(VENV_PYTHON), "-c", code, "--out", str(out), "--namespace", NAMESPACE, "--goals", str(goals_file)]
    cmd += ["--timeout", str(timeout)]
    try:
        proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=timeout + 60)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"learn client timed out after {timeout} s:\n{exc.stderr}") from exc
    assert proc.returncode == 0, f"learn client failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(out.read_text())


def launch_node_argv(
    launch_file: Path, executable: str, namespace: str, tmp: Path, args: dict[str, str] | None = None
) -> list[str]:
    """The command line ``ros2 launch`` gives ``executable``'s node in ``launch_file`` (``launch`` has no wheel).

    Read from the launch file's ``Node``/``LifecycleNode`` call: ``name`` → ``-r __node:=``, the namespace
    (as a ``PushRosNamespace`` or ``ROS_NAMESPACE`` would set it; ``/`` for none) → ``-r __ns:=``, and each
    ``parameters`` entry in order → ``--params-file``: ``_config(...)`` files as they are, and a dict as
    launch_ros writes it, a temporary YAML file under ``/**: ros__parameters:`` with each
    ``LaunchConfiguration`` replaced by ``args`` or its declared default (YAML-typed, as launch_ros types
    substitution results; a ``ParameterValue(..., value_type=str)`` stays a string).
    """
    import ast

    import yaml

    tree = ast.parse(launch_file.read_text())
    defaults = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ARGUMENTS" for t in node.targets):
            defaults.update({name: default for name, default, _doc in ast.literal_eval(node.value)})
    values = {**defaults, **(args or {})}

    def launch_config(expr: ast.expr) -> str:
        assert isinstance(expr, ast.Call) and getattr(expr.func, "id", "") == "LaunchConfiguration", ast.unparse(expr)
        return values[ast.literal_eval(expr.args[0])]

    def value(expr: ast.expr) -> Any:
        if isinstance(expr, ast.Constant):
            return expr.value
        if isinstance(expr, ast.Call) and getattr(expr.func, "id", "") == "ParameterValue":
            kind = next(k.value for k in expr.keywords if k.arg == "value_type")
            return {"str": str, "int": int, "float": float, "bool": bool}[ast.unparse(kind)](
                launch_config(expr.args[0])
            )
        return yaml.safe_load(launch_config(expr))

    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and getattr(n.func, "id", "") in ("Node", "LifecycleNode")
        and any(k.arg == "executable" and ast.literal_eval(k.value) == executable for k in n.keywords)
    ]
    assert len(calls) == 1, f"{launch_file.name} starts {executable} {len(calls)} times"
    kw = {k.arg: k.value for k in calls[0].keywords}
    argv = [str(VENV_PYTHON), "-m", f"lm_reward_learning.ros.{executable}", "--ros-args"]
    argv += ["-r", f"__node:={ast.literal_eval(kw['name'])}", "-r", f"__ns:={namespace or '/'}"]
    for i, entry in enumerate(kw["parameters"].elts):
        if isinstance(entry, ast.Dict):
            params = {ast.literal_eval(k): value(v) for k, v in zip(entry.keys, entry.values, strict=True)}
            path = tmp / f"launch_params_{executable}_{i}.yaml"
            path.write_text(yaml.dump({"/**": {"ros__parameters": params}}, default_flow_style=False))
        else:
            assert getattr(entry.func, "id", "") == "_config", ast.unparse(entry)
            path = REPO / "config" / Path(*(ast.literal_eval(a) for a in entry.args))
        argv += ["--params-file", str(path)]
    return argv
