"""The upper level as ``feedback_node`` runs it: robot frames from the rollout bag or live topic (ROS-free).

:func:`give_feedback` is :func:`lm_reward_learning.bilevel.steps.visual_feedback` (same request,
same backend, same files: ``iter_KK/feedback.json``, ``feedback_exchange.json``,
``side_by_side.mp4``) except for where the robot's frames come from: the images recorded in the
rollout bag (``/rollout/image``, as ``trainer_node`` published them), or the last rollout received
live on ``rollout/image`` (:class:`LiveRollout`), instead of decoding the rollout MP4. The expert
clip comes from :func:`~lm_reward_learning.bilevel.steps.prepare_expert`. The ``motion`` analyser
measures the robot from the rollout's simulator state (``rollout.npz``: foot contacts are not in the
bag), as in ``lmrl learn``.

This module does not import ``rclpy``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lm_reward_learning.bilevel.protocols import Feedback, FeedbackBackend, FeedbackRequest
from lm_reward_learning.bilevel.store import LearnStore
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.ros.candidates import latest_bag, load_current

log = logging.getLogger(__name__)

IMAGE_TOPIC = "/rollout/image"


class FeedbackInputError(LmrlError):
    """The robot's frames cannot be read (a damaged bag, no images, a wrong encoding)."""


def frames_from_bag(bag: Path, topic: str = IMAGE_TOPIC) -> np.ndarray:
    """Every image of ``topic`` in a rollout bag, in log-time order.

    Returns:
        uint8 RGB frames, shape ``(T, H, W, 3)``.

    Raises:
        FeedbackInputError: if the bag cannot be read or holds no images on ``topic``.
    """
    from lm_reward_learning.ros.bag import BagError, read_bag
    from lm_reward_learning.ros.image_conversion import ImageConversionError, from_image_msg

    try:
        msgs = read_bag(Path(bag), topics=[topic]).get(topic, [])
        frames = [from_image_msg(m) for _, m in msgs]
    except (BagError, ImageConversionError) as exc:
        raise FeedbackInputError(f"cannot read the rollout images of {bag}: {exc}") from exc
    if not frames:
        raise FeedbackInputError(f"rollout bag {bag} holds no images on {topic}; was it recorded by trainer_node?")
    return np.stack(frames)


class LiveRollout:
    """The images of the last rollout received live (a pause of ``gap_s`` starts a new rollout).

    Args:
        gap_s: A pause this long between two images (receive time, s) starts a new rollout.
        max_frames: Keep at most this many images of a rollout (the newest).
    """

    def __init__(self, gap_s: float = 1.0, max_frames: int = 3000) -> None:
        self.gap_s = gap_s
        self._current: deque[np.ndarray] = deque(maxlen=max_frames)
        self._last_t: float | None = None

    def add(self, frame: np.ndarray, t: float) -> None:
        """Record one frame received at time ``t`` (s, monotonic)."""
        if self._last_t is not None and t - self._last_t > self.gap_s:
            self._current.clear()
        self._current.append(frame)
        self._last_t = t

    def frames(self) -> np.ndarray | None:
        """The last rollout's frames, uint8 ``(T, H, W, 3)``, or None if fewer than two were received."""
        if len(self._current) < 2:
            return None
        return np.stack(list(self._current))


@dataclass
class _FramesFrom:
    """A feedback backend whose requests carry the given robot frames (sampled as the loop samples them)."""

    inner: FeedbackBackend
    frames: np.ndarray
    cfg: Any

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def last_exchange(self) -> Any:
        return getattr(self.inner, "last_exchange", None)

    def feedback(self, request: FeedbackRequest) -> Feedback:
        from lm_reward_learning.bilevel.steps import frames_for_feedback

        sampled = frames_for_feedback(self.cfg, self.frames, "robot")
        return self.inner.feedback(dataclasses.replace(request, rollout_frames=sampled))


def robot_frames(
    run_dir: Path, bag: str, live_frames: np.ndarray | None = None, *, live: bool = False
) -> tuple[np.ndarray | None, str]:
    """The robot frames to show the backend and where they came from (``bag:``, ``live:``, ``video``).

    With ``live``, ``live_frames`` (the last rollout received live) win when given; else ``bag``, else
    the newest bag of the candidate's training run ``run_dir``; with no bag at all (a run made by
    ``lmrl learn``), None: the rollout video is decoded as in the loop.

    Raises:
        FeedbackInputError: if the chosen bag cannot be read.
    """
    if live:
        if live_frames is not None:
            return live_frames, f"live:{IMAGE_TOPIC}"
        log.warning("no rollout received live on %s; reading the rollout bag", IMAGE_TOPIC)
    path = Path(bag) if bag else latest_bag(run_dir)
    if path is None:
        return None, "video"
    return frames_from_bag(path), f"bag:{path}"


def give_feedback(
    store: LearnStore,
    k: int,
    current_iteration: int,
    current_candidate: int,
    bag: str = "",
    live_frames: np.ndarray | None = None,
    *,
    live: bool = False,
    backend: FeedbackBackend | None = None,
) -> tuple[Feedback, str]:
    """Upper level of iteration ``k`` on the current policy; stores and returns the feedback.

    Args:
        store: The learn run (its ``learn.yaml`` names the backend, video and task).
        k: Loop iteration, from 1.
        current_iteration, current_candidate: The current policy's candidate.
        bag: Its rollout bag; "" = the newest of its training run.
        live_frames: The last rollout received live (used with ``live``), or None.
        live: Prefer ``live_frames`` to the bag.
        backend: The feedback backend; None = the one ``learn.yaml`` names.

    Returns:
        ``(feedback, frames_source)``; ``frames_source`` says where the robot frames came from.

    Raises:
        LmrlError: (a subclass) when the run, the candidate, the bag, the expert video or the backend fails.
    """
    from lm_reward_learning.bilevel import steps
    from lm_reward_learning.bilevel.backends import make_feedback

    cfg = store.config()
    if cfg.mode != "bilevel":
        raise LmrlError(f"learn run {store.path} is in {cfg.mode} mode, which uses no visual feedback")
    backend = backend if backend is not None else make_feedback(cfg)
    current = load_current(store, current_iteration, current_candidate)
    expert = steps.prepare_expert(cfg, store)
    frames, source = robot_frames(current.run, bag, live_frames, live=live)
    if frames is not None:
        backend = _FramesFrom(backend, frames, cfg)
    else:
        source = f"video:{current.rollout_video}"
    return steps.visual_feedback(cfg, store, k, backend, current, expert), source
