"""``session_node``'s side of the bi-level loop: its goals, and the loop's steps done by other nodes (ROS-free).

``lmrl learn`` and ``session_node`` run the same loop, :func:`lm_reward_learning.bilevel.loop.run_loop`,
into the same learn-run store. Here its steps (:class:`RosSteps`) go to the other nodes through a
:class:`RemoteSteps` object (the node implements it with action clients):

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lm_reward_learning.bilevel import steps
from lm_reward_learning.bilevel.config import LearnConfig, load_learn_config
from lm_reward_learning.bilevel.loop import LearnResult, Progress, run_loop, train_each
from lm_reward_learning.bilevel.protocols import Feedback
from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.errors import LmrlError, RewardRuntimeError
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
    the nodes that read it may run in other working directories; a bundled clip's name (``human_walk``)
    stays a name.

    Raises:
        LmrlError: (a subclass) naming what is wrong: a missing video, an unknown robot or backend, a
            bad learn config, a run name that is not a plain name, an existing run directory, a
            ``resume_run_dir`` that is not a learn run.
    """
    from lm_reward_learning.robots import get_robot
    from lm_reward_learning.video.bundled import BUNDLED_EXPERT_VIDEOS, is_bundled_name

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
    bundled = is_bundled_name(cfg.video)
    if cfg.video and not bundled and not Path(cfg.video).expanduser().exists():
        raise LmrlError(
            f"Expert video {cfg.video} does not exist on the session's machine. Give an existing file or folder "
            f"of frames in goal.video, the name of a bundled clip ({', '.join(sorted(BUNDLED_EXPERT_VIDEOS))}), "
            "or leave it empty for the robot's default bundled clip."
        )
    paths = ("human_feedback", "initial_reward") if bundled else ("video", "human_feedback", "initial_reward")
    cfg = dataclasses.replace(cfg, **{k: _absolute(getattr(cfg, k)) for k in paths})  # a bundled name stays a name
    name = goal.run_name or f"learn_{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%d-%H%M%S')}_{cfg.robot}"
    if Path(name).name != name or name in (".", ".."):
        raise LmrlError(f"run name {name!r} must be a plain directory name (no '/'); it goes under runs_dir")
    store = LearnStore.create(defaults.runs_dir.expanduser().resolve() / name, cfg)
    return cfg, store


def _absolute(path: str | None) -> str | None:
    return str(Path(path).expanduser().resolve()) if path else path


# --------------------------------------------------------------------------------------------- the loop
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
    """Run (or resume) the loop (:func:`lm_reward_learning.bilevel.loop.run_loop`) with the steps on other nodes.

    Raises:
        LmrlError: (a subclass; :class:`RemoteStepError` for another node's failure) when a step
            cannot go on; ``status.json`` then says ``failed`` with the error, and everything completed
            stays in ``store`` for a resume.
        SessionCancelledError: when ``remote`` noticed a cancel request.
    """
    return run_loop(cfg, store, RosSteps(cfg, store, remote), policies_root=policies_root, report=report)


class RosSteps:
    """:class:`~lm_reward_learning.bilevel.loop.LoopSteps` done by ``trainer_node``, ``feedback_node`` and
    ``reward_synth_node`` through ``remote``; candidates land in the store as :class:`LocalSteps` leaves
    them (the trainer's rollout copied in and scored here)."""

    def __init__(self, cfg: LearnConfig, store: LearnStore, remote: RemoteSteps) -> None:
        self.cfg, self.store, self.remote = cfg, store, remote

    def feedback(self, k: int, current: steps.Candidate, expert: steps.Expert | None) -> Feedback:
        return self.remote.feedback(self.store, k, current)

    def synthesize(self, k: int, m: int, feedback: Feedback | None, current: steps.Candidate) -> str:
        return self.remote.synthesize(self.store, k, m, feedback, current)

    def train(
        self,
        k: int,
        sources: list[str],
        warm: steps.Candidate | None,
        expert: steps.Expert | None,
        report: Callable[[Progress], None],
    ) -> tuple[list[steps.Candidate], list[int]]:
        def one(m: int, source: str) -> steps.Candidate:
            return self._candidate(k, m, source, warm, expert, report)

        return train_each(self.cfg, self.store, k, sources, warm, expert, one)

    def _candidate(
        self,
        k: int,
        m: int,
        source: str,
        warm: steps.Candidate | None,
        expert: steps.Expert | None,
        report: Callable[[Progress], None],
    ) -> steps.Candidate:
        """Train, roll out and score candidate ``m`` of iteration ``k`` unless the store has it already.

        Raises:
            RewardRuntimeError: its reward program failed in training (now, or in the run resumed).
        """
        from lm_reward_learning.training.run_dir import RunDir

        cfg, store = self.cfg, self.store
        d = store.cand_dir(k, m)
        done = all((d / f).is_file() for f in ("score.json", "rollout.mp4", "rollout.npz"))
        if not done:
            plan = plan_training(cfg, store, k, m, source, warm)  # raises if its program failed before
            report(Progress(k, cfg.iterations, m, "training"))
            try:
                outcome = self.remote.train(plan, report)
            except RemoteStepError:
                _raise_reward_failure(plan.run_dir)  # the trainer recorded why in run.yaml
                raise
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


def _raise_reward_failure(run_path: Path) -> None:
    """Raise the :class:`RewardRuntimeError` a training run recorded in ``run.yaml``, if any."""
    from lm_reward_learning.training.run_dir import RunDir

    if (run_path / "run.yaml").is_file():
        meta = RunDir.open(run_path).meta()
        if meta.get("status") == "failed" and RewardRuntimeError.is_failure(meta.get("failure")):
            raise RewardRuntimeError.from_failure(meta["failure"])
