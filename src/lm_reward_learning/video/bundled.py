"""Expert videos shipped with the package (``lm_reward_learning/data/expert``, provenance beside them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lm_reward_learning.video.errors import VideoNotFoundError

#: Folder of the bundled expert videos.
EXPERT_DIR = Path(__file__).resolve().parent.parent / "data" / "expert"


@dataclass(frozen=True)
class BundledVideo:
    """One bundled expert clip.

    Attributes:
        file: File name in :data:`EXPERT_DIR`.
        description: What it shows.
        licence: Licence of the footage.
        stride_frames: Frames per stride of the subject, counted by hand (None if not counted).
        notes: What a user must know about its time scale.
        subject: ``"animal"`` (measured by the silhouette analyser) or ``"human"`` (also by MediaPipe Pose,
            :mod:`lm_reward_learning.video.human_pose`).
        speed: Default playback-rate correction (real time = video time / speed).
        leg_length_m: The subject's leg length, m (hip to ground), if the source gives it; None otherwise.
    """

    file: str
    description: str
    licence: str
    stride_frames: int | None = None
    notes: str = ""
    subject: str = "animal"
    speed: float = 1.0
    leg_length_m: float | None = None


#: Bundled clips by name (see ``data/expert/PROVENANCE.md``).
BUNDLED_EXPERT_VIDEOS: dict[str, BundledVideo] = {
    "horse_gallop": BundledVideo(
        file="horse_gallop_muybridge.mp4",
        description="Muybridge's race horse at a gallop (1878 photographs animated as a loop), side view",
        licence="public domain",
        stride_frames=36,
        notes=(
            "An animation of stills: its playback rate (one stride per 36 frames at 23.98 fps, 0.67 Hz) is not "
            "the horse's real cadence (about 2 strides/s); pass a speed factor (about 3) to analyse it in real time."
        ),
        speed=3.0,
    ),
    "human_walk": BundledVideo(
        file="human_walk_sports2d.mp4",
        description="a woman walking across a lawn, side view, whole body and feet in view (Sports2D's demo)",
        licence="BSD-3-Clause (perfanalytics; LICENSE.sports2d)",
        notes="Real time (30 fps, not slowed down); 4.27 s, about 3.5 strides.",
        subject="human",
        speed=1.0,
        # Sports2D's demo config gives her height as 1.65 m; leg (greater trochanter) = 0.530 x height (Winter 2009)
        leg_length_m=0.87,
    ),
}

#: The bundled clip ``lmrl learn`` uses by default for each kind of robot (:attr:`RobotSpec.kind`).
DEFAULT_EXPERT_BY_KIND: dict[str, str] = {"quadruped": "horse_gallop", "humanoid": "human_walk"}


def is_bundled_name(video: str | None) -> bool:
    """Whether ``video`` (a ``--video`` value) names a bundled clip: one of :data:`BUNDLED_EXPERT_VIDEOS` that
    is not an existing file or folder (a user's file that happens to be called ``human_walk`` stays a file)."""
    return bool(video) and video in BUNDLED_EXPERT_VIDEOS and not Path(video).expanduser().exists()


def bundled_expert_video(name: str = "horse_gallop") -> Path:
    """Path of a bundled expert video.

    Args:
        name: One of :data:`BUNDLED_EXPERT_VIDEOS`.

    Returns:
        The file's path inside the installed package.

    Raises:
        VideoNotFoundError: Unknown name, or the file is missing from the installation.
    """
    if name not in BUNDLED_EXPERT_VIDEOS:
        raise VideoNotFoundError(f"no bundled expert video {name!r}; choose one of {sorted(BUNDLED_EXPERT_VIDEOS)}")
    path = EXPERT_DIR / BUNDLED_EXPERT_VIDEOS[name].file
    if not path.is_file():
        raise VideoNotFoundError(f"bundled expert video {path} is missing; reinstall lm_reward_learning")
    return path
