"""The bi-level loop of ``session_node``, with training, feedback and synthesis done by other nodes (ROS-free).

``lmrl learn`` runs :func:`lm_reward_learning.bilevel.loop.learn` in one process. ``session_node``
runs the same loop, step for step and into the same learn-run store, but hands three steps to the
other nodes through a :class:`RemoteSteps` object (the node implements it with action clients):

* training a candidate → ``trainer_node`` (``train_policy``), which trains into
  ``iter_KK/cand_M/train`` exactly as :func:`~lm_reward_learning.bilevel.steps.train_candidate` would
  (resuming an interrupted training, warm-started from the current policy), then rolls the policy out
  as the loop does (command ``(mean of lin_vel_x range, 0, 0)``, ``rollout_s``, ``view``) and records
  the rollout bag; :func:`adopt_rollout` copies its video and simulator state into the candidate folder
  and :func:`score_candidate` scores it;
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
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lm_reward_learning.bilevel import steps
from lm_reward_learning.bilevel.config import LearnConfig, load_learn_config
from lm_reward_learning.bilevel.loop import LearnResult, export_best, write_report
from lm_reward_learning.bilevel.protocols import Feedback
from lm_reward_learning.bilevel.store import LearnStore, read_json
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.io import atomic_write_json

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


# --------------------------------------------------------------------------------------------- training
@dataclass(frozen=True)
class TrainPlan:
    """One ``train_policy`` goal of the loop: what :func:`~lm_reward_learning.bilevel.steps.train_candidate` trains.

    Attributes:
        iteration: Loop iteration (0 = the initial program).
        candidate: Candidate index.
        robot: Robot name.
        run_dir: ``iter_KK/cand_M/train`` (absolute); resumed by the trainer if it holds a checkpoint.
        program_source: The reward program.
        program_name: ``iter<k>_cand<m>``.
        program_origin: ``learn:<run name>``.
        iterations: PPO iterations (total).
        num_envs: Parallel simulations.
        seed: Random seed.
        warm_start: Checkpoint of the current policy, or None (iteration 0, ``warm_start: false``, resume).
        rollout_s: Rollout length, s.
        command: Rollout velocity command ``(v_x m/s, v_y m/s, yaw rad/s)``.
        view: Rollout camera side.
    """

    iteration: int
    candidate: int
    robot: str
    run_dir: Path
    program_source: str
    program_name: str
    program_origin: str
    iterations: int
    num_envs: int
    seed: int
    warm_start: Path | None
    rollout_s: float
    command: tuple[float, float, float]
    view: str


@dataclass(frozen=True)
class TrainOutcome:
    """What ``trainer_node`` reported for a :class:`TrainPlan`.

    Attributes:
        run_dir: The training run.
        rollout_video: MP4 of the rollout (``<run>/videos/rollout_<view>.mp4``).
        rollout_arrays: Its simulator state (``.npz`` beside the video).
        rollout_bag: The rosbag2 directory of the rollout ("" when the trainer records none).
    """

    run_dir: Path
    rollout_video: Path
    rollout_arrays: Path
    rollout_bag: str = ""


def plan_training(
    cfg: LearnConfig, store: LearnStore, k: int, m: int, source: str, warm: steps.Candidate | None
) -> TrainPlan:
    """The training of candidate ``m`` of iteration ``k``, with the resume rule of ``train_candidate``.

    A ``train`` folder that was interrupted before training started (no checkpoint, or a status other
    than ``training``/``done``) is removed, as the loop does; one with a checkpoint is resumed.
    """
    from lm_reward_learning.training.run_dir import RunDir

    run_path = (store.cand_dir(k, m) / "train").resolve()
    resume = False
    if run_path.exists():
        status = RunDir.open(run_path).meta().get("status") if (run_path / "run.yaml").is_file() else None
        if status in ("training", "done") and (run_path / "checkpoints" / "latest.pt").is_file():
            resume = True
        else:
            shutil.rmtree(run_path)  # interrupted before training started: nothing to keep
    iterations = cfg.initial_train_iterations if k == 0 else cfg.train_iterations
    tcfg = steps.train_config(cfg, iterations)
    warm_ckpt = None
    if warm is not None and cfg.warm_start and not resume:
        warm_ckpt = (Path(warm.run) / "checkpoints" / "latest.pt").resolve()
    return TrainPlan(
        iteration=k,
        candidate=m,
        robot=cfg.robot,
        run_dir=run_path,
        program_source=source,
        program_name=f"iter{k}_cand{m}",
        program_origin=f"learn:{store.path.name}",
        iterations=iterations,
        num_envs=cfg.num_envs,
        seed=cfg.seed,
        warm_start=warm_ckpt,
        rollout_s=cfg.rollout_s,
        command=(float(np.mean(tcfg.env.commands.lin_vel_x)), 0.0, 0.0),
        view=cfg.view,
    )


def adopt_rollout(outcome: TrainOutcome, cand_dir: Path) -> None:
    """Copy the trainer's rollout video and simulator state to ``cand_dir/rollout.{mp4,npz}`` (atomically).

    Raises:
        RemoteStepError: if the trainer's files are missing.
    """
    for src, name in ((outcome.rollout_video, "rollout.mp4"), (outcome.rollout_arrays, "rollout.npz")):
        if not Path(src).is_file():
            raise RemoteStepError(f"trainer_node reported the rollout file {src}, which does not exist")
        fd, tmp = tempfile.mkstemp(dir=cand_dir, prefix=f".{name}.")
        os.close(fd)
        shutil.copyfile(src, tmp)
        os.replace(tmp, cand_dir / name)


def score_candidate(cfg: LearnConfig, store: LearnStore, k: int, m: int, expert: steps.Expert | None) -> None:
    """Write ``score.json`` of a candidate whose rollout is in its folder (the loop's objective score)."""
    d = store.cand_dir(k, m)
    atomic_write_json(d / "score.json", steps.objective_score(cfg, d / "rollout.npz", expert))


def load_current(store: LearnStore, k: int, m: int) -> steps.Candidate:
    """A trained and scored candidate from the store (the "current policy" of the next iteration).

    Its source is ``iter_KK/cand_M/program.py``, or for the initial program (which the loop keeps only
    in its training run) ``train/reward/program.py``.

    Raises:
        LmrlError: if the candidate is not complete in the store.
    """
    d = store.path / f"iter_{k:02d}" / f"cand_{m}"
    score = read_json(d / "score.json")
    program = d / "program.py" if (d / "program.py").is_file() else d / "train" / "reward" / "program.py"
    if score is None or not program.is_file():
        raise LmrlError(
            f"candidate {m} of iteration {k} is not complete in {store.path} (no score.json or program); "
            "the session must train and score it first"
        )
    return steps.Candidate(k, m, program.read_text(), d / "train", score, d / "rollout.mp4", d / "rollout.npz")


def latest_bag(run_dir: Path) -> Path | None:
    """The newest complete rollout bag of a training run (``rollout_bag``, ``rollout_bag_1``, ...), or None."""
    bags = [p for p in Path(run_dir).glob("rollout_bag*") if (p / "metadata.yaml").is_file()]
    suffix = lambda p: int(p.name.rsplit("_", 1)[1]) if p.name != "rollout_bag" else 0  # noqa: E731
    return max(bags, key=suffix, default=None)


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
    report(Progress(k, cfg.iterations, m, "scored", metrics))
    return cand
