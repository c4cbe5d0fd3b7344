"""Candidates of the learn-run store as ``session_node`` and its helpers handle them (ROS-free).

* :func:`plan_training` — the ``train_policy`` goal of a candidate (:class:`TrainPlan`): what
  :func:`~lm_reward_learning.bilevel.steps.train_candidate` would train, with its resume rule, and the
  rollout the loop makes (command ``(mean of lin_vel_x range, 0, 0)``, ``rollout_s``, ``view``);
* :func:`adopt_rollout` and :func:`score_candidate` — the trainer's rollout (:class:`TrainOutcome`)
  copied into the candidate folder and scored as :func:`~lm_reward_learning.bilevel.steps.evaluate_candidate`
  scores it;
* :func:`load_current` — a completed candidate (the next iteration's current policy);
* :func:`latest_bag` — the newest rollout bag of a training run.

This module does not import ``rclpy``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lm_reward_learning.bilevel import steps
from lm_reward_learning.bilevel.config import LearnConfig
from lm_reward_learning.bilevel.store import LearnStore, read_json
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.io import atomic_write_json


class CandidateFileError(LmrlError):
    """A file a step reported (the trainer's rollout) does not exist."""


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
    """The training of candidate ``m`` of iteration ``k``, with the loop's resume rule
    (:func:`~lm_reward_learning.bilevel.steps.candidate_run`).

    Raises:
        RewardRuntimeError: the candidate's reward program already failed in training.
    """
    run_path, resume = steps.candidate_run(store, k, m)
    run_path = run_path.resolve()
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
        CandidateFileError: if the trainer's files are missing.
    """
    for src, name in ((outcome.rollout_video, "rollout.mp4"), (outcome.rollout_arrays, "rollout.npz")):
        if not Path(src).is_file():
            raise CandidateFileError(f"trainer_node reported the rollout file {src}, which does not exist")
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
