"""The lmrl command line: bad input gives one paragraph, exit code 2, and loses nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lm_reward_learning.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_unknown_robot(capsys, tmp_path) -> None:
    code, out = run_cli(capsys, "train", "--robot", "spot", "--runs-dir", str(tmp_path))
    assert code == 2
    assert "unknown robot 'spot'" in out and "go2" in out
    assert not any(tmp_path.iterdir())  # nothing written


def test_missing_reward_file(capsys, tmp_path) -> None:
    code, out = run_cli(capsys, "train", "--reward", str(tmp_path / "nope.py"), "--runs-dir", str(tmp_path / "r"))
    assert code == 2 and "nope.py" in out
    assert not (tmp_path / "r").exists()


def test_reward_that_fails_validation(capsys, tmp_path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def compute_reward(state):\n    return eval('1'), {}\n")
    code, out = run_cli(capsys, "validate", str(bad))
    assert code == 2
    assert "line 2" in out and "eval" in out


def test_validate_checks_the_source_before_the_simulator_starts(capsys, tmp_path, monkeypatch) -> None:
    import lm_reward_learning.training.trainer as trainer

    def no_simulator(*args, **kwargs):
        raise AssertionError("states were recorded for a program the static checks reject")

    monkeypatch.setattr(trainer, "record_state_batch", no_simulator)
    bad = tmp_path / "bad.py"
    bad.write_text("def compute_reward(state)\n    return 0\n")
    code, out = run_cli(capsys, "validate", str(bad))
    assert code == 2 and "line 1: syntax error" in out


def test_validate_prints_the_active_sandbox_layers(capsys, tmp_path) -> None:
    from lm_reward_learning import isolation

    good = tmp_path / "good.py"
    good.write_text(
        "def compute_reward(state):\n"
        "    r = -torch.square(state.base_lin_vel_b[:, 2])\n"
        "    return r, {'lin_vel_z_l2': r}\n"
    )
    code, out = run_cli(capsys, "validate", str(good))
    assert code == 0, out
    line = next(x for x in out.splitlines() if x.startswith("sandbox: "))
    for name, why in isolation.available_layers().items():
        assert (name in line.split("; MISSING")[0]) == (why is None), line


def test_directory_that_is_not_a_run(capsys, tmp_path) -> None:
    for cmd in ("play", "export"):
        code, out = run_cli(capsys, cmd, "--run", str(tmp_path))
        assert code == 2 and "not a run directory" in out


def test_corrupted_checkpoint(capsys, tiny_run, tmp_path) -> None:
    copy = shutil.copytree(tiny_run.path, tmp_path / "copy")
    for f in (copy / "checkpoints").glob("*.pt"):
        f.write_bytes(b"not a checkpoint")
    code, out = run_cli(capsys, "export", "--run", str(copy), "--out", str(tmp_path / "p"))
    assert code == 2 and "cannot be loaded" in out
    assert not (tmp_path / "p").exists()


def test_missing_warm_start_checkpoint(capsys, tmp_path) -> None:
    code, out = run_cli(capsys, "train", "--warm-start", str(tmp_path / "no.pt"), "--runs-dir", str(tmp_path / "r"))
    assert code == 2 and "no.pt is not a file" in out
    assert not (tmp_path / "r").exists()


def test_randomization_out_of_physical_bounds(capsys, tmp_path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("randomization:\n  action_latency:\n    latency_range_s: [0.0, 0.5]\n")
    code, out = run_cli(capsys, "train", "--config", str(cfg), "--runs-dir", str(tmp_path / "r"))
    assert code == 2 and "latency_range_s = [0.0, 0.5] is outside the physical bounds [0.0, 0.1]" in out
    assert out.count("\n") == 1 and not (tmp_path / "r").exists()


def test_unknown_config_key(capsys, tmp_path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("iterations: 2\nenv:\n  num_env: 4\n")
    code, out = run_cli(capsys, "train", "--config", str(cfg), "--runs-dir", str(tmp_path / "r"))
    assert code == 2 and "num_env" in out and "num_envs" in out


def test_play_writes_video_and_measures(capsys, tiny_run, tmp_path) -> None:
    import imageio.v3 as iio
    import numpy as np

    out = tmp_path / "v.mp4"
    code, text = run_cli(capsys, "play", "--run", str(tiny_run.path), "--duration", "1", "--out", str(out))
    assert code == 0 and "mean forward speed" in text
    frames = iio.imread(out)
    assert frames.shape == (50, 240, 320, 3)  # 1 s at 50 Hz
    assert frames.std() > 5  # an image, not a blank frame
    with np.load(tiny_run.videos / "rollout_side.npz") as d:
        assert d["base_pos_w"].shape == (50, 3) and d["foot_contact"].shape == (50, 4)


@pytest.mark.parametrize("robot", ["go2", "g1"])
def test_config_files_load(robot) -> None:
    from lm_reward_learning.config import load_train_config

    cfg = load_train_config(robot)
    assert cfg.env.num_envs >= 64 and cfg.iterations > 0


def test_isaaclab_backend_without_its_venv_fails_before_writing(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LMRL_ISAACLAB_VENV", str(tmp_path / "no-venv"))
    monkeypatch.delenv("LMRL_ISAACLAB_PYTHON", raising=False)
    code, out = run_cli(capsys, "train", "--backend", "isaaclab", "--runs-dir", str(tmp_path / "r"))
    assert code == 2 and "setup_isaaclab.sh" in out
    assert not (tmp_path / "r").exists()


def test_learn_parallel_choices_are_checked(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["learn", "--parallel", "cluster9000"])
    assert "invalid choice" in capsys.readouterr().err


def _bad_video(kind: str, tmp_path) -> list[str]:
    """``lmrl learn`` arguments naming a bad expert video of the given kind."""
    import numpy as np

    from lm_reward_learning.video import write_video

    if kind == "trim_empty":
        return ["--start", "5", "--end", "5"]  # the bundled clip
    if kind == "trim_past_the_end":
        return ["--start", "500"]  # the bundled clip is 6 s long
    path = tmp_path / {"empty": "zero.mp4", "truncated": "cut.mp4", "text": "notes.txt", "text_as_mp4": "fake.mp4",
                       "image": "still.png"}[kind]  # fmt: skip
    if kind == "empty":
        path.touch()
    elif kind == "truncated":  # an mp4 cut in half loses its index (the moov atom is at the end)
        full = write_video(tmp_path / "full.mp4", np.full((20, 48, 64, 3), 128, np.uint8), 10.0)
        path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    elif kind in ("text", "text_as_mp4"):
        path.write_text("a horse gallops across the field\n" * 50)
    else:
        import cv2

        cv2.imwrite(str(path), np.zeros((48, 64, 3), np.uint8))
    return ["--video", str(path)]


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("empty", "is empty (0 bytes)"),
        ("truncated", "truncated or corrupt"),
        ("text", "notes.txt is a text file, not a video"),
        ("text_as_mp4", "truncated or corrupt"),
        ("image", "is a single image, not a video"),
        ("trim_empty", "--end (video_end_s) 5.0 s must be later than --start (video_start_s) 5.0 s"),
        ("trim_past_the_end", "holds no frames"),
    ],
)
def test_learn_with_a_bad_video_fails_before_the_run_directory_is_made(capsys, tmp_path, kind, says) -> None:
    runs = tmp_path / "runs"
    code, out = run_cli(capsys, "learn", *_bad_video(kind, tmp_path), "--runs-dir", str(runs), "--no-progress")
    assert code == 2, out
    assert says in out
    assert not runs.exists()  # nothing to resume: no partial run directory
    assert "--resume" not in out


@pytest.mark.parametrize("speed", ["0", "-2", "nan"])
def test_learn_video_speed_error_names_the_flag(capsys, tmp_path, speed) -> None:
    code, out = run_cli(capsys, "learn", "--video-speed", speed, "--runs-dir", str(tmp_path / "r"))
    assert code == 2
    assert f"--video-speed (video_speed) must be a positive number, got {float(speed)}" in out
    assert not (tmp_path / "r").exists()


def test_learn_with_an_unreachable_ray_cluster_exits_2_within_30_s_before_anything_runs(tmp_path) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    import lm_reward_learning

    pytest.importorskip("ray")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # "auto" resolves RAY_ADDRESS first: a dead head there is what makes plain ray.init retry for minutes.
    src = str(Path(lm_reward_learning.__file__).parents[1])
    env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{port}", "PYTHONPATH": src}
    runs = tmp_path / "runs"
    argv = ["learn", "--parallel", "ray", "--candidates", "2", "--ray-address", "auto", "--runs-dir", str(runs)]
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "lm_reward_learning.cli", *argv, "--no-progress"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert time.monotonic() - t0 < 30.0
    assert "cannot connect to the Ray cluster at --ray-address auto (nothing answered within" in done.stderr
    assert "Traceback" not in done.stderr
    assert not runs.exists()  # failed before the run directory, so before iteration 0 trained
