"""Recorded batches of reward states on disk (the dry run's input).

A batch file is ``torch.save(state.to_dict(), path)``: a dict of CPU tensors plus the float ``dt``,
loadable with ``torch.load(..., weights_only=True)`` (no pickled code).
"""

from __future__ import annotations

from pathlib import Path

import torch

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.reward.state import RewardState


def save_state_batch(state: RewardState, path: str | Path) -> Path:
    """Write ``state`` to ``path`` (tensors moved to the CPU); return the path.

    Raises:
        LmrlError: if the file cannot be written.
    """
    path = Path(path)
    data = {k: v.detach().cpu() if isinstance(v, torch.Tensor) else float(v) for k, v in state.to_dict().items()}
    try:
        torch.save(data, path)
    except OSError as exc:
        raise LmrlError(f"cannot write the state batch {path}: {exc}") from exc
    return path


def load_state_batch(path: str | Path) -> RewardState:
    """Read a batch written by :func:`save_state_batch`.

    Raises:
        LmrlError: if the file is missing, is not a state batch, or lacks a field.
    """
    path = Path(path)
    if not path.is_file():
        raise LmrlError(
            f"state batch {path} does not exist; record one from the simulator or write a synthetic one "
            "with save_state_batch(synthetic_state(...), path)"
        )
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for damaged or foreign files
        raise LmrlError(f"cannot read the state batch {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise LmrlError(f"{path} holds a {type(data).__name__}, not a dict written by save_state_batch")
    try:
        return RewardState.from_dict(data)
    except KeyError as exc:
        raise LmrlError(f"state batch {path} lacks the field {exc}; write it with save_state_batch") from exc
