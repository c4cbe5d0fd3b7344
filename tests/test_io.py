"""Atomic writes leave files with the permissions a plain write gives them (mkstemp alone makes 0600)."""

from __future__ import annotations

import os
import stat

import pytest

from lm_reward_learning.io import atomic_write_bytes, atomic_write_text


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_0666_minus_the_umask(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "policy.onnx", b"\x00\x01")
        atomic_write_text(tmp_path / "sub" / "deploy.yaml", "robot: go2\n")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "policy.onnx") == expected
    assert _mode(tmp_path / "sub" / "deploy.yaml") == expected
    assert (tmp_path / "policy.onnx").read_bytes() == b"\x00\x01"
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "deploy.yaml"
    path.write_text("old\n")
    path.chmod(0o640)
    atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n" and _mode(path) == 0o640
