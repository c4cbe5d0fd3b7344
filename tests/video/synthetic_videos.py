"""Synthetic videos with known motion, drawn in numpy and written with PyAV.

The subject is a dark ellipse (grey 40) on a light background (grey 200), semi-axes ``a`` (horizontal)
and ``b`` (vertical) px, with a soft one-pixel edge so that sub-pixel motion shows. Its centre is at

    x(t) = x0 + vx · t,    y(t) = y0 + A · sin(2π f t)

so the "stride" frequency is ``f``, the bounce amplitude ``A`` px, the forward speed ``vx`` px/s.
"""

from __future__ import annotations

import numpy as np

BG, FG = 200, 40


def draw_ellipse(frame: np.ndarray, cx: float, cy: float, a: float, b: float, value: int = FG) -> None:
    """Blend a filled ellipse into a grey-level RGB frame in place (soft ~1 px edge)."""
    h, w = frame.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2)
    alpha = np.clip((1.0 - r) * b + 0.5, 0.0, 1.0)[..., None]
    frame[:] = (frame * (1 - alpha) + value * alpha).astype(np.uint8)


def bouncing_frames(
    *,
    n: int,
    fps: float,
    f_hz: float,
    amp_px: float,
    size: tuple[int, int] = (160, 120),
    a: float = 20.0,
    b: float = 14.0,
    x0: float | None = None,
    vx_px_s: float = 0.0,
    ground_shift_px: int = 0,
) -> np.ndarray:
    """Frames of the bouncing ellipse. ``ground_shift_px``: a textured ground band scrolling per frame.

    Returns:
        uint8 RGB frames. Shape ``(n, H, W, 3)`` with ``(W, H) = size``.
    """
    w, h = size
    rng = np.random.default_rng(0)
    texture = np.repeat(rng.integers(150, 250, size=(1, 4 * w)), 24, axis=0).astype(np.uint8)
    texture = np.repeat(texture[:, ::4], 4, axis=1)  # 4 px wide stripes
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        t = i / fps
        frame = np.full((h, w, 3), BG, np.uint8)
        if ground_shift_px:
            band = np.roll(texture, -ground_shift_px * i, axis=1)[:, :w]
            frame[h - 24 :] = band[..., None]
        cx = (w / 2 if x0 is None else x0) + vx_px_s * t
        cy = h / 2 - 10 + amp_px * np.sin(2 * np.pi * f_hz * t)
        draw_ellipse(frame, cx, cy, a, b)
        out[i] = frame
    return out
