"""Side-view footfalls: flight and leg groups of drawn silhouettes with known timing, and the bundled horse."""

from __future__ import annotations

import numpy as np
import pytest

from lm_reward_learning.video.footfalls import side_view_footfalls

H, W, PERIOD = 120, 200, 20  # frame size, px; stride period, frames


def _silhouettes(fore_down, hind_down, *, frames: int = 120, ground_band: bool = True) -> np.ndarray:
    """A dark animal on a light background facing right: trunk, a raised head, a fore and a hind leg
    group that reach the ground line (row 100) when down and stop 12 px above it when up."""
    out = np.full((frames, H, W), 220, np.uint8)
    for t in range(frames):
        f = out[t]
        f[50:70, 60:140] = 30  # trunk
        f[35:55, 135:155] = 30  # head, above the trunk on the right: facing right
        f[55:62, 40:60] = 30  # tail, at trunk height on the left
        phase = (t % PERIOD) / PERIOD
        for (x0, x1), down in (((120, 130), fore_down(phase)), ((70, 80), hind_down(phase))):
            f[70 : (100 if down else 88), x0:x1] = 30
        if ground_band:
            f[100:, :] = 40  # the track
    return out


def _window(start: float, stop: float):
    return lambda p: start <= p < stop


def test_an_asymmetric_gait_with_a_flight_phase() -> None:
    # hind group down 0-0.35, fore group down 0.3-0.65, all up 0.65-1: flight 35 %
    ff = side_view_footfalls(_silhouettes(_window(0.3, 0.65), _window(0.0, 0.35)), PERIOD)
    assert ff.ground_line == "band" and ff.facing == "right"
    assert ff.flight_fraction == pytest.approx(0.35, abs=0.03)
    assert ff.fore_duty == pytest.approx(0.35, abs=0.03) and ff.hind_duty == pytest.approx(0.35, abs=0.03)
    assert ff.fore_lag == pytest.approx(0.3, abs=0.06)
    assert ff.gait_hint == "asymmetric" and ff.confidence > 0.8


def test_a_symmetric_gait_keeps_a_foot_of_each_girdle_down() -> None:
    always = lambda p: True  # noqa: E731 (one foot of the group is always down, as in a trot)
    ff = side_view_footfalls(_silhouettes(always, always, ground_band=False), PERIOD)
    assert ff.ground_line == "lowest points"
    assert ff.flight_fraction == 0.0 and ff.gait_hint == "symmetric"


def test_no_subject_is_no_hint() -> None:
    ff = side_view_footfalls(np.full((40, H, W), 200, np.uint8), PERIOD)
    assert ff.gait_hint is None and ff.confidence == 0.0


def test_the_bundled_horse_gallops_with_a_flight_phase() -> None:
    """Muybridge's horse (1878): the side view shows an asymmetrical gait with about a fifth of the stride
    in the air (the famous suspension), at the bundled speed correction."""
    from lm_reward_learning.bilevel.config import BUNDLED_SPEED
    from lm_reward_learning.video.bundled import bundled_expert_video
    from lm_reward_learning.video.io import load_video
    from lm_reward_learning.video.motion import analyse_expert_video

    motion = analyse_expert_video(load_video(bundled_expert_video(), speed=BUNDLED_SPEED))
    ff = motion.footfalls
    assert ff["gait_hint"] == "asymmetric" and ff["confidence"] > 0.8
    assert 0.1 < ff["flight_fraction"] < 0.35
