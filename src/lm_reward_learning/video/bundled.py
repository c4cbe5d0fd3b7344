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
    """

    file: str
    description: str
    licence: str
    stride_frames: int | None = None
    notes: str = ""


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
    ),
}


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
