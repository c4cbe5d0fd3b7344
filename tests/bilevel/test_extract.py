"""Extraction of reward code and feedback JSON from free-form model answers."""

from __future__ import annotations

import json

import pytest
from bilevel_data import PROGRAM

from lm_reward_learning.bilevel.extract import (
    BackendResponseError,
    FeedbackFormatError,
    extract_code,
    extract_json_object,
    fenced_blocks,
    parse_change_item,
    parse_change_line,
    parse_feedback,
)
from lm_reward_learning.bilevel.protocols import Feedback

HELPER = "def helper(state):\n    return state.base_height\n"


class TestExtractCode:
    def test_python_fence_amid_prose(self) -> None:
        answer = f"I change the weights.\n\n```python\n{PROGRAM}```\n\nThis should help."
        assert extract_code(answer) == PROGRAM

    def test_last_block_defining_compute_reward_wins(self) -> None:
        revised = PROGRAM.replace("-2.0", "-0.5")
        answer = f"```python\n{PROGRAM}```\nWait, lower it:\n```python\n{revised}```\n```python\n{HELPER}```"
        assert extract_code(answer) == revised

    def test_a_later_block_that_does_not_parse_loses_to_one_that_does(self) -> None:
        broken = PROGRAM.replace("return sum(", "return sum((")
        assert extract_code(f"```python\n{PROGRAM}```\n```python\n{broken}```") == PROGRAM

    def test_unlabelled_and_indented_fences(self) -> None:
        indented = "".join(f"   {line}\n" if line else "\n" for line in PROGRAM.splitlines())
        assert extract_code(f"1. New program:\n   ```\n{indented}   ```\n") == PROGRAM

    def test_unclosed_fence_of_a_cut_off_answer(self) -> None:
        assert extract_code(f"Here:\n```python\n{PROGRAM}") == PROGRAM

    def test_json_code_field(self) -> None:
        assert extract_code(json.dumps({"reasoning": "...", "code": PROGRAM})) == PROGRAM
        assert extract_code(json.dumps({"reward_code": f"```python\n{PROGRAM}```"})) == PROGRAM

    def test_json_in_a_fence(self) -> None:
        assert extract_code("```json\n" + json.dumps({"code": PROGRAM}) + "\n```") == PROGRAM

    def test_whole_message_that_is_a_program(self) -> None:
        assert extract_code("\n" + PROGRAM + "\n\n") == PROGRAM

    @pytest.mark.parametrize(
        "answer",
        [
            "I would reward longer swings.",
            f"```python\n{HELPER}```",  # code, but no compute_reward
            "compute_reward should penalise pitch",  # prose mentioning it
            "",
        ],
    )
    def test_no_code_raises_with_an_excerpt(self, answer: str) -> None:
        with pytest.raises(BackendResponseError, match="answered without code") as info:
            extract_code(answer)
        assert (" ".join(answer.split())[:20] or "(empty answer)") in str(info.value)  # excerpt: one line


class TestExtractJson:
    def test_bare_fenced_and_embedded(self) -> None:
        obj = {"problems": ["a"], "text": "t"}
        assert extract_json_object(json.dumps(obj)) == obj
        assert extract_json_object(f"Sure.\n```json\n{json.dumps(obj)}\n```") == obj
        assert extract_json_object(f"My answer is {json.dumps(obj)} as requested.") == obj
        assert extract_json_object("{not json} then " + json.dumps(obj)) == obj

    def test_no_object_raises(self) -> None:
        with pytest.raises(BackendResponseError, match="no JSON object"):
            extract_json_object('["a list", "is not an object"]')

    def test_fence_parser_reports_language_and_closure(self) -> None:
        blocks = fenced_blocks("a\n```JSON\n{}\n```\nb\n~~~py\nx = 1\n")
        assert [(b.lang, b.body, b.closed) for b in blocks] == [("json", "{}", True), ("py", "x = 1", False)]


