"""The lmrl command line: bad input gives one paragraph, exit code 2, and loses nothing."""

from __future__ import annotations

import shutil

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
