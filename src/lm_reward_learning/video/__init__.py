"""Expert and rollout videos: read, trim, speed-correct, sample, compose, and measure gait.

.. code-block:: python

    from lm_reward_learning.video import analyse_expert_video, bundled_expert_video, load_video

    clip = load_video(bundled_expert_video("horse_gallop"), speed=3.0, max_side=320)
    motion = analyse_expert_video(clip)  # stride ≈ 2.0 Hz with the ×3 correction

Modules: :mod:`~lm_reward_learning.video.clip` (:class:`VideoClip`, time scale and speed factor),
:mod:`~lm_reward_learning.video.io` (decode with PyAV, write atomically),
:mod:`~lm_reward_learning.video.sampling` (uniform and motion-aware frames, grids, side by side),
:mod:`~lm_reward_learning.video.motion` (heuristic gait analyser: stride frequency, bounce, speed),
:mod:`~lm_reward_learning.video.periodicity` (autocorrelation, dominant period, mean-cycle amplitude),
:mod:`~lm_reward_learning.video.human_pose` (MediaPipe Pose keypoints of a person: gait events, cadence, duty
factor, step length, hip and knee angles),
:mod:`~lm_reward_learning.video.bundled` (the bundled Muybridge horse and human walking clip),
:mod:`~lm_reward_learning.video.errors` (what can be wrong with a video).
"""

from __future__ import annotations

from lm_reward_learning.video.bundled import (
    BUNDLED_EXPERT_VIDEOS,
    DEFAULT_EXPERT_BY_KIND,
    EXPERT_DIR,
    BundledVideo,
    bundled_expert_video,
)
from lm_reward_learning.video.clip import VideoClip, resample_indices
from lm_reward_learning.video.errors import (
    ClipTooShortError,
    EmptyVideoError,
    NoMotionError,
    NoVideoStreamError,
    TrimWindowError,
    UnsupportedVideoError,
    VideoArgumentError,
    VideoError,
    VideoNotFoundError,
    VideoReadError,
    VideoTooLargeError,
)
from lm_reward_learning.video.human_pose import (
    HumanGait,
    NoPersonError,
    PoseTrack,
    PoseUnavailableError,
    analyse_human_video,
    human_gait,
    track_pose,
)
from lm_reward_learning.video.io import load_video, write_video
from lm_reward_learning.video.motion import VideoMotion, analyse_expert_video
from lm_reward_learning.video.sampling import (
    frame_grid,
    motion_scores,
    sample_motion_aware,
    sample_uniform,
    side_by_side,
)

__all__ = [
    "BUNDLED_EXPERT_VIDEOS",
    "DEFAULT_EXPERT_BY_KIND",
    "EXPERT_DIR",
    "BundledVideo",
    "ClipTooShortError",
    "EmptyVideoError",
    "HumanGait",
    "NoMotionError",
    "NoPersonError",
    "NoVideoStreamError",
    "PoseTrack",
    "PoseUnavailableError",
    "TrimWindowError",
    "UnsupportedVideoError",
    "VideoArgumentError",
    "VideoClip",
    "VideoError",
    "VideoMotion",
    "VideoNotFoundError",
    "VideoReadError",
    "VideoTooLargeError",
    "analyse_expert_video",
    "analyse_human_video",
    "bundled_expert_video",
    "frame_grid",
    "human_gait",
    "load_video",
    "motion_scores",
    "resample_indices",
    "sample_motion_aware",
    "sample_uniform",
    "side_by_side",
    "track_pose",
    "write_video",
]
