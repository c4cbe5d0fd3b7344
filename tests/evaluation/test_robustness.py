"""lmrl robustness: the battery's metrics (arithmetic checked by hand), its rollouts, files and bad input."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from lm_reward_learning.cli import main
from lm_reward_learning.config import load_train_config
from lm_reward_learning.evaluation.battery import (
    SETTLE_S,
    Condition,
    EpisodeArrays,
    battery,
    command_sequence,
    metrics,
)
from lm_reward_learning.evaluation.robustness import robustness, robustness_html, run_mujoco, select_conditions
from lm_reward_learning.evaluation.targets import EvaluationError
from lm_reward_learning.robots import get_robot

RANGES = {"lin_vel_x": (0.5, 1.0), "lin_vel_y": (0.0, 0.0), "ang_vel_z": (-0.2, 0.4)}


def _arrays(steps: int = 10, episodes: int = 2, dt: float = 0.5) -> EpisodeArrays:
    return EpisodeArrays(
        dt=dt,
        alive=np.ones((steps, episodes), dtype=bool),
        vel_b=np.zeros((steps, episodes, 2)),
        command=np.zeros((steps, episodes, 3)),
        power_w=np.zeros((steps, episodes)),
        base_xy=np.zeros((steps, episodes, 2)),
        foot_vel_xy=np.zeros((steps, episodes, 4, 2)),
        foot_contact=np.zeros((steps, episodes, 4), dtype=bool),
        mass_kg=np.full(episodes, 10.0),
    )


def test_metrics_arithmetic() -> None:
    a = _arrays()  # 10 steps of 0.5 s: step k ends at t = 0.5 (k + 1)
    a.command[..., 0] = 1.0
    a.vel_b[..., 0] = 0.8  # error 0.2 m/s everywhere ...
    a.vel_b[:2, :, 0] = 0.0  # ... but 1.0 m/s in the first second (t = 0.5, 1.0), the settling window
    a.alive[6:, 1] = False  # episode 1 falls at t = 3.5 s
    a.base_xy[:, 0, 0] = np.linspace(0.0, 4.0, 10)  # episode 0 walks 4 m ...
    a.power_w[:, 0] = 98.1  # ... with 98.1 W for 5 s = 490.5 J
    a.foot_contact[:, 0, 0] = True
    a.foot_vel_xy[:, 0, 0] = [0.3, 0.4]  # a planted foot sliding at 0.5 m/s
    m = metrics(a, changes_s=[0.0])
    assert m["success_rate"] == 0.5
    # settled, alive steps: t = 1.5 .. 5.0 for episode 0 (8), 1.5 .. 3.0 for episode 1 (4): all 0.2 m/s
    assert m["vel_rms_mps"] == pytest.approx(0.2)
    # all alive steps: 10 + 6 = 16, of which 4 at 1.0 m/s and 12 at 0.2 m/s
    assert m["vel_rms_all_mps"] == pytest.approx(math.sqrt((4 * 1.0 + 12 * 0.04) / 16))
    # CoT of the surviving episode: 490.5 J / (10 kg * 9.81 m/s^2 * 4 m) = 1.25
    assert m["cost_of_transport"] == pytest.approx(1.25)
    assert m["foot_slip_mps"] == pytest.approx(0.5)
    assert SETTLE_S == 1.0


def test_command_sequence_spans_the_trained_range() -> None:
    seq = command_sequence(RANGES)
    assert [t for t, _ in seq] == [0.0, 4.0, 8.0]
    assert [c[0] for _, c in seq] == [0.5, 1.0, 0.75]
    assert all(c[1:] == (0.0, 0.1) for _, c in seq)  # middles of the lateral and yaw ranges


def test_battery_has_the_issues_conditions() -> None:
    names = [c.name for c in battery(cross_engine="isaaclab")]
    assert len(names) == len(set(names))
    for need in ("nominal", "low_friction", "high_friction", "payload_plus_3kg", "weak_motors", "strong_motors",
                 "push_forward", "push_lateral", "latency_10ms", "latency_20ms", "sensor_noise_x2",
                 "joint_offsets", "rough_terrain", "cross_engine"):  # fmt: skip
        assert need in names
    with pytest.raises(EvaluationError, match="unknown robustness condition"):
        select_conditions(["nominal", "moon_gravity"])


def _run(policy, cond: Condition, episodes: int = 3):
    spec = get_robot("go2")
    env_cfg = load_train_config("go2").env
    seq = command_sequence(RANGES)
    return run_mujoco(policy, spec, env_cfg, lambda env: None, cond, episodes, 3.0, 0, seq)


def test_a_standing_policy_survives_and_misses_the_command() -> None:
    cond = battery()[0]
    m = metrics(_run(lambda obs: torch.zeros(obs["policy"].shape[0], 12), cond), [0.0])
    assert m["success_rate"] == 1.0
    assert abs(m["mean_speed_mps"]) < 0.1
    assert m["vel_rms_mps"] == pytest.approx(0.5, abs=0.1)  # it stands while asked for 0.5 m/s


def test_a_flailing_policy_falls() -> None:
    gen = torch.Generator().manual_seed(0)
    m = metrics(_run(lambda obs: 8.0 * torch.randn(obs["policy"].shape[0], 12, generator=gen), battery()[0]), [0.0])
    assert m["success_rate"] < 0.5


@pytest.fixture(scope="module")
def exported_tiny(tiny_run, tmp_path_factory):
    from lm_reward_learning.export import export_run

    return export_run(tiny_run, tmp_path_factory.mktemp("pol"), name="tiny").onnx_path.parent


def test_cli_writes_table_json_and_chart_and_is_reproducible(exported_tiny, tmp_path, capsys) -> None:
    args = ["robustness", str(exported_tiny), "--conditions", "nominal,push_lateral", "--episodes", "2"]
    assert main([*args, "--out", str(tmp_path / "a"), "--json", str(tmp_path / "copy.json")]) == 0
    out = capsys.readouterr().out
    assert "| push_lateral (+1.0 m/s sideways at 6 s) |" in out
    report = json.loads((tmp_path / "a" / "robustness.json").read_text())
    assert [c["name"] for c in report["conditions"]] == ["nominal", "push_lateral"]
    res = report["policies"][0]["results"]["nominal"]
    assert res["episodes"] == 2 and 0.0 <= res["success_rate"] <= 1.0
    assert (tmp_path / "a" / "robustness.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "copy.json").read_text()) == report
    again = robustness([exported_tiny], conditions=["nominal", "push_lateral"], episodes=2, out_dir=tmp_path / "b")
    assert again.report["policies"][0]["results"] == report["policies"][0]["results"]
    section = robustness_html(tmp_path / "a")  # what the learn report embeds
    assert "<h2>Robustness</h2>" in section and "push_lateral" in section and "data:image/png;base64" in section
    assert robustness_html(tmp_path / "nothing") == ""


def test_two_policies_side_by_side(exported_tiny, tiny_run, tmp_path) -> None:
    res = robustness([exported_tiny, tiny_run.path], conditions=["nominal"], episodes=2, out_dir=tmp_path)
    assert [p["kind"] for p in res.report["policies"]] == ["exported policy", "training run"]
    # the export and its run are the same network: the same numbers
    a, b = (p["results"]["nominal"] for p in res.report["policies"])
    assert a["success_rate"] == b["success_rate"]
    assert a["vel_rms_mps"] == pytest.approx(b["vel_rms_mps"], abs=1e-3)


@pytest.mark.parametrize(
    "args, message",
    [
        (["no/such/run"], "is neither a training run"),
        (["{go2}", "--conditions", "nominal,moon_gravity"], "unknown robustness condition"),
        (["{go2}", "{g1}"], "different robots"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(args, message, exported_tiny, tmp_path, capsys) -> None:
    g1 = tmp_path / "g1"
    shutil.copytree("policies/g1/stand", g1)
    args = [a.format(go2=exported_tiny, g1=g1) for a in args]
    out = tmp_path / "out"
    assert main(["robustness", *args, "--out", str(out), "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1  # one paragraph
    assert not out.exists() and not (exported_tiny / "robustness").exists()
