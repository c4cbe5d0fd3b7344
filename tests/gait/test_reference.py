"""DeepMimic reference clips: forward kinematics, frames, contacts and the gaits they show."""

from __future__ import annotations

import numpy as np
import pytest

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.gait import (
    REFERENCE_NAMES,
    UnknownReferenceError,
    load_reference,
    reference_features,
    reference_gait,
)
from lm_reward_learning.gait.reference import (
    DEEPMIMIC_DIR,
    REFERENCES,
    ReferenceMotionError,
    forward_kinematics,
    load_motion,
    load_skeleton,
)

# One stride per clip loop: stride frequency = 1 / ((frames - 1) * frame duration).
#   dog trot   32 frames at 1/60 s: 1 / (31 / 60)        = 1.9355 Hz
#   dog pace   39 frames at 1/60 s: 1 / (38 / 60)        = 1.5789 Hz
#   dog canter 28 frames at 1/60 s: 1 / (27 / 60)        = 2.2222 Hz
#   human walk 39 frames at 0.033332 s: 1 / (38 * 0.033332)  = 0.7895 Hz
#   human run  25 frames at 0.033332 s: 1 / (24 * 0.033332)  = 1.2500 Hz
#   human jump 107 frames at 0.016666 s: 1 / (106 * 0.016666) = 0.5661 Hz
#   footfall bound and pronk: the dog canter's timing, 2.2222 Hz
EXPECTED = {
    "dog_trot": ("trot", 1.9355),
    "dog_pace": ("pace", 1.5789),
    "dog_canter": ("canter/gallop", 2.2222),
    "human_walk": ("walk", 0.7895),
    "human_run": ("run", 1.2500),
    "human_jump": ("hop", 0.5661),
    "hildebrand_bound": ("bound", 2.2222),
    "hildebrand_pronk": ("pronk", 2.2222),
}


