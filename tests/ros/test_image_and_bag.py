"""numpy ⇄ ``sensor_msgs/Image`` and rosbag2 MCAP writing/reading, with real ROS message classes."""

from __future__ import annotations

import pytest
from ros_harness import run_rosside

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def image_checks(ros_env, tmp_path_factory):
    return run_rosside(ros_env, tmp_path_factory.mktemp("image"), "image")


def test_numpy_conversion_fills_the_image_fields_as_cv_bridge_does(image_checks):
    # 6 rows x 5 columns of rgb8: step = 5 * 3 = 15 bytes, data = 6 * 15 = 90 bytes.
    assert image_checks["fields"] == [6, 5, "rgb8", False, 15, 90]
    assert image_checks["header"] == ["cam", 12, 34]
    assert image_checks["round_trip"] and image_checks["non_contiguous"]


def test_padded_rows_are_cut_on_reading(image_checks):
    # 2x2 rgb8 with step 8: each row holds 6 pixel bytes and 2 padding bytes (6, 7 and 14, 15).
    assert image_checks["padded"] == [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13]


def test_bad_frames_are_refused(image_checks):
    assert len(image_checks["errors"]) == 3
    assert all("expected a uint8 RGB frame" in e for e in image_checks["errors"])


def test_numpy_conversion_is_identical_to_cv_bridge(image_checks):
    if image_checks["cv_bridge_identical"] is None:
        pytest.skip("ROS 2 cv_bridge is not importable here (it has no PyPI wheel); a ROS installation has it")
    assert image_checks["cv_bridge_identical"] is True


def test_bag_round_trip_with_our_own_message_type(ros_env, tmp_path):
    out = run_rosside(ros_env, tmp_path, "bag", str(tmp_path / "bag"))

    assert out["counts"] == {"/rollout/image": 3, "/joint_states": 3, "/tf": 3, "/training/report": 1}
    assert out["summary"]["/training/report"] == ["lm_reward_learning_interfaces/msg/TrainingReport", 1]
    assert out["first_stamp_ns"] == 100 * 10**9 + 5
    assert out["image_shape"] == [4, 6, 3] and out["joint_names"] == ["a", "b", "c"]
    assert out["tf_frames"] == [["odom", "base"]]
    assert out["quat_xyzw"] == [0.0, 0.0, 0.0, 1.0]  # (w, x, y, z) = (1, 0, 0, 0) in, x, y, z, w out
    # Terms sorted by name; None (no finished episode) becomes NaN; gait features keep their units.
    assert out["report"]["terms"] == [["a", -1.0, -2.0, 0.0], ["b", 1.0, 0.0, 2.0]]
    assert out["report"]["return_is_nan"]
    assert out["report"]["gait"] == [["stride_frequency_hz", 2.0, "Hz"]]
    assert out["errors"] and "already exists" in out["errors"][0]
