"""The paper's "Human as VLM" baseline: a person watches the videos and writes the feedback.

Two ways to give it:

* **at the terminal** — the backend prints the side-by-side video (expert | robot), the expert and
  rollout paths and the current reward terms, then asks for the four parts one at a time (one item
  per line, a blank line ends a list; component changes as ``name: instruction``, optionally
  ``name: instruction | key=value, key=value``) and a one-line summary;
* **from files**, for scripted runs (``--feedback-file``): one YAML/JSON file used for every
  iteration, or a folder of per-iteration files ``iter_1.yaml``, ``iter_2.yaml``, ... (``.yml`` and
  ``.json`` too). The format is the one :func:`~lm_reward_learning.bilevel.extract.parse_feedback`
  reads::

      problems:
        - the robot trots; the horse gallops
      rewrite:
        - {name: feet_air_time, instruction: reward longer swings, params: {threshold_s: 0.3}}
      remove: [ang_vel_xy_l2]
      add:
        - "gait_frequency_exp: match the horse's 2.1 Hz stride | target_hz=2.1, weight=0.5"
        - reward forward speed
      text: gallop, do not trot

  A rewrite/add item that does not start with a term name and a colon is a free-text item (the
  synthesis backend decides which term it means).
"""

from __future__ import annotations

import ast
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import yaml

from lm_reward_learning.bilevel.extract import (
    FeedbackFormatError,
    check_component_name,
    parse_change_line,
    parse_feedback,
)
from lm_reward_learning.bilevel.protocols import Feedback, FeedbackRequest
from lm_reward_learning.errors import LmrlError

log = logging.getLogger(__name__)

#: Suffixes of feedback files, in order of preference.
FEEDBACK_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json")

_HOW_TO_SCRIPT = (
    "pass --feedback-file FILE (a YAML/JSON file with problems, rewrite, remove, add, text, used for every "
    "iteration) or --feedback-file DIR (a folder of iter_1.yaml, iter_2.yaml, ...)"
)


class HumanFeedbackError(LmrlError):
    """Human feedback cannot be obtained: no terminal and no file, a missing or malformed file."""


