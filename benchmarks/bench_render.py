"""Offscreen render fps of a robot at 320x240: our fast settings vs MuJoCo's default visual quality.

Usage: MUJOCO_GL=egl python benchmarks/bench_render.py [--robot go2] [--frames 150]
Baseline: the same model and camera with shadows, reflections and the model's own multisampling.
Ours: shadows and reflections off, ``offsamples = 0`` (what ``lmrl play`` uses), decimated meshes.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco
from _common import best_rate, report

from lm_reward_learning.robots import get_robot, load_model


def main() -> None:
    """Measure and print."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--robot", default="go2")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    args = ap.parse_args()
    spec = get_robot(args.robot)

    def make(fast: bool):
        model = load_model(spec)
        if fast:
            model.vis.quality.offsamples = 0
        data = mujoco.MjData(model)
        if model.nkey:
            mujoco.mj_resetDataKeyframe(model, data, 0)
        mujoco.mj_forward(model, data)
        r = mujoco.Renderer(model, height=args.height, width=args.width)
        r.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = not fast
        r.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = not fast
        cam = mujoco.MjvCamera()
        cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        cam.trackbodyid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, spec.base_body)
        cam.distance, cam.azimuth, cam.elevation = 4.0 * spec.leg_length + 1.0, 90.0, -10.0

        def run() -> int:
            for _ in range(args.frames):
                mujoco.mj_step(model, data)
                r.update_scene(data, camera=cam)
                r.render()
            return args.frames

        return run

    base = best_rate(make(False), repeats=2)
    report(
        f"{args.robot} render fps at {args.width}x{args.height} (MUJOCO_GL={os.environ['MUJOCO_GL']})",
        [("default visual quality (baseline)", base, "fps"), ("lmrl play settings", best_rate(make(True), 2), "fps")],
        base,
    )


if __name__ == "__main__":
    main()
