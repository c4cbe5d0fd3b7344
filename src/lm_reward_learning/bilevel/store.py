"""The learn-run store: every step of every iteration on disk, so ``--resume`` repeats nothing done.

Layout::

    <run>/learn.yaml                      the LearnConfig used
    <run>/status.json                     status, best candidate, completed steps
    <run>/expert/clip.mp4, frames.npz, motion.json    trimmed expert clip, sampled frames, measurements
    <run>/iter_00/cand_0/program.py, train/           the initial program and its training run
    <run>/iter_KK/rollout.mp4, rollout.npz            the previous policy's rollout (video, sim state)
    <run>/iter_KK/side_by_side.mp4                    expert | robot, what the feedback backend watches
    <run>/iter_KK/feedback.json                       structured feedback + raw response
    <run>/iter_KK/cand_M/attempt_J/{prompt.json, response.txt, program.py, validation.json}
    <run>/iter_KK/cand_M/{program.py, diff.patch, synthesis.json, train/, score.json}
    <run>/final/rollout.mp4, rollout.npz              the best policy's rollout
    <run>/report.html

A step's output file is written atomically and last, so its presence means the step completed; a
paid API call whose answer was saved is never repeated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lm_reward_learning.config import from_dict, to_dict
from lm_reward_learning.errors import RunDirError
from lm_reward_learning.io import atomic_write_json, atomic_write_yaml


@dataclass(frozen=True)
class LearnStore:
    """A learn-run directory (see the module docstring).

    Attributes:
        path: The directory.
    """

    path: Path

    @classmethod
    def create(cls, path: Path, config) -> LearnStore:
        """Make a new run directory holding ``learn.yaml``.

        Raises:
            RunDirError: if ``path`` exists already.
        """
        path = Path(path)
        if path.exists():
            raise RunDirError(f"{path} already exists; pass --resume {path} to continue it, or another --name.")
        path.mkdir(parents=True)
        atomic_write_yaml(path / "learn.yaml", to_dict(config))
        store = cls(path)
        store.update_status(status="running")
        return store

    @classmethod
    def open(cls, path: Path) -> LearnStore:
        """Open an existing learn run.

        Raises:
            RunDirError: if ``path`` has no ``learn.yaml``.
        """
        path = Path(path)
        if not (path / "learn.yaml").is_file():
            raise RunDirError(
                f"{path} is not a learn run (no learn.yaml). Pass a directory made by `lmrl learn`, e.g. runs/learn_*."
            )
        return cls(path)

    def config(self):
        """The :class:`~lm_reward_learning.bilevel.config.LearnConfig` stored in ``learn.yaml``."""
        from lm_reward_learning.bilevel.config import LearnConfig

        return from_dict(LearnConfig, yaml.safe_load((self.path / "learn.yaml").read_text()), "learn.yaml").check()

    def iter_dir(self, k: int) -> Path:
        """Directory of loop iteration ``k`` (0 = the initial program)."""
        d = self.path / f"iter_{k:02d}"
        d.mkdir(exist_ok=True)
        return d

    def cand_dir(self, k: int, m: int) -> Path:
        """Directory of candidate ``m`` of iteration ``k``."""
        d = self.iter_dir(k) / f"cand_{m}"
        d.mkdir(exist_ok=True)
        return d

    @property
    def expert_dir(self) -> Path:
        """Directory of the processed expert clip."""
        d = self.path / "expert"
        d.mkdir(exist_ok=True)
        return d

    def status(self) -> dict[str, Any]:
        """``status.json`` (empty dict if missing)."""
        f = self.path / "status.json"
        return json.loads(f.read_text()) if f.is_file() else {}

    def update_status(self, **updates: Any) -> dict[str, Any]:
        """Merge ``updates`` into ``status.json`` atomically; return the result."""
        s = self.status()
        s.update(updates)
        atomic_write_json(self.path / "status.json", s)
        return s


def read_json(path: Path) -> Any | None:
    """JSON content of ``path``, or None when the file does not exist (step not done)."""
    return json.loads(Path(path).read_text()) if Path(path).is_file() else None
