"""Write the robots' URDF files, ``config/ros/urdf/<robot>.urdf``, from their vendored MJCF.

Usage: ``.venv/bin/python scripts/make_urdf.py [ROBOT ...]`` (default: every registered robot). The generator is
:func:`lm_reward_learning.deploy.urdf.mjcf_to_urdf`; ``tests/deploy/test_urdf.py`` checks that the files are up to
date and that their kinematics match MuJoCo's. Exit code 2 with one paragraph for an unknown robot.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lm_reward_learning.deploy.urdf import mjcf_to_urdf
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.robots import ROBOTS, get_robot

OUT = Path(__file__).resolve().parents[1] / "config" / "ros" / "urdf"


def main(argv: list[str]) -> int:
    """Write the URDF of each robot named in ``argv`` (all when empty); return the exit code."""
    try:
        specs = [get_robot(name) for name in (argv or sorted(ROBOTS))]
        OUT.mkdir(parents=True, exist_ok=True)
        for spec in specs:
            path = OUT / f"{spec.name}.urdf"
            path.write_text(mjcf_to_urdf(spec))
            print(f"wrote {path.relative_to(OUT.parents[2])}")
    except LmrlError as exc:
        print(f"make_urdf: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