class HumanFeedback:
    """Feedback written by a person, at the terminal or in files.

    Args:
        source: A feedback file (used for every iteration), a folder of per-iteration files
            ``iter_<n>.yaml``, or None to ask at the terminal.
        interactive: Whether a person can answer at the terminal; None = ``sys.stdin.isatty()``.
            Only consulted when ``source`` is None.
        input_fn: Reads one line after showing a prompt; None = the builtin :func:`input`.
        out: Where the prompts are printed; None = ``sys.stdout``.

    Attributes:
        name: ``"human"``.

    Raises:
        HumanFeedbackError: if ``source`` does not exist, or it is None and stdin is not a terminal
            (the message says to pass a feedback file).
    """

    name = "human"

    def __init__(
        self,
        source: Path | str | None = None,
        *,
        interactive: bool | None = None,
        input_fn: Callable[[str], str] | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.source = Path(source) if source is not None else None
        self._input_fn = input_fn
        self._out = out
        if self.source is not None:
            if not self.source.exists():
                raise HumanFeedbackError(f"feedback file or folder {self.source} does not exist; {_HOW_TO_SCRIPT}.")
            return
        if interactive is None:
            interactive = bool(sys.stdin and sys.stdin.isatty())
        if not interactive:
            raise HumanFeedbackError(
                f"human feedback needs a person at a terminal, but stdin is not a terminal and no feedback file "
                f"was given: {_HOW_TO_SCRIPT}."
            )

    def feedback(self, request: FeedbackRequest) -> Feedback:
        """Return the person's feedback for ``request.iteration``.

        Raises:
            HumanFeedbackError: when the iteration's file is missing, unreadable or malformed (the
                message names the file and what is wrong).
        """
        if self.source is None:
            return self._ask(request)
        path = self.file_for(request.iteration)
        log.info("human feedback for iteration %d from %s", request.iteration, path)
        return read_feedback_file(path)

    def file_for(self, iteration: int) -> Path:
        """The file holding the feedback for ``iteration`` (the single file, or ``iter_<n>.*``).

        Raises:
            HumanFeedbackError: if no source was given, or the folder has no file for ``iteration``.
        """
        if self.source is None:
            raise HumanFeedbackError(f"no feedback file or folder was given; {_HOW_TO_SCRIPT}.")
        if self.source.is_file():
            return self.source
        for suffix in FEEDBACK_SUFFIXES:
            path = self.source / f"iter_{iteration}{suffix}"
            if path.is_file():
                return path
        found = sorted(p.name for p in self.source.glob("iter_*") if p.suffix in FEEDBACK_SUFFIXES)
        raise HumanFeedbackError(
            f"no feedback for iteration {iteration} in {self.source}: expected iter_{iteration}.yaml "
            f"(or .yml/.json); found {', '.join(found) or 'no iter_<n> files'}."
        )

    # -- terminal --------------------------------------------------------------------------------
    def _ask(self, request: FeedbackRequest) -> Feedback:
        terms = reward_term_names(request.reward_source)
        self._say(
            f"\n=== Human feedback, iteration {request.iteration} ({request.robot}) ===\n"
            f"Task: {request.task}\n"
            f"Watch the side-by-side video (expert | robot): {request.side_by_side_video}\n"
            f"  expert video:  {request.expert_video}\n"
            f"  robot rollout: {request.rollout_video}\n"
            f"Current reward terms: {', '.join(terms) if terms else '(see the program)'}\n"
            "One item per line; an empty line ends each list."
        )
        problems = self._ask_list("Problems (what the robot does differently from the expert):", str.strip)
        rewrite = self._ask_list("Components to rewrite, as 'name: instruction [| key=value, ...]':", parse_change_line)
        remove = self._ask_list("Components to remove (names):", check_component_name)
        add = self._ask_list("Components to add, as 'name: instruction [| key=value, ...]':", parse_change_line)
        text = self._read("Summary (one line, may be empty): ").strip()
        answers = {
            "problems": problems,
            "rewrite": [vars(c) for c in rewrite],
            "remove": remove,
            "add": [vars(c) for c in add],
            "text": text,
        }
        return Feedback(
            problems=tuple(problems),
            rewrite=tuple(rewrite),
            remove=tuple(remove),
            add=tuple(add),
            text=text,
            backend=self.name,
            raw=json.dumps(answers, indent=1),
        )

    def _ask_list(self, title: str, parse: Callable[[str], object]) -> list:
        self._say(title)
        items: list = []
        while True:
            line = self._read(f"  {len(items) + 1}> ").strip()
            if not line:
                return items
            try:
                items.append(parse(line))
            except FeedbackFormatError as exc:
                self._say(f"  not taken: {exc}; try again")

    def _read(self, prompt: str) -> str:
        try:
            return (self._input_fn or input)(prompt)
        except EOFError:
            return ""

    def _say(self, text: str) -> None:
        print(text, file=self._out or sys.stdout, flush=True)


def read_feedback_file(path: Path) -> Feedback:
    """Read one YAML/JSON feedback file.

    Raises:
        HumanFeedbackError: when it cannot be read or parsed, or is not in the four-part format.
    """
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)  # YAML is a superset of JSON
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise HumanFeedbackError(f"cannot read feedback file {path}: {exc}") from exc
    try:
        return parse_feedback(data or {}, backend=HumanFeedback.name, raw=text)
    except FeedbackFormatError as exc:
        raise HumanFeedbackError(
            f"feedback file {path} is not in the four-part format: {exc}. Expected keys: problems (list of "
            "strings), rewrite and add (lists of {name, instruction, params}, 'name: instruction' or sentences), "
            "remove (list of names), text."
        ) from exc


def reward_term_names(source: str) -> list[str]:
    """The keys of the program's top-level ``PARAMS`` dict (the term names), or [] if not found."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    for stmt in tree.body:
        if (
            isinstance(stmt, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "PARAMS" for t in stmt.targets)
            and isinstance(stmt.value, ast.Dict)
        ):
            return [k.value for k in stmt.value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    return []
