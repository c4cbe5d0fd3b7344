"""rsl-rl-lib's ``OnPolicyRunner`` as every backend uses it: atomic checkpoints, a callback per iteration.

MuJoCo-free on purpose: the Isaac Lab worker (whose environment pins an older MuJoCo) imports it too.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rsl_rl.runners import OnPolicyRunner
from rsl_rl.utils.logger import Logger

from lm_reward_learning.errors import CheckpointError
from lm_reward_learning.io import atomic_write_bytes
from lm_reward_learning.training.run_dir import RunDir


class _QuietLogger(Logger):
    """rsl-rl's logger (TensorBoard) with its console report replaced by a callback per iteration.

    ``times`` holds the last iteration's ``(collect_time, learn_time)`` in s, as rsl-rl's runner measured
    them (rollout collection; PPO update), for the per-iteration record.
    """

    on_iteration: Callable[[int], None] | None = None
    times: tuple[float, float] = (0.0, 0.0)

    def log(self, it: int, start_it: int, total_it: int, collect_time: float, learn_time: float, *args, **kwargs):
        self.times = (float(collect_time), float(learn_time))
        with contextlib.redirect_stdout(io.StringIO()):
            super().log(it, start_it, total_it, collect_time, learn_time, *args, **kwargs)
        if self.on_iteration is not None:
            self.on_iteration(it)

    def _store_code_state(self) -> list[str]:
        return []  # the run directory records versions and the reward program itself


class LmrlRunner(OnPolicyRunner):
    """``OnPolicyRunner`` that saves atomically into ``checkpoints/`` and reports each iteration.

    Args:
        env: The vectorised environment (any rsl-rl ``VecEnv``: MuJoCo or Isaac Lab).
        train_cfg: rsl-rl ``train_cfg`` (copied; the runner's factories edit their input).
        run: Run directory (checkpoints and TensorBoard logs go there).
        device: Torch device of the policy (``cpu``, ``cuda:0``).
    """

    def __init__(self, env: Any, train_cfg: dict, run: RunDir, device: str = "cpu") -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # rsl-rl prints the model summaries
            super().__init__(env, _deepcopy(train_cfg), log_dir=str(run.tb), device=device)
        self.run = run
        self.logger.__class__ = _QuietLogger

    def save(self, path: str, infos: dict | None = None) -> None:
        """Save the models and optimiser state to ``checkpoints/<basename of path>``, atomically."""
        saved = self.alg.save()
        saved["iter"] = self.current_learning_iteration
        saved["infos"] = infos
        buf = io.BytesIO()
        torch.save(saved, buf)
        atomic_write_bytes(self.run.checkpoints / Path(path).name, buf.getvalue())

    def load_checkpoint(self, path: Path, *, weights_only: bool = False) -> int:
        """Load a checkpoint; return the iteration it was saved after.

        Args:
            path: A ``.pt`` file written by :meth:`save`.
            weights_only: Load only the actor/critic weights (warm start for a new reward), not the
                optimiser state or iteration count.

        Raises:
            CheckpointError: if the file is missing, truncated or not a checkpoint of this policy.
        """
        try:
            saved = torch.load(path, weights_only=False, map_location=self.device)
            load_cfg = {"actor": True, "critic": True} if weights_only else None
            self.alg.load(saved, load_cfg, True)
        except FileNotFoundError as exc:
            raise CheckpointError(f"Checkpoint {path} does not exist.") from exc
        except (RuntimeError, EOFError, KeyError, pickle.UnpicklingError, zipfile.BadZipFile, TypeError) as exc:
            raise CheckpointError(
                f"Checkpoint {path} cannot be loaded ({type(exc).__name__}: {str(exc)[:200]}). It is truncated, "
                f"corrupted, or from another robot or network size; resume from another run or train anew."
            ) from exc
        return int(saved.get("iter", 0))


def _deepcopy(d: dict) -> dict:
    return pickle.loads(pickle.dumps(d))
