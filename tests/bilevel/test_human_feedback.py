"""The "Human as VLM" backend: files, per-iteration folders, the terminal, and no terminal."""

from __future__ import annotations

import builtins
import io
import json
import sys
from pathlib import Path

import pytest
from bilevel_data import feedback_request

from lm_reward_learning.bilevel.human import HumanFeedback, HumanFeedbackError, reward_term_names
from lm_reward_learning.bilevel.protocols import FeedbackBackend

YAML = """\
problems:
  - the robot trots; the horse gallops
rewrite:
  - {name: lin_vel_z_l2, instruction: penalise less, params: {weight: -0.5}}
remove: [ang_vel_xy_l2]
add:
  - "gait_frequency_exp: match the stride | target_hz=2.1, weight=0.5"
text: gallop
"""


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_single_file_is_used_for_every_iteration(tmp_path: Path) -> None:
    path = tmp_path / "feedback.yaml"
    path.write_text(YAML)
    backend = HumanFeedback(path)
    assert isinstance(backend, FeedbackBackend)
    for iteration in (1, 2):
        request = feedback_request(tmp_path)
        fb = backend.feedback(request.__class__(**{**vars(request), "iteration": iteration}))
        assert fb.backend == "human"
        assert fb.problems == ("the robot trots; the horse gallops",)
        assert fb.rewrite[0].params == {"weight": -0.5}
        assert fb.remove == ("ang_vel_xy_l2",)
        assert fb.add[0].params == {"target_hz": 2.1, "weight": 0.5}
        assert fb.raw == YAML


def test_folder_of_per_iteration_files(tmp_path: Path) -> None:
    (tmp_path / "iter_1.yaml").write_text(YAML)
    (tmp_path / "iter_2.json").write_text(json.dumps({"problems": ["too slow"], "text": "faster"}))
    backend = HumanFeedback(tmp_path)
    request = feedback_request(tmp_path)
    assert backend.feedback(request).text == "gallop"
    second = backend.feedback(request.__class__(**{**vars(request), "iteration": 2}))
    assert second.problems == ("too slow",)
    with pytest.raises(HumanFeedbackError, match=r"no feedback for iteration 3 .* found iter_1.yaml, iter_2.json"):
        backend.feedback(request.__class__(**{**vars(request), "iteration": 3}))


def test_file_with_sentences_as_changes_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "fb.yaml"
    path.write_text(
        "problems: [the robot is too slow]\n"
        "rewrite: [make the strides longer]\n"
        "add:\n  - reward forward speed\n  - 'gait_frequency_exp: match 2 Hz | target_hz=2'\n"
    )
    fb = HumanFeedback(path).feedback(feedback_request(tmp_path))
    assert [(c.name, c.instruction) for c in fb.rewrite] == [("", "make the strides longer")]
    assert [(c.name, c.instruction, c.params) for c in fb.add] == [
        ("", "reward forward speed", {}),
        ("gait_frequency_exp", "match 2 Hz", {"target_hz": 2.0}),
    ]


def test_malformed_file_names_the_file_and_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("problems: [x]\nrewrite:\n  - {name: lin_vel_z_l2}\n")
    with pytest.raises(HumanFeedbackError, match=r"bad.yaml .*rewrite\[0\]: missing 'instruction'"):
        HumanFeedback(path).feedback(feedback_request(tmp_path))
    path.write_text("problems: [unclosed\n")
    with pytest.raises(HumanFeedbackError, match="cannot read feedback file"):
        HumanFeedback(path).feedback(feedback_request(tmp_path))
    with pytest.raises(HumanFeedbackError, match="does not exist"):
        HumanFeedback(tmp_path / "missing.yaml")


def test_terminal_answers_one_prompt_per_part(tmp_path, monkeypatch, capsys) -> None:
    lines = iter(
        [
            "the robot trots", "",  # problems: one item, then a blank ends the list
            "feet air time: longer",  # rewrite: a bad name is refused and asked again
            "feet_air_time: longer swings | threshold_s=0.3", "",
            "ang_vel_xy_l2", "",  # remove
            "",  # add: none
            "gallop, do not trot",  # summary
        ]
    )  # fmt: skip
    monkeypatch.setattr(sys, "stdin", _Tty())
    monkeypatch.setattr(builtins, "input", lambda prompt="": next(lines))
    fb = HumanFeedback().feedback(feedback_request(tmp_path))
    out = capsys.readouterr().out
    assert str(tmp_path / "side_by_side.mp4") in out
    assert str(tmp_path / "expert.mp4") in out and str(tmp_path / "rollout.mp4") in out
    assert "Current reward terms: lin_vel_z_l2" in out
    assert "not taken" in out
    assert fb.problems == ("the robot trots",)
    assert [(c.name, c.instruction, c.params) for c in fb.rewrite] == [
        ("feet_air_time", "longer swings", {"threshold_s": 0.3})
    ]
    assert fb.remove == ("ang_vel_xy_l2",)
    assert fb.add == ()
    assert fb.text == "gallop, do not trot"
    assert fb.backend == "human"
    assert json.loads(fb.raw)["remove"] == ["ang_vel_xy_l2"]


def test_end_of_input_ends_the_lists(tmp_path) -> None:
    def closed(prompt: str = "") -> str:
        raise EOFError

    fb = HumanFeedback(interactive=True, input_fn=closed, out=io.StringIO()).feedback(feedback_request(tmp_path))
    assert fb.problems == () and fb.text == ""


def test_no_terminal_and_no_file_says_to_pass_a_feedback_file(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    with pytest.raises(HumanFeedbackError, match=r"stdin is not a terminal.*--feedback-file"):
        HumanFeedback()


def test_reward_term_names() -> None:
    assert reward_term_names('PARAMS = {"a_l2": {"weight": 1}, "b_exp": {}}\n') == ["a_l2", "b_exp"]
    assert reward_term_names("def (") == []
