"""The main job end to end: ``lmrl learn`` (default preset, offline backends), wall and CPU time per phase.

Usage: python benchmarks/bench_learn.py [--quick] [--preset default] [--keep DIR]

What runs: ``lmrl learn`` itself (the CLI's ``main`` in this process, so its steps can be timed) on the
preset's settings: the bundled horse video, the motion analyser as the upper level and the rules editor as
the lower level (no network, no API key). Nothing of the loop is re-implemented: the loop's own step
functions are wrapped with a timer before the run, and each phase's time is what its function took,
less the phases it called (so every second counts once):

==================  ==============================================================================
phase               function
==================  ==============================================================================
expert              ``bilevel.steps.prepare_expert`` (the video's gait measured once)
training            ``training.trainer.train`` (PPO in the training worker process)
rollout/render      ``rollout.rollout`` (the trained policy rolled out and filmed)
scoring             ``bilevel.steps.objective_score``
feedback            ``bilevel.steps.visual_feedback`` (upper level)
synthesis           ``bilevel.steps.update_reward`` (lower level)
export              ``bilevel.loop.export_best`` (ONNX + deploy.yaml)
other               the rest (loop, run directory, report)
==================  ==============================================================================

The preset's ``candidate_timeout_s`` is set to null (no limit) for the run, so that iterations 1..K
train their candidate in this process as iteration 0 does, instead of in a pool process (where this
process cannot time the steps); the work is the same, the pool's process start-up is left out.
CPU time is this process's plus its finished child processes' (``getrusage``: the training worker's
PPO runs in a child), user + system. Wall time on a shared machine is inflated by other processes'
load (the load average is printed); CPU time is not. The training time is checked against the timings
the training worker itself stores (``worker/result.json``: ``build_s``, ``train_s``, ``train_cpu_s``).
``--quick`` runs the ``smoke`` preset (2 iterations of short trainings, 64 envs: a few minutes), the
default the ``default`` preset (the README's main job).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml

PHASES = (
    ("expert", "lm_reward_learning.bilevel.steps", "prepare_expert"),
    ("training", "lm_reward_learning.training.trainer", "train"),
    ("rollout/render", "lm_reward_learning.rollout", "rollout"),
    ("scoring", "lm_reward_learning.bilevel.steps", "objective_score"),
    ("feedback", "lm_reward_learning.bilevel.steps", "visual_feedback"),
    ("synthesis", "lm_reward_learning.bilevel.steps", "update_reward"),
    ("export", "lm_reward_learning.bilevel.loop", "export_best"),
)
"""(phase, module, function): the loop's step functions, looked up by the loop at call time."""


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that have finished."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class PhaseClock:
    """Exclusive wall and CPU seconds per phase: a phase called inside another is subtracted from it."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[list[Any]] = []  # [phase, wall start, cpu start]

    def _stop_top(self, wall: float, cpu: float) -> None:
        phase, w0, c0 = self._stack[-1]
        self.wall[phase] = self.wall.get(phase, 0.0) + wall - w0
        self.cpu[phase] = self.cpu.get(phase, 0.0) + cpu - c0

    def wrap(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` whose calls count to ``phase``."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), cpu_seconds()
            if self._stack:
                self._stop_top(wall, cpu)  # the caller's phase pauses
            self._stack.append([phase, wall, cpu])
            self.calls[phase] = self.calls.get(phase, 0) + 1
            try:
                return fn(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter(), cpu_seconds()
                self._stop_top(wall, cpu)
                self._stack.pop()
                if self._stack:  # the caller's phase resumes
                    self._stack[-1][1:] = [wall, cpu]

        return timed


def stored_worker_timings(run: Path) -> dict[str, float]:
    """Sum of the training workers' own timings (``worker/result.json``) under a learn run."""
    total: dict[str, float] = {}
    for f in run.rglob("worker/result.json"):
        for k, v in (json.loads(f.read_text()).get("timings") or {}).items():
            if k.endswith("_s"):
                total[k] = total.get(k, 0.0) + float(v)
    return total


def main() -> None:
    """Run ``lmrl learn`` with its phases timed; print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the smoke preset (a few minutes) instead of default")
    ap.add_argument("--preset", default=None, help="config/learn/<preset>.yaml (default: default, smoke with --quick)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the learn run under this directory")
    args = ap.parse_args()
    preset = args.preset or ("smoke" if args.quick else "default")
    torch.set_num_threads(1)  # this process's torch (rollouts); the worker sets its own from the config
    from lm_reward_learning import cli

    clock = PhaseClock()
    for phase, module, name in PHASES:
        mod = importlib.import_module(module)
        setattr(mod, name, clock.wrap(phase, getattr(mod, name)))
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_learn_"))
    root.mkdir(parents=True, exist_ok=True)
    from lm_reward_learning.config import config_dir

    settings = yaml.safe_load((config_dir() / "learn" / f"{preset}.yaml").read_text())
    settings["candidate_timeout_s"] = None  # candidates train in this process (module docstring)
    (root / "learn.yaml").write_text(yaml.safe_dump(settings))
    argv = ["learn", "--config", str(root / "learn.yaml"), "--runs-dir", str(root / "runs")]
    argv += ["--policies-dir", str(root / "policies")]
    argv += ["--no-progress", "--name", "bench"]
    wall0, cpu0, load0 = time.perf_counter(), cpu_seconds(), os.getloadavg()[0]
    rc = cli.main(argv)
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    load1 = os.getloadavg()[0]
    if rc != 0:
        print(f"bench_learn: lmrl {' '.join(argv)} exited {rc}; the run is in {root}", file=sys.stderr)
        raise SystemExit(rc)
    run = root / "runs" / "bench"
    clock.wall["other"] = wall - sum(clock.wall.values())
    clock.cpu["other"] = cpu - sum(clock.cpu.values())
    print(
        f"lmrl learn, preset {preset} (offline backends, candidate_timeout_s null), {os.cpu_count()} CPUs, "
        f"load average {load0:.1f} at the "
        f"start, {load1:.1f} at the end (other processes' load inflates wall time, not CPU time)"
    )
    print(f"  {'phase':<16} {'calls':>5} {'wall s':>9} {'share':>6} {'CPU s':>9} {'share':>6}")
    for phase in [p for p, _, _ in PHASES] + ["other"]:
        w, c = clock.wall.get(phase, 0.0), clock.cpu.get(phase, 0.0)
        calls = clock.calls.get(phase, "")
        print(f"  {phase:<16} {calls:>5} {w:9.1f} {w / wall:6.1%} {c:9.1f} {c / max(cpu, 1e-9):6.1%}")
    print(f"  {'total':<16} {'':>5} {wall:9.1f} {1:6.1%} {cpu:9.1f} {1:6.1%}   ({wall / 60:.1f} min wall)")
    stored = stored_worker_timings(run)
    if stored:
        print(
            "  the training workers' own timings (worker/result.json): "
            + ", ".join(f"{k} {v:.1f}" for k, v in sorted(stored.items()) if k != "env_steps_per_s")
        )
    summaries = sorted(run.glob("iter_*/summary.json"))
    if summaries:
        per_iter = [json.loads(f.read_text())["wall_s"] for f in summaries]
        print(f"  loop iterations 1..K, wall s (iter_KK/summary.json): {per_iter}")
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"  run: {run}")


if __name__ == "__main__":
    main()
