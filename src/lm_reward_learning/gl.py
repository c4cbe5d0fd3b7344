"""MuJoCo's offscreen OpenGL backend, chosen before MuJoCo is first imported (no heavy imports here)."""

from __future__ import annotations

import ctypes.util
import os


def select_gl_backend() -> str:
    """Set ``MUJOCO_GL`` if unset: ``egl`` where libEGL is present, else ``osmesa``. Returns the choice.

    Must run before ``mujoco.Renderer`` is first created.
    """
    if "MUJOCO_GL" not in os.environ:
        os.environ["MUJOCO_GL"] = "egl" if ctypes.util.find_library("EGL") else "osmesa"
    return os.environ["MUJOCO_GL"]