class TestParseFeedback:
    def test_full_and_lenient_forms(self) -> None:
        data = {
            "problems": ["trots ", ""],
            "rewrite": ["feet_air_time: longer swings | threshold_s=0.3, weight=0.5"],
            "remove": [{"name": "ang_vel_xy_l2"}, "lin_vel_z_l2"],
            "add": [{"name": "gait_frequency_exp", "instruction": "match", "params": {"target_hz": "2.1"}}],
            "reasoning": "ignored",
        }
        fb = parse_feedback(data, backend="b", raw="r")
        assert fb.problems == ("trots",)
        assert fb.rewrite[0].name == "feet_air_time"
        assert fb.rewrite[0].params == {"threshold_s": 0.3, "weight": 0.5}
        assert fb.remove == ("ang_vel_xy_l2", "lin_vel_z_l2")
        assert fb.add[0].params == {"target_hz": 2.1}
        assert (fb.text, fb.backend, fb.raw) == ("", "b", "r")

    def test_every_problem_is_listed(self) -> None:
        data = {
            "rewrite": {"name": "x"},
            "remove": ["ok_name", 3],
            "add": [{"name": "a", "instruction": "i", "params": {"w": "fast", "b": True}}],
            "text": 5,
        }
        with pytest.raises(FeedbackFormatError) as info:
            parse_feedback(data, backend="b", raw="")
        assert info.value.issues == [
            "missing key 'problems' (a list of strings)",
            "rewrite: expected a list of {name, instruction, params} objects, got dict",
            "add[0].params['w']: expected a number, got 'fast'",
            "add[0].params['b']: expected a number, got True",
            "remove[1]: 3 is not a component name; use the term's name, <quantity>_<kernel> (letters, digits, "
            "'_'), e.g. 'track_lin_vel_xy_exp'",
            "text: expected a string, got int",
        ]

    @pytest.mark.parametrize("line", ["no colon here", "bad name: x", "ok: x | target=fast", "_private: x"])
    def test_change_line_errors(self, line: str) -> None:
        with pytest.raises(FeedbackFormatError):
            parse_change_line(line)

    def test_plain_sentences_are_free_text_items_and_structured_ones_stay_structured(self) -> None:
        data = {
            "problems": ["too slow"],
            "rewrite": [
                "make the strides longer",
                "feet_air_time: longer swings | threshold_s=0.3",
                {"instruction": "punish the trunk's roll less"},
            ],
            "add": ["reward forward speed", {"name": "gait_frequency_exp", "instruction": "match 2 Hz"}],
        }
        fb = parse_feedback(data, backend="b", raw="r")
        got = [(c.name, c.instruction, c.params) for c in (*fb.rewrite, *fb.add)]
        assert got == [
            ("", "make the strides longer", {}),
            ("feet_air_time", "longer swings", {"threshold_s": 0.3}),
            ("", "punish the trunk's roll less", {}),
            ("", "reward forward speed", {}),
            ("gait_frequency_exp", "match 2 Hz", {}),
        ]
        assert Feedback.from_dict(json.loads(json.dumps(fb.to_dict()))) == fb  # as --resume reads feedback.json

    def test_a_single_sentence_instead_of_a_list(self) -> None:
        fb = parse_feedback({"problems": [], "add": "reward forward speed"}, backend="b", raw="")
        assert [(c.name, c.instruction) for c in fb.add] == [("", "reward forward speed")]

    @pytest.mark.parametrize(
        ("text", "name", "instruction"),
        [
            ("reward forward speed", "", "reward forward speed"),
            ("feet air time: longer swings", "", "feet air time: longer swings"),  # not a term name: a sentence
            ("Note that the horse gallops.", "", "Note that the horse gallops."),
            ("feet_air_time: longer swings", "feet_air_time", "longer swings"),
        ],
    )
    def test_change_item(self, text: str, name: str, instruction: str) -> None:
        change = parse_change_item(text)
        assert (change.name, change.instruction) == (name, instruction)

    def test_structured_item_with_a_bad_param_is_still_an_error(self) -> None:
        with pytest.raises(FeedbackFormatError, match="key=number"):
            parse_change_item("feet_air_time: longer | threshold_s=long")
        with pytest.raises(FeedbackFormatError, match="add\\[0\\]: missing 'instruction'"):
            parse_feedback({"problems": [], "add": [{"params": {"w": 1}}]}, backend="b", raw="")


def test_feedback_may_carry_a_gait_pattern() -> None:
    from lm_reward_learning.bilevel.extract import FeedbackFormatError, parse_feedback

    pattern = {"gait": "Bound", "phase_offsets": [0.0, 0.5, 0.5], "duty_factor": 0.3}
    fb = parse_feedback({"problems": ["trots"], "gait_pattern": pattern}, backend="t", raw="")
    assert fb.gait_pattern.gait == "bound" and fb.gait_pattern.phase_offsets == (0.0, 0.5, 0.5)
    assert fb.gait_pattern.frequency_hz is None
    assert type(fb).from_dict(fb.to_dict()) == fb  # stored and read back unchanged
    with pytest.raises(FeedbackFormatError, match=r"gait_pattern.gait: 'moonwalk'.*gait_pattern.duty_factor"):
        parse_feedback({"problems": [], "gait_pattern": {"gait": "moonwalk", "duty_factor": 2}}, backend="t", raw="")
