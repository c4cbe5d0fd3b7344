"""The bi-level loop of ``session_node``, with training, feedback and synthesis done by other nodes (ROS-free).

``lmrl learn`` runs :func:`lm_reward_learning.bilevel.loop.learn` in one process. ``session_node``
runs the same loop, step for step and into the same learn-run store, but hands three steps to the
other nodes through a :class:`RemoteSteps` object (the node implements it with action clients):

* training a candidate → ``trainer_node`` (``train_policy``), which trains into
  ``iter_KK/cand_M/train`` exactly as :func:`~lm_reward_learning.bilevel.steps.train_candidate` would
  (resuming an interrupted training, warm-started from the current policy), then rolls the policy out
  as the loop does (command ``(mean of lin_vel_x range, 0, 0)``, ``rollout_s``, ``view``) and records
  the rollout bag; its video and simulator state are copied into the candidate folder and scored
  (:mod:`lm_reward_learning.ros.candidates`);
* visual feedback → ``feedback_node`` (``get_visual_feedback``), which writes ``iter_KK/feedback.json``;
* reward synthesis → ``reward_synth_node`` (``synthesize_reward``), which writes
  ``iter_KK/cand_M/{attempt_J/, program.py, diff.patch, synthesis.json}``.

Every step is skipped when its output is in the store, so a run made here resumes with
``lmrl learn --resume RUN`` and a run made by ``lmrl learn`` resumes here (``resume_run_dir``);
``lmrl report RUN`` reads either. This module does not import ``rclpy``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lm_reward_learning.bilevel import steps
from lm_reward_learning.bilevel.config import LearnConfig, load_learn_config
from lm_reward_learning.bilevel.loop import LearnResult, export_best, write_report
from lm_reward_learning.bilevel.protocols import Feedback
from lm_reward_learning.bilevel.store import LearnStore, read_json
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.ros.candidates import TrainOutcome, TrainPlan, adopt_rollout, plan_training, score_candidate

log = logging.getLogger(__name__)


class RemoteStepError(LmrlError):
    """A step done by another node failed: its server is missing or gone, timed out, or aborted the goal."""


class SessionCancelledError(LmrlError):
    """The ``learn_reward`` goal was cancelled; what is completed stays in the store."""


@dataclass(frozen=True)
class SessionDefaults:
    """``session_node``'s parameters that fill in what a goal leaves empty (as ``lmrl learn``'s flags).

    Attributes:
        runs_dir: Root of new learn runs.
        policies_dir: Root of exported policies.
        preset: Learn preset name (``config/learn/<preset>.yaml``).
        learn_config: A learn YAML used instead of the preset, or "".
        video, robot, feedback, synthesis: Defaults of the goal's fields ("" = the learn config's).
        iterations: Default loop iterations (0 = the learn config's).
        base_url, model, api_key_env: Endpoint of both levels ("" = the learn config's).
    """

    runs_dir: Path = Path("runs")
    policies_dir: Path = Path("policies")
    preset: str = "default"
    learn_config: str = ""
    video: str = ""
    robot: str = ""
    feedback: str = ""
    synthesis: str = ""
    iterations: int = 0
    base_url: str = ""
    model: str = ""
    api_key_env: str = ""

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> SessionDefaults:
        """From ``session_node``'s parameter values."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in p.items() if k in names}
        values["runs_dir"], values["policies_dir"] = Path(p["runs_dir"]), Path(p["policies_dir"])
        return cls(**values)


@dataclass(frozen=True)
class LearnGoal:
    """The fields of a ``learn_reward`` goal ("" / 0 = the node's default)."""

    video: str = ""
    robot: str = ""
    task: str = ""
    iterations: int = 0
    feedback: str = ""
    synthesis: str = ""
    resume_run_dir: str = ""
    run_name: str = ""


def open_session(goal: LearnGoal, defaults: SessionDefaults) -> tuple[LearnConfig, LearnStore]:
    """Check a goal and create its learn run, or open the run it resumes, as ``lmrl learn`` does.

    A new run's ``learn.yaml`` holds absolute paths (video, scripted feedback, initial reward), since
    the nodes that read it may run in other working directories.

    Raises:
        LmrlError: (a subclass) naming what is wrong: a missing video, an unknown robot or backend, a
            bad learn config, a run name that is not a plain name, an existing run directory, a
            ``resume_run_dir`` that is not a learn run.
    """
    from lm_reward_learning.robots import get_robot

    if goal.resume_run_dir:
        store = LearnStore.open(Path(goal.resume_run_dir).expanduser().resolve())
        cfg = store.config()
        store.update_status(status="running")
        return cfg, store
    overrides = {
        "video": goal.video or defaults.video or None,
        "robot": goal.robot or defaults.robot or None,
        "task": goal.task or None,
        "iterations": goal.iterations or defaults.iterations or None,
        "feedback": goal.feedback or defaults.feedback or None,
        "synthesis": goal.synthesis or defaults.synthesis or None,
    }
    cfg = load_learn_config(
        defaults.preset, Path(defaults.learn_config) if defaults.learn_config else None, **overrides
    )
    endpoint = {
        k: v
        for k, v in (("base_url", defaults.base_url), ("model", defaults.model), ("api_key_env", defaults.api_key_env))
        if v
    }
    if endpoint:
        cfg = dataclasses.replace(
            cfg,
            feedback_endpoint=dataclasses.replace(cfg.feedback_endpoint, **endpoint),
            synthesis_endpoint=dataclasses.replace(cfg.synthesis_endpoint, **endpoint),
        )
    get_robot(cfg.robot)  # UnknownRobotError lists the known robots
    if cfg.video and not Path(cfg.video).expanduser().exists():
        raise LmrlError(
            f"Expert video {cfg.video} does not exist on the session's machine. Give an existing file or folder "
            "of frames in goal.video, or leave it empty for the bundled clip."
        )
    cfg = dataclasses.replace(
        cfg, **{k: _absolute(getattr(cfg, k)) for k in ("video", "human_feedback", "initial_reward")}
    )
    name = goal.run_name or f"learn_{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%d-%H%M%S')}_{cfg.robot}"
    if Path(name).name != name or name in (".", ".."):
        raise LmrlError(f"run name {name!r} must be a plain directory name (no '/'); it goes under runs_dir")
    store = LearnStore.create(defaults.runs_dir.expanduser().resolve() / name, cfg)
    return cfg, store


def _absolute(path: str | None) -> str | None:
    return str(Path(path).expanduser().resolve()) if path else path


# --------------------------------------------------------------------------------------------- the loop
@dataclass(frozen=True)
class Progress:
    """One progress report of the session (becomes ``LearnReward`` action feedback).

    Attributes:
        iteration: Loop iteration (0 = the initial program).
        iterations_total: Loop iterations K.
        candidate: Candidate index.
        phase: ``expert``, ``validating``, ``training``, ``rollout``, ``scoring``, ``feedback``,
            ``synthesis``, ``export``.
        metrics: Named values with units, ``{name: (value, unit)}``.
    """

    iteration: int
    iterations_total: int
    candidate: int
    phase: str
    metrics: dict[str, tuple[float, str]] = field(default_factory=dict)


class RemoteSteps(Protocol):
    """The three steps ``session_node`` hands to other nodes. Each raises :class:`RemoteStepError`
    (or :class:`SessionCancelledError`) when it cannot complete."""

    def train(self, plan: TrainPlan, report: Callable[[Progress], None]) -> TrainOutcome:
        """Train (or resume) ``plan`` and roll the policy out."""
        ...

    def feedback(self, store: LearnStore, k: int, current: steps.Candidate) -> Feedback:
        """Visual feedback of iteration ``k`` on the current policy (stored as ``iter_KK/feedback.json``)."""
        ...

    def synthesize(self, store: LearnStore, k: int, m: int, feedback: Feedback | None, current: steps.Candidate) -> str:
        """Candidate ``m`` of iteration ``k`` (stored as ``iter_KK/cand_M/...``); returns its source."""
        ...


def run_session(
    cfg: LearnConfig,
    store: LearnStore,
    remote: RemoteSteps,
    *,
    policies_root: Path,
    report: Callable[[Progress], None] = lambda _p: None,
) -> LearnResult:
    """Run (or resume) the loop of :func:`lm_reward_learning.bilevel.loop.learn` with ``remote`` steps.

    Raises:
        LmrlError: (a subclass; :class:`RemoteStepError` for another node's failure) when a step
            cannot go on; ``status.json`` then says ``failed`` with the error, and everything completed
            stays in ``store`` for a resume.
        SessionCancelledError: when ``remote`` noticed a cancel request.
    """
    try:
        return _loop(cfg, store, remote, policies_root, report)
    except LmrlError as exc:
        store.update_status(status="failed", error=str(exc) or type(exc).__name__)
        raise


def _loop(
    cfg: LearnConfig,
    store: LearnStore,
    remote: RemoteSteps,
    policies_root: Path,
    report: Callable[[Progress], None],
) -> LearnResult:
    total = cfg.iterations
    report(Progress(0, total, 0, "expert"))
    expert = steps.prepare_expert(cfg, store) if cfg.mode == "bilevel" else None
    initial = steps.initial_program(cfg).source
    current = best = _candidate(cfg, store, 0, 0, initial, None, expert, remote, report)
    store.update_status(status="running", best=[0, 0], best_score=best.score)

    for k in range(1, total + 1):
        t0 = time.perf_counter()
        log.info("iteration %d/%d: current policy scores %.3f", k, total, current.value)
        fb = None
        if cfg.mode == "bilevel":
            saved = read_json(store.iter_dir(k) / "feedback.json")
            if saved is None:
                report(Progress(k, total, 0, "feedback"))
                fb = remote.feedback(store, k, current)  # upper level
            else:
                fb = Feedback.from_dict(saved)
        candidates = []
        for m in range(cfg.candidates):
            d = store.cand_dir(k, m)
            if read_json(d / "synthesis.json") is None:
                report(Progress(k, total, m, "synthesis"))
                source = remote.synthesize(store, k, m, fb, current)  # lower level
            else:
                source = (d / "program.py").read_text()
            candidates.append(_candidate(cfg, store, k, m, source, current, expert, remote, report))
        current = max(candidates, key=lambda c: c.value)  # keep the best candidate
        steps.write_summary(store, k, current, candidates, time.perf_counter() - t0)
        if current.value >= best.value:
            best = current
        store.update_status(iterations_done=k, best=[best.iteration, best.index], best_score=best.score)

    report(Progress(total, total, best.index, "export", {"best_score": (best.value, "1")}))
    onnx_path = export_best(store, best, policies_root)
    report_path = write_report(store)
    store.update_status(status="done", onnx=str(onnx_path), report=str(report_path))
    return LearnResult(store, best, onnx_path, report_path)


def _candidate(
    cfg: LearnConfig,
    store: LearnStore,
    k: int,
    m: int,
    source: str,
    warm: steps.Candidate | None,
    expert: steps.Expert | None,
    remote: RemoteSteps,
    report: Callable[[Progress], None],
) -> steps.Candidate:
    """Train, roll out and score candidate ``m`` of iteration ``k`` unless the store has it already."""
    from lm_reward_learning.training.run_dir import RunDir

    d = store.cand_dir(k, m)
    done = all((d / f).is_file() for f in ("score.json", "rollout.mp4", "rollout.npz"))
    if not done:
        plan = plan_training(cfg, store, k, m, source, warm)
        report(Progress(k, cfg.iterations, m, "training"))
        outcome = remote.train(plan, report)
        adopt_rollout(outcome, d)
        report(Progress(k, cfg.iterations, m, "scoring"))
        score_candidate(cfg, store, k, m, expert)
    cand = steps.evaluate_candidate(cfg, store, k, m, source, RunDir.open(d / "train"), expert)
    metrics = {
        "score": (cand.value, "1"),
        "forward_speed_mps": (float(cand.score.get("forward_speed_mps") or 0), "m/s"),
    }
    if cand.score.get("stride_frequency_hz") is not None:
        metrics["stride_frequency_hz"] = (float(cand.score["stride_frequency_hz"]), "Hz")
    report(Progress(k, cfg.iterations, m, "scoring", metrics))  # the score, once known
    return cand
