"""Fixtures of the video tests (synthetic clips are drawn by ``synthetic_videos``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lm_reward_learning.video import write_video


@pytest.fixture
def write_mp4(tmp_path: Path) -> Callable[..., Path]:
    """``write_mp4(frames, fps, name="clip.mp4") -> Path`` in the test's temporary folder."""

    def _write(frames: np.ndarray, fps: float, name: str = "clip.mp4") -> Path:
        return write_video(tmp_path / name, frames, fps)

    return _write
