"""policy_controller at 50 Hz over ROS 2: loop period jitter and inference latency against the control period.

Usage (needs the ROS environment of ``bash scripts/setup_ros.sh``)::

    source .ros-install/env.sh && python benchmarks/bench_controller.py [--duration 20] [--runs 5] \
        [--realtime-priority 80] [--prewarm-lead 0.001] [--no-ros]

What runs: ``mujoco_sim_node`` (lockstep) and ``policy_controller`` as separate processes with the
shipped Go2 policy, walking at 0.8 m/s; this script configures and activates the controller, then after
``--duration`` seconds of policy control reads the controller's own statistics from ``/diagnostics``
(window = the whole run): period and jitter (``|period - 20 ms|``) of its timer, inference
(onnxruntime ``run`` of one observation) and the whole tick. It also times the arrival of the
controller's ``joint_commands`` at a subscriber in this process (what a driver sees over DDS).
The same policy's inference is timed in this process without ROS, back to back ("hot"), once per
20 ms ("every 20 ms": the caches have gone cold in between), and once per 20 ms after a warm-up run
``--prewarm-lead`` s before (what the controller's ``prewarm_lead_s`` timer does).
Every number is printed with its ratio to the 20 ms control period and against the goals (p99 jitter
<= 2 ms, inference <= 50 us), and the in-loop inference's ratio to back to back. ``--runs N`` repeats
the ROS part and counts the runs that meet the jitter goal; ``--realtime-priority N`` runs the
controller with SCHED_FIFO priority N; ``--no-ros`` times only the inference without ROS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO / "policies" / "go2" / "flat_walk"
GOAL_JITTER_MS = 2.0
GOAL_INFERENCE_US = 50.0


def inference_in_process(n_hot: int = 3000, n_paced: int = 250, lead_s: float = 0.001) -> dict[str, np.ndarray]:
    """Inference times (s) of the shipped policy without ROS, as the controller calls it.

    ``hot``: back to back. ``paced``: once per 20 ms (sleeping in between, as a 50 Hz loop does).
    ``prewarmed``: once per 20 ms, with :meth:`DeployedPolicy.warm` ``lead_s`` before each call (what
    ``policy_controller`` does with ``prewarm_lead_s``). Deadlines are absolute, as a timer's are.
    """
    from lm_reward_learning.deploy import DeployedPolicy

    policy = DeployedPolicy.load(POLICY)
    obs = np.random.default_rng(0).normal(size=policy.facts.obs_size).astype(np.float32)
    for _ in range(200):
        policy(obs)
    hot = np.empty(n_hot)
    for i in range(n_hot):
        t0 = time.perf_counter()
        policy(obs)
        hot[i] = time.perf_counter() - t0
    out = {"hot": hot}
    for name, lead in (("paced", 0.0), ("prewarmed", lead_s)):
        times = np.empty(n_paced)
        deadline = time.monotonic()
        for i in range(n_paced):
            deadline += 0.02
            if lead > 0:
                time.sleep(max(0.0, deadline - lead - time.monotonic()))
                policy.warm()
            time.sleep(max(0.0, deadline - time.monotonic()))
            t0 = time.perf_counter()
            policy(obs)
            times[i] = time.perf_counter() - t0
        out[name] = times
    return out


def over_ros(duration: float, priority: int, executor: str, lead_s: float) -> dict[str, float]:
    """Run sim + controller for ``duration`` s of policy control; return the controller's diagnostics and
    the subscriber-side command intervals."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import Twist
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Float64MultiArray, String

    ns = f"/lmrl_bench_{os.getpid()}"
    env = dict(os.environ, PYTHONUNBUFFERED="1", ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    common = ["--ros-args", "-r", f"__ns:={ns}", "--params-file"]
    window = int(duration * 50) + 100
    procs = []
    logdir = Path(tempfile.mkdtemp(prefix="bench_controller_"))
    for name, extra in (
        ("mujoco_sim_node", ["-p", "mode:=lockstep"]),
        (
            "policy_controller",
            ["-p", f"policy:={POLICY}", "-p", "stand_up_s:=1.0", "-p", "start_mode:=policy",
             "-p", "heartbeat_timeout_s:=0.0", "-p", f"stats_window:={window}",
             "-p", f"realtime_priority:={priority}", "-p", f"executor:={executor}",
             "-p", f"prewarm_lead_s:={lead_s}"],
        ),
    ):  # fmt: skip
        argv = [sys.executable, "-m", f"lm_reward_learning.ros.{name}", *common]
        argv += [str(REPO / "config" / "ros" / f"{name}.yaml"), *extra]
        with (logdir / f"{name}.log").open("w") as log:
            procs.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT))
    rclpy.init()
    node = rclpy.create_node("bench_controller_client", namespace=ns)
    state: list[str] = []
    diag: dict[str, str] = {}
    arrivals: list[float] = []
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_subscription(String, "policy_controller/safety_state", lambda m: state.append(m.data), latched)

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for s in msg.status:
            if s.name == f"{ns}/policy_controller: control loop":
                diag.update({kv.key: kv.value for kv in s.values})

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    node.create_subscription(Float64MultiArray, "joint_commands", lambda _m: arrivals.append(time.monotonic()), 10)
    twist = Twist()
    twist.linear.x = 0.8
    cmd_pub = node.create_publisher(Twist, "cmd_vel", 10)
    node.create_timer(0.05, lambda: cmd_pub.publish(twist))
    client = node.create_client(ChangeState, "policy_controller/change_state")
    executor_ = SingleThreadedExecutor()
    executor_.add_node(node)
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            executor_.spin_once(timeout_sec=0.02)

    spinner = threading.Thread(target=spin)
    spinner.start()

    def wait(cond, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}; logs in {logdir}")
            time.sleep(0.01)

    def transition(tid: int) -> None:
        wait(lambda: client.service_is_ready(), 60.0, "the controller's lifecycle services")
        fut = client.call_async(ChangeState.Request(transition=Transition(id=tid)))
        wait(fut.done, 60.0, f"transition {tid}")
        if not fut.result().success:
            raise SystemExit(f"transition {tid} failed; logs in {logdir}")

    try:
        transition(Transition.TRANSITION_CONFIGURE)
        transition(Transition.TRANSITION_ACTIVATE)
        wait(lambda: any(s.startswith("policy") for s in state), 30.0, "the policy to run")
        t_run = time.monotonic()
        time.sleep(duration)
        diag.clear()
        wait(lambda: "jitter_p99_ms" in diag, 5.0, "diagnostics")
        result = {k: float(v) for k, v in diag.items() if _is_number(v)}  # not mode, e_stop, command, ...
        result["mode_ok"] = float(not any(s.startswith(("damping", "hold")) for s in state))
        t = np.asarray([a for a in arrivals if a >= t_run])
        gaps = np.diff(t)
        jit = np.abs(gaps - 0.02)
        result["sub_jitter_p50_ms"], result["sub_jitter_p99_ms"] = (np.percentile(jit, [50, 99]) * 1e3).tolist()
        transition(Transition.TRANSITION_DEACTIVATE)
        return result
    finally:
        stop.set()
        spinner.join(5.0)
        executor_.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def main() -> None:
    """Measure and print."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of policy control over ROS 2, per run")
    ap.add_argument("--runs", type=int, default=1, help="ROS 2 runs (the jitter goal counts the runs that meet it)")
    ap.add_argument("--realtime-priority", type=int, default=0, help="SCHED_FIFO priority of the controller (0: off)")
    ap.add_argument("--executor", default="events", choices=["events", "single_threaded"])
    ap.add_argument("--prewarm-lead", type=float, default=0.001, help="the controller's prewarm_lead_s, s (0: off)")
    ap.add_argument("--no-ros", action="store_true", help="only the inference without ROS")
    args = ap.parse_args()
    if args.runs < 1 or args.duration <= 0 or not 0 <= args.prewarm_lead < 0.02:
        print(
            "bench_controller: --runs must be >= 1, --duration > 0 and --prewarm-lead in [0, 0.02) s", file=sys.stderr
        )
        raise SystemExit(2)
    period_ms = 20.0
    inf = inference_in_process(lead_s=args.prewarm_lead or 0.001)
    hot = float(np.percentile(inf["hot"], 50)) * 1e3
    rows = [
        ("inference p50 without ROS, back to back", hot, "ms", None),
        ("inference p99 without ROS, back to back", float(np.percentile(inf["hot"], 99)) * 1e3, "ms", None),
        ("inference p50 without ROS, every 20 ms", float(np.percentile(inf["paced"], 50)) * 1e3, "ms", None),
        (
            f"  same, prewarmed {args.prewarm_lead or 0.001:g} s before",
            float(np.percentile(inf["prewarmed"], 50)) * 1e3,
            "ms",
            GOAL_INFERENCE_US / 1e3,
        ),
    ]
    runs: list[dict[str, float]] = []
    if not args.no_ros:
        try:
            import rclpy  # noqa: F401
        except ImportError:
            print(
                "bench_controller: needs rclpy: `source .ros-install/env.sh` first (scripts/setup_ros.sh)",
                file=sys.stderr,
            )
            raise SystemExit(2) from None
        runs = [
            over_ros(args.duration, args.realtime_priority, args.executor, args.prewarm_lead) for _ in range(args.runs)
        ]
    load = os.getloadavg()
    print(
        f"policy_controller, Go2 flat_walk, 50 Hz ({args.executor} executor, realtime priority "
        f"{args.realtime_priority or 'off'}, prewarm_lead_s {args.prewarm_lead:g}); {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} (other processes' load inflates every figure)"
    )
    if runs:
        r = runs[0]
        print(f"ROS 2 run 1 of {len(runs)}: {int(r['samples'])} periods of policy control")
        rows = [
            ("loop period p50", r["period_p50_ms"], "ms", None),
            ("loop period p99", r["period_p99_ms"], "ms", None),
            ("loop jitter p50 |period - 20 ms|", r["jitter_p50_ms"], "ms", None),
            ("loop jitter p99", r["jitter_p99_ms"], "ms", GOAL_JITTER_MS),
            ("loop jitter max", r["jitter_max_ms"], "ms", None),
            ("command arrival jitter p50 (subscriber)", r["sub_jitter_p50_ms"], "ms", None),
            ("command arrival jitter p99 (subscriber)", r["sub_jitter_p99_ms"], "ms", None),
            ("tick compute p50 (obs+inference+safety)", r["compute_p50_us"] / 1e3, "ms", None),
            ("tick compute p99", r["compute_p99_us"] / 1e3, "ms", None),
            ("inference p50 in the loop", r["inference_p50_us"] / 1e3, "ms", GOAL_INFERENCE_US / 1e3),
            ("inference p99 in the loop", r["inference_p99_us"] / 1e3, "ms", None),
            *rows,
        ]
    print(f"  {'':<44} {'value':>10}        {'/ 20 ms period':>14}  goal")
    for name, value, unit, goal in rows:
        goal_txt = "" if goal is None else f"<= {goal:g} {unit}: {'met' if value <= goal else 'NOT met'}"
        print(f"  {name:<44} {value:>10.4f} {unit:<6} {value / period_ms:>14.5f}  {goal_txt}")
    if runs:
        print(
            f"  in-loop inference p50 / back to back p50: ratio {runs[0]['inference_p50_us'] / 1e3 / hot:.2f}; "
            f"safety layer stayed out of the way: {bool(runs[0]['mode_ok'])}; overruns (period > 30 ms): "
            f"{int(runs[0]['overruns'])}"
        )
        for i, r in enumerate(runs, 1):
            print(
                f"  run {i}: jitter p99 {r['jitter_p99_ms']:.3f} ms, inference p50 {r['inference_p50_us']:.1f} us, "
                f"p99 {r['inference_p99_us']:.1f} us, overruns {int(r['overruns'])}"
            )
        met = sum(r["jitter_p99_ms"] <= GOAL_JITTER_MS for r in runs)
        inf_met = sum(r["inference_p50_us"] <= GOAL_INFERENCE_US for r in runs)
        print(
            f"  jitter p99 <= {GOAL_JITTER_MS:g} ms in {met} of {len(runs)} runs; in-loop inference p50 <= "
            f"{GOAL_INFERENCE_US:g} us in {inf_met} of {len(runs)} runs"
        )
    else:
        print(
            f"  prewarmed every 20 ms / back to back p50: ratio {np.percentile(inf['prewarmed'], 50) * 1e3 / hot:.2f}"
        )


if __name__ == "__main__":
    main()