def test_all_references_are_listed() -> None:
    assert set(REFERENCE_NAMES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference_gait_class_and_frequency(name: str) -> None:
    gait, freq = EXPECTED[name]
    feats = reference_features(name)
    assert feats.gait == gait == reference_gait(name)
    assert feats.stride_frequency_hz == pytest.approx(freq, rel=1e-3)
    assert feats.num_strides >= 3


def test_dog_trot_diagonals_in_phase() -> None:
    _, fr, rl, rr = reference_features("dog_trot").phase_offsets
    assert abs(rr - 0.0) < 0.1 and abs(fr - 0.5) < 0.1 and abs(rl - 0.5) < 0.1


def test_dog_canter_has_flight_and_human_run_more_than_walk() -> None:
    assert reference_features("dog_canter").flight_fraction > 0.05
    assert reference_features("human_walk").flight_fraction == 0.0
    assert min(reference_features("human_walk").duty_factor) > 0.5
    assert max(reference_features("human_run").duty_factor) < 0.5


def test_reference_trajectory_frames_and_sizes() -> None:
    traj = load_reference("dog_trot", loops=4)
    assert traj.num_steps == 4 * 31  # the last frame of each loop repeats the first
    assert traj.foot_names == ("FL", "FR", "RL", "RR")
    # z up: the base is ~0.6 m above the floor; left feet are at +y (left), right feet at -y
    assert 0.5 < traj.base_pos_w[:, 2].mean() < 0.7
    assert traj.foot_pos_w[:, 0, 1].mean() > 0 > traj.foot_pos_w[:, 1, 1].mean()
    # the dog runs along +x at about 2.4 m/s (1.2403 m per 31/60 s loop)
    assert reference_features("dog_trot").forward_speed_mps == pytest.approx(1.2403 / (31 / 60), rel=0.01)
    assert 0.45 < traj.leg_length < 0.55  # hip height
    assert traj.mass_kg == pytest.approx(29.25)  # sum of the dog's body masses


def test_forward_kinematics_rest_pose() -> None:
    skel = load_skeleton(DEEPMIMIC_DIR / "dog3d.txt")
    frame = np.zeros((1, skel.num_dof))
    frame[0, 1:4] = (0.0, 0.6, 0.0)  # root position (y up)
    col = 4
    for joint_type in ("none", *skel.types[1:]):  # identity rotations
        if joint_type in ("none", "spherical"):
            frame[0, col] = 1.0
            col += 4
        elif joint_type == "revolute":
            col += 1
    pos, _ = forward_kinematics(skel, frame)
    # left_toe = root + left_upper_leg (-0.074803, -0.095825, -0.05986) + left_leg (0, -0.2, 0)
    #            + left_foot (0, -0.225, 0) + left_toe (0, -0.135, 0)
    #          = (-0.074803, 0.6 - 0.655825, -0.05986) = (-0.074803, -0.055825, -0.05986)
    np.testing.assert_allclose(pos[0, skel.index("left_toe")], (-0.074803, -0.055825, -0.05986), atol=1e-9)


def test_revolute_joints_turn_about_local_z() -> None:
    skel = load_skeleton(DEEPMIMIC_DIR / "humanoid3d.txt")
    _, frames = load_motion(DEEPMIMIC_DIR / "humanoid3d_walk.txt", skel)
    frame = frames[:1].copy()
    frame[0, 4:8] = (1.0, 0.0, 0.0, 0.0)
    frame[0, 8:] = 0.0
    col = 8
    for joint_type in skel.types[1:]:
        if joint_type == "spherical":
            frame[0, col] = 1.0
        col += {"spherical": 4, "revolute": 1, "fixed": 0}[joint_type]
    knee_col = 8 + sum({"spherical": 4, "revolute": 1, "fixed": 0}[t] for t in skel.types[1:4])
    assert skel.types[4] == "revolute"  # right_knee
    frame[0, knee_col] = np.pi / 2
    pos, _ = forward_kinematics(skel, frame)
    # shin offset (0, -0.40987, 0) turned +90° about z points along +x: ankle ahead of the knee
    np.testing.assert_allclose(
        pos[0, skel.index("right_ankle")] - pos[0, skel.index("right_knee")], (0.40987, 0.0, 0.0), atol=1e-9
    )


def test_unknown_reference_lists_names() -> None:
    with pytest.raises(UnknownReferenceError, match="dog_trot, dog_pace") as info:
        load_reference("horse_gallop")
    assert isinstance(info.value, LmrlError) and isinstance(info.value, KeyError)
    assert str(info.value).startswith("unknown reference motion 'horse_gallop'")


def test_bad_files_raise(tmp_path) -> None:
    (tmp_path / "broken.txt").write_text("{not json")
    with pytest.raises(ReferenceMotionError, match="not valid JSON"):
        load_skeleton(tmp_path / "broken.txt")
    with pytest.raises(ReferenceMotionError, match="not found"):
        load_skeleton(tmp_path / "missing.txt")
    skel = load_skeleton(DEEPMIMIC_DIR / "dog3d.txt")
    (tmp_path / "short.txt").write_text('{"Loop": "wrap", "Frames": [[0.1, 0, 0]]}')
    with pytest.raises(ReferenceMotionError, match="expected at least 3 frames of 84 numbers"):
        load_motion(tmp_path / "short.txt", skel)


def test_reference_data_ships_with_licence() -> None:
    for name in ("LICENSE", "PROVENANCE.md"):
        assert (DEEPMIMIC_DIR / name).is_file()
    assert "MIT License" in (DEEPMIMIC_DIR / "LICENSE").read_text()


@pytest.mark.parametrize(("height", "speed_fraction"), [(0.03, 0.4), (0.03, 1.0), (0.025, 0.7), (0.05, 0.7)])
def test_gait_classes_are_stable_around_the_contact_thresholds(height: float, speed_fraction: float) -> None:
    from lm_reward_learning.gait import compute_features
    from lm_reward_learning.gait.reference import load_deepmimic

    for name, (gait, _) in EXPECTED.items():
        if name not in REFERENCES:  # footfall references have no motion capture to threshold
            continue
        traj = load_deepmimic(REFERENCES[name], contact_height_m=height, contact_speed_fraction=speed_fraction)
        assert compute_features(traj).gait == gait, name
