"""The run directory: everything one training run writes, in one place.

Layout::

    <run>/
      run.yaml                 robot, reward hash, status, iterations done, versions
      config.yaml              the full TrainConfig used
      reward/program.py        the reward program source (data, never imported)
      reward/validation.json   the validator's result
      reward/state_batch.pt    the recorded states the program was dry-run on
      reward_stats.json        per-iteration, per-term reward statistics (reward reflection input)
      checkpoints/latest.pt    written after every iteration (a crash loses at most one)
      checkpoints/model_<i>.pt every ``save_interval`` iterations and at the end
      tb/                      TensorBoard event files
      videos/                  rollout videos (``lmrl play``)

Every file is written atomically (:mod:`lm_reward_learning.io`).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lm_reward_learning.errors import RunDirError
from lm_reward_learning.io import atomic_write_json, atomic_write_yaml


@dataclass(frozen=True)
class RunDir:
    """A run directory on disk (see the module docstring for its layout).

    Attributes:
        path: The directory.
    """

    path: Path

    @classmethod
    def create(cls, root: Path, robot: str, name: str | None = None) -> RunDir:
        """Make a new, empty run directory ``root/<UTC time>_<robot>[_<name>]``.

        Raises:
            RunDirError: if the directory already exists (never overwrite a run).
        """
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        return cls.create_at(Path(root) / "_".join(x for x in (stamp, robot, name) if x))

    @classmethod
    def create_at(cls, path: Path) -> RunDir:
        """Make a new, empty run directory at exactly ``path``.

        Raises:
            RunDirError: if ``path`` already exists (never overwrite a run).
        """
        path = Path(path)
        if path.exists():
            raise RunDirError(f"Run directory {path} already exists; choose another --name or wait a second.")
        path.mkdir(parents=True)
        for sub in ("reward", "checkpoints", "tb", "videos"):
            (path / sub).mkdir()
        return cls(path)

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """Open an existing run directory.

        Raises:
            RunDirError: if ``path`` is not a directory with a readable ``run.yaml``.
        """
        path = Path(path)
        if not (path / "run.yaml").is_file():
            raise RunDirError(
                f"{path} is not a run directory (no run.yaml). Pass a directory made by `lmrl train`, "
                f"e.g. one under runs/."
            )
        rd = cls(path)
        rd.meta()  # parse now, so a damaged file is reported here
        return rd

    # ----------------------------------------------------------- paths
    @property
    def checkpoints(self) -> Path:
        """Directory of ``model_<i>.pt`` and ``latest.pt``."""
        return self.path / "checkpoints"

    @property
    def reward_dir(self) -> Path:
        """Directory of the reward program, its validation result and the recorded state batch."""
        return self.path / "reward"

    @property
    def videos(self) -> Path:
        """Directory of rollout videos."""
        return self.path / "videos"

    @property
    def tb(self) -> Path:
        """TensorBoard log directory."""
        return self.path / "tb"

    # ----------------------------------------------------------- metadata
    def meta(self) -> dict[str, Any]:
        """Return ``run.yaml`` as a dict.

        Raises:
            RunDirError: if it is missing or not a YAML mapping.
        """
        try:
            data = yaml.safe_load((self.path / "run.yaml").read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise RunDirError(
                f"{self.path / 'run.yaml'} cannot be read ({exc}); the run directory is damaged."
            ) from exc
        if not isinstance(data, dict) or "robot" not in data:
            raise RunDirError(f"{self.path / 'run.yaml'} is damaged (no 'robot' key); it was not written by lmrl.")
        return data

    def write_meta(self, **updates: Any) -> dict[str, Any]:
        """Merge ``updates`` into ``run.yaml`` (atomically) and return the result."""
        current = self.meta() if (self.path / "run.yaml").is_file() else {}
        current.update(updates)
        atomic_write_yaml(self.path / "run.yaml", current)
        return current

    def reward_stats(self) -> list[dict[str, Any]]:
        """Per-iteration records from ``reward_stats.json`` (empty before the first iteration)."""
        f = self.path / "reward_stats.json"
        if not f.is_file():
            return []
        try:
            return json.loads(f.read_text())
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{f} is damaged ({exc}).") from exc

    def write_reward_stats(self, records: list[dict[str, Any]]) -> None:
        """Atomically replace ``reward_stats.json`` with ``records``."""
        atomic_write_json(self.path / "reward_stats.json", records)

    def latest_checkpoint(self) -> Path:
        """Path of the newest checkpoint.

        Raises:
            RunDirError: if the run has no checkpoint yet.
        """
        latest = self.checkpoints / "latest.pt"
        if latest.is_file():
            return latest
        models = sorted(self.checkpoints.glob("model_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
        if not models:
            raise RunDirError(f"Run {self.path} has no checkpoint yet; train it first (`lmrl train`).")
        return models[-1]
