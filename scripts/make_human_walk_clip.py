"""Make the bundled human walking clip ``data/expert/human_walk_sports2d.mp4`` from Sports2D's demo video.

Source: ``Sports2D/Demo/demo.mp4`` in the PyPI wheel ``sports2d==0.8.34`` (David Pagnon / perfanalytics,
BSD-3-Clause; 1768x994, 30 fps, 230 frames). The demo shows several people; from frame 42 one woman walks
from right to left across the lawn, seen side-on with both feet visible; until frame 55 she is still next to
the tree at the right edge (MediaPipe's tracking of her legs settles only after that), and from frame 184 a
man on the box jumps down into the lower part of the picture. Frames 56 to 183 show her alone. The clip keeps those
frames, the bottom 526 rows (lawn and walker; the man on the box is cut off), scaled to 960 px wide, at the
source's 30 fps, encoded with the project's video writer (PyAV, H.264).

Usage (the wheel is fetched with pip, nothing else is downloaded)::

    pip download sports2d==0.8.34 --no-deps -d /tmp/sports2d
    python scripts/make_human_walk_clip.py /tmp/sports2d/sports2d-0.8.34-py3-none-any.whl

It also writes ``LICENSE.sports2d`` (the wheel's licence file) next to the clip and prints both SHA-256
sums for ``data/expert/PROVENANCE.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np

from lm_reward_learning.video import load_video, write_video
from lm_reward_learning.video.bundled import EXPERT_DIR

WHEEL_DEMO = "Sports2D/Demo/demo.mp4"
WHEEL_LICENCE = "sports2d-0.8.34.dist-info/licenses/LICENSE"
FIRST_FRAME, LAST_FRAME = 56, 183  # inclusive: the walker is clear of the tree, alone in the lower rows
BOTTOM_ROWS = 526
OUT_WIDTH = 960
OUT_NAME = "human_walk_sports2d.mp4"


def main(argv: list[str] | None = None) -> int:
    """Cut, crop, scale and encode the clip; write the licence; print the checksums. Returns the exit code."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("wheel", type=Path, help="sports2d-0.8.34-py3-none-any.whl (pip download sports2d==0.8.34)")
    p.add_argument("--out-dir", type=Path, default=EXPERT_DIR, help="folder to write the clip and licence into")
    args = p.parse_args(argv)
    if not args.wheel.is_file():
        print(
            f"error: {args.wheel} is not a file; get it with: pip download sports2d==0.8.34 --no-deps", file=sys.stderr
        )
        return 2
    with zipfile.ZipFile(args.wheel) as wheel, tempfile.TemporaryDirectory() as tmp:
        demo = Path(wheel.extract(WHEEL_DEMO, tmp))
        licence = wheel.read(WHEEL_LICENCE)
        clip = load_video(demo)
    if clip.num_frames <= LAST_FRAME or clip.height < BOTTOM_ROWS:
        got = f"{clip.num_frames} frames of {clip.width}x{clip.height}"
        print(f"error: {demo.name} has {got}; not the demo of sports2d 0.8.34", file=sys.stderr)
        return 2
    rows = clip.frames[FIRST_FRAME : LAST_FRAME + 1, -BOTTOM_ROWS:]
    height = round(BOTTOM_ROWS * OUT_WIDTH / clip.width / 2) * 2  # even, as H.264 needs
    frames = [cv2.resize(f, (OUT_WIDTH, height), interpolation=cv2.INTER_AREA) for f in rows]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = write_video(args.out_dir / OUT_NAME, np.stack(frames), clip.fps)
    (args.out_dir / "LICENSE.sports2d").write_bytes(licence)
    for path in (out, args.out_dir / "LICENSE.sports2d"):
        print(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}")
    print(f"{len(frames)} frames, {OUT_WIDTH}x{height}, {clip.fps:g} fps, {out.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
