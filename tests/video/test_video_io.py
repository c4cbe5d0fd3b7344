"""Reading and writing videos: formats, folders of frames, trim, speed, resampling, bad input.

Most clips are "counter" clips: frame ``i`` is a flat grey of level ``20 + 20·i`` (10 frames: 20..200),
so a decoded frame's mean grey says which source frame it is (codec error is a few levels).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from lm_reward_learning.errors import LmrlError
from lm_reward_learning.video import (
    EmptyVideoError,
    NoVideoStreamError,
    TrimWindowError,
    UnsupportedVideoError,
    VideoArgumentError,
    VideoClip,
    VideoError,
    VideoNotFoundError,
    VideoReadError,
    VideoTooLargeError,
    load_video,
    write_video,
)


def counter_frames(n: int = 10, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    w, h = size
    return np.stack([np.full((h, w, 3), 20 + 20 * i, np.uint8) for i in range(n)])


def source_index(frames: np.ndarray) -> np.ndarray:
    """Which counter frame each decoded frame shows (nearest grey level)."""
    return np.round((frames.reshape(len(frames), -1).mean(axis=1) - 20) / 20).astype(int)


def write_avi(path: Path, frames: np.ndarray, fps: int) -> Path:
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"qscale": "2"}
        for f in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(s.encode(None))
    return path


def write_gif(path: Path, frames: np.ndarray, fps: int) -> Path:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return path


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("aac", rate=44100)
        for k in range(5):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, k * 1024
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    return path


# --- formats -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".mp4", ".webm", ".mov", ".mkv", ".avi", ".gif"])
def test_reads_common_formats(tmp_path: Path, ext: str) -> None:
    frames = counter_frames()
    path = tmp_path / f"counter{ext}"
    if ext == ".avi":
        write_avi(path, frames, 10)
    elif ext == ".gif":
        write_gif(path, frames, 10)
    else:
        write_video(path, frames, 10)
    clip = load_video(path)
    assert clip.num_frames == 10 and clip.fps == pytest.approx(10.0)
    assert (clip.height, clip.width) == (48, 64)
    assert source_index(clip.frames).tolist() == list(range(10))
    assert clip.source == path and clip.original_size == (64, 48) and clip.speed == 1.0
    assert clip.duration_s == pytest.approx(1.0)
    assert not clip.frames.flags.writeable


def test_folder_of_frames_in_natural_order(tmp_path: Path) -> None:
    frames = counter_frames(12)
    for i, f in enumerate(frames):  # f2.png must come before f10.png
        cv2.imwrite(str(tmp_path / f"f{i}.png"), f[..., ::-1])
    (tmp_path / "notes.txt").write_text("not a frame")
    clip = load_video(tmp_path, fps=12)
    assert source_index(clip.frames).tolist() == list(range(12))
    assert clip.fps == 12 and clip.duration_s == pytest.approx(1.0)
    # Trim on the folder's timeline: frames at 0.5 s .. < 0.75 s are 6, 7, 8.
    assert source_index(load_video(tmp_path, fps=12, start_s=0.5, end_s=0.75).frames).tolist() == [6, 7, 8]
    with pytest.raises(VideoArgumentError, match="pass fps"):
        load_video(tmp_path)


def test_write_video_is_atomic_and_pads_odd_sizes(tmp_path: Path) -> None:
    out = write_video(tmp_path / "sub" / "odd.mp4", counter_frames(4, size=(33, 21)), 25)
    assert [p.name for p in out.parent.iterdir()] == ["odd.mp4"]  # no temporary file left
    clip = load_video(out)
    assert (clip.width, clip.height) == (34, 22) and clip.num_frames == 4
    assert write_video(tmp_path / "again.mp4", clip.frames, clip.fps).is_file()  # read-only frames are fine
    with pytest.raises(UnsupportedVideoError, match=r"\.gif"):
        write_video(tmp_path / "x.gif", counter_frames(2), 10)
    with pytest.raises(VideoArgumentError, match="uint8 RGB"):
        write_video(tmp_path / "x.mp4", np.zeros((2, 8, 8), np.uint8), 10)
    assert not (tmp_path / "x.mp4").exists()


# --- trim, speed, resampling, downscale ----------------------------------------------------------


@pytest.fixture(scope="module")
def counter_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 20 frames at 10 fps: frame i at i/10 s; the file runs 0 .. 2.0 s.
    return write_video(tmp_path_factory.mktemp("counter") / "counter.mp4", counter_frames(10).repeat(2, axis=0), 10)


def test_trim_is_on_the_file_timeline(counter_mp4: Path) -> None:
    # Frames at 0.5, 0.6, ..., 1.1 s (file frames 5..11) show counter frames 2, 3, 3, 4, 4, 5, 5.
    clip = load_video(counter_mp4, start_s=0.5, end_s=1.2)
    assert clip.num_frames == 7
    assert clip.start_s == pytest.approx(0.5) and clip.end_s == pytest.approx(1.2)
    assert source_index(clip.frames).tolist() == [2, 3, 3, 4, 4, 5, 5]
    # The same window with a speed factor of 2 (2x slow motion): 0.7 s of file = 0.35 s real time.
    slow = load_video(counter_mp4, start_s=0.5, end_s=1.2, speed=2.0)
    assert slow.fps == pytest.approx(20.0) and slow.duration_s == pytest.approx(0.35)
    assert slow.start_s == pytest.approx(0.5)  # trim points stay on the file's timeline


def test_resampling_to_target_fps(counter_mp4: Path) -> None:
    # 10 fps -> 5 fps: every second file frame (0, 2, 4, ...): counter 0, 1, 2, ..., 9.
    down = load_video(counter_mp4, target_fps=5.0)
    assert down.fps == 5.0 and down.num_frames == 10
    assert source_index(down.frames).tolist() == list(range(10))
    # 10 fps -> 20 fps: each file frame twice (file frames 0..3 show counter 0, 0, 1, 1).
    up = load_video(counter_mp4, target_fps=20.0, end_s=0.4)
    assert source_index(up.frames).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    # target_fps is real time: with speed 2 the file is read at 20 / 2 = 10 fps, i.e. every frame.
    real = load_video(counter_mp4, speed=2.0, target_fps=20.0)
    assert real.num_frames == 20 and real.fps == 20.0
    # VideoClip.resampled: same rule on a decoded clip.
    assert source_index(real.resampled(10.0).frames).tolist() == list(range(10))


def test_downscale_keeps_aspect(tmp_path: Path) -> None:
    path = write_video(tmp_path / "big.mp4", counter_frames(3, size=(320, 180)), 10)
    clip = load_video(path, max_side=64)
    assert (clip.width, clip.height) == (64, 36) and clip.original_size == (320, 180)


# --- bad input -----------------------------------------------------------------------------------


def test_every_error_is_a_user_error() -> None:
    # The CLI turns LmrlError into a message and exit code 2.
    for cls in (VideoNotFoundError, VideoReadError, NoVideoStreamError, EmptyVideoError, TrimWindowError):
        assert issubclass(cls, VideoError) and issubclass(cls, LmrlError)


def test_missing_file_and_url(tmp_path: Path) -> None:
    with pytest.raises(VideoNotFoundError, match="no such file"):
        load_video(tmp_path / "nope.mp4")
    with pytest.raises(UnsupportedVideoError, match="download the video first"):
        load_video("https://example.com/horse.mp4")


def test_corrupt_and_truncated_files(tmp_path: Path, counter_mp4: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoReadError, match="truncated or corrupt"):
        load_video(garbage)
    truncated = tmp_path / "truncated.mp4"  # an mp4 cut in half loses its index (moov atom at the end)
    truncated.write_bytes(counter_mp4.read_bytes()[: counter_mp4.stat().st_size // 2])
    with pytest.raises(VideoReadError):
        load_video(truncated)


def test_unsupported_inputs(tmp_path: Path) -> None:
    odd = tmp_path / "data.xyz"
    odd.write_bytes(b"\x00\x01" * 500)
    with pytest.raises(UnsupportedVideoError, match=r"cannot read '\.xyz'"):
        load_video(odd)
    image = tmp_path / "still.png"
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(UnsupportedVideoError, match="single image"):
        load_video(image)


def test_text_file_is_not_a_video(tmp_path: Path) -> None:
    # ffmpeg's tty demuxer would "decode" a .txt into frames of rendered characters.
    notes = tmp_path / "notes.txt"
    notes.write_text("a horse gallops across the field\n" * 50)
    with pytest.raises(UnsupportedVideoError, match=r"notes\.txt is a text file, not a video"):
        load_video(notes)


def test_mp4_cut_before_its_index_is_truncated_not_streamless(tmp_path: Path) -> None:
    full = write_video(tmp_path / "full.mp4", np.full((20, 48, 64, 3), 128, np.uint8), 10.0)  # index at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(VideoReadError, match="no streams at all: it is truncated or corrupt"):
        load_video(cut)


def test_audio_only_file(tmp_path: Path) -> None:
    with pytest.raises(NoVideoStreamError, match=r"no video stream \(it holds: audio\)"):
        load_video(write_audio_only(tmp_path / "sound.m4a"))


def test_empty_inputs(tmp_path: Path) -> None:
    (tmp_path / "zero.mp4").touch()
    with pytest.raises(EmptyVideoError, match="0 bytes"):
        load_video(tmp_path / "zero.mp4")
    (tmp_path / "frames").mkdir()
    with pytest.raises(EmptyVideoError, match="holds no frames"):
        load_video(tmp_path / "frames", fps=10)


def test_trim_window_errors(counter_mp4: Path) -> None:
    with pytest.raises(TrimWindowError, match=r"holds no frames; the video runs from 0 to about 1\.90 s"):
        load_video(counter_mp4, start_s=5.0)
    with pytest.raises(TrimWindowError, match="empty"):
        load_video(counter_mp4, start_s=1.0, end_s=0.5)
    with pytest.raises(TrimWindowError, match="≥ 0"):
        load_video(counter_mp4, start_s=-1.0)


def test_bad_arguments_and_memory_budget(counter_mp4: Path) -> None:
    with pytest.raises(VideoArgumentError, match="speed"):
        load_video(counter_mp4, speed=0.0)
    with pytest.raises(VideoArgumentError, match="max_side"):
        load_video(counter_mp4, max_side=2)
    with pytest.raises(VideoTooLargeError, match="max_side"):
        load_video(counter_mp4, max_bytes=20_000)  # one 64x48 frame is 9216 bytes
    with pytest.raises(VideoArgumentError, match="uint8 RGB"):
        VideoClip(np.zeros((2, 4, 4, 3), np.float32), fps=10)


def test_variable_frame_rate_is_resampled_to_constant(tmp_path: Path) -> None:
    # Frames at 0, 0.1, 0.3, 0.4 s (one missing): at 10 fps the gap shows frame 1 twice (sample-and-hold).
    path = tmp_path / "vfr.mkv"
    frames = counter_frames(4)
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.time_base = Fraction(1, 10)
        for pts, f in zip((0, 1, 3, 4), frames, strict=True):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts, vf.time_base = pts, Fraction(1, 10)
            c.mux(s.encode(vf))
        c.mux(s.encode(None))
    clip = load_video(path, fps=None, target_fps=10.0)
    assert source_index(clip.frames).tolist() == [0, 1, 1, 2, 3]
