"""Getting usable data out of a language model's free-form answer: reward code and feedback JSON.

Models wrap their answers in prose, Markdown fences or JSON, and sometimes stop mid-answer. The
functions here are forgiving about the wrapping and strict about the content:

* :func:`extract_code` finds a reward program (a ``def compute_reward`` at the top level) in a
  fenced block, a JSON ``"code"``/``"reward_code"`` field, or the whole message;
* :func:`extract_json_object` finds one JSON object (bare, fenced, or embedded in prose);
* :func:`parse_feedback` checks that object against the paper's four-part feedback format
  (problems; components to rewrite, remove, add) and builds a :class:`Feedback`.

Failures raise :class:`BackendResponseError` (the answer is unusable) or :class:`FeedbackFormatError`
(the feedback structure is wrong), each quoting what was wrong and a short excerpt of the answer.
"""

from __future__ import annotations

import ast
import json
import math
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lm_reward_learning.bilevel.protocols import GAIT_PATTERN_CLASSES, ComponentChange, Feedback, GaitPattern
from lm_reward_learning.errors import LmrlError

#: JSON fields that may hold a reward program, in order of preference.
CODE_FIELDS: tuple[str, ...] = ("code", "reward_code")

#: A component name: ``<quantity>_<kernel>``, a Python identifier not starting with ``_``.
COMPONENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

_ENTRY = re.compile(r"^def\s+compute_reward\s*\(", re.MULTILINE)
_FENCE_OPEN = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([A-Za-z0-9_+-]*)")
_EXCERPT_CHARS = 300
_MAX_JSON_STARTS = 200


class BackendResponseError(LmrlError):
    """A backend answered, but the answer cannot be used (no code, no JSON, malformed feedback).

    The message says what was wrong and quotes the beginning of the answer.
    """


class FeedbackFormatError(LmrlError, ValueError):
    """Feedback data does not follow the four-part format.

    Attributes:
        issues: The individual problems, e.g. ``"rewrite[0]: missing 'instruction'"``.
    """

    def __init__(self, message: str, issues: list[str] | None = None) -> None:
        super().__init__(message)
        self.issues = list(issues or [])


@dataclass(frozen=True)
class FencedBlock:
    """One Markdown fenced block.

    Attributes:
        lang: The info string's first word, lower case (``"python"``, ``"json"``, ``""``).
        body: The text between the fences, dedented.
        closed: False when the answer ended before the closing fence (a truncated answer).
    """

    lang: str
    body: str
    closed: bool


def excerpt(text: str, limit: int = _EXCERPT_CHARS) -> str:
    """Return the beginning of ``text`` on one line, quoted, for error messages."""
    flat = " ".join(text.split())
    if not flat:
        return "(empty answer)"
    return repr(flat if len(flat) <= limit else flat[:limit] + " ...")


def fenced_blocks(text: str) -> list[FencedBlock]:
    """Return the Markdown fenced blocks (```` ``` ```` or ``~~~``) of ``text`` in order.

    A fence closes on a line holding only the same fence characters (at least as many). An
    unclosed last block (the answer was cut off) is returned with ``closed=False``.
    """
    blocks: list[FencedBlock] = []
    fence: str | None = None
    lang = ""
    body: list[str] = []
    for line in text.splitlines():
        if fence is None:
            m = _FENCE_OPEN.match(line)
            if m:
                fence, lang, body = m.group(1), m.group(2).lower(), []
            continue
        stripped = line.strip()
        if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
            blocks.append(FencedBlock(lang, textwrap.dedent("\n".join(body)).strip("\n"), closed=True))
            fence = None
        else:
            body.append(line)
    if fence is not None:
        blocks.append(FencedBlock(lang, textwrap.dedent("\n".join(body)).strip("\n"), closed=False))
    return blocks


def defines_compute_reward(source: str) -> bool:
    """Whether ``source`` has a top-level ``def compute_reward(`` line (text check, no parsing)."""
    return _ENTRY.search(source) is not None


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


def extract_code(text: str) -> str:
    """Extract a reward program from a model's answer.

    Tried in order:

    1. fenced blocks (any language but JSON) with a top-level ``def compute_reward``: the last one
       that parses as Python, else the last one (the validator then reports its syntax error);
    2. a JSON object with a string field ``"code"`` or ``"reward_code"`` holding such a program
       (itself possibly fenced);
    3. the whole answer, if it parses as Python and defines ``compute_reward``.

    Args:
        text: The model's raw answer.

    Returns:
        The program source, ending with one newline. Not validated beyond the checks above.

    Raises:
        BackendResponseError: "the model answered without code", with an excerpt of the answer.
    """
    candidates = [b for b in fenced_blocks(text) if b.lang != "json" and defines_compute_reward(b.body)]
    if candidates:
        parsing = [b for b in candidates if _parses(b.body)]
        return (parsing or candidates)[-1].body.rstrip() + "\n"
    try:
        data = extract_json_object(text)
    except BackendResponseError:
        data = {}
    for key in CODE_FIELDS:
        value = data.get(key)
        if isinstance(value, str) and defines_compute_reward(textwrap.dedent(value)):
            inner = [b for b in fenced_blocks(value) if defines_compute_reward(b.body)]
            return (inner[-1].body if inner else textwrap.dedent(value).strip("\n")).rstrip() + "\n"
    whole = textwrap.dedent(text).strip("\n")
    if defines_compute_reward(whole) and _parses(whole):
        return whole.rstrip() + "\n"
    raise BackendResponseError(
        "the model answered without code: found no ```python block, no JSON field "
        f"{' or '.join(repr(k) for k in CODE_FIELDS)} and no plain program defining a top-level "
        f"`def compute_reward(state):`. The answer begins: {excerpt(text)}"
    )


def extract_json_object(text: str) -> dict[str, Any]:
    """Find one JSON object in a model's answer.

    Tried in order: the whole answer; fenced blocks (``json`` ones first); the first ``{`` from which
    a complete JSON object decodes (an object embedded in prose).

    Args:
        text: The model's raw answer.

    Returns:
        The decoded object.

    Raises:
        BackendResponseError: when no JSON object can be decoded, with an excerpt of the answer.
    """
    decoder = json.JSONDecoder()
    try:
        whole = json.loads(text.strip())
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        return whole
    blocks = sorted(fenced_blocks(text), key=lambda b: b.lang != "json")  # stable: json blocks first
    for block in blocks:
        try:
            value = json.loads(block.body)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    for n, match in enumerate(re.finditer(r"\{", text)):
        if n >= _MAX_JSON_STARTS:
            break
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise BackendResponseError(
        f"the answer holds no JSON object (tried the whole text, fenced blocks and embedded objects). "
        f"The answer begins: {excerpt(text)}"
    )


def parse_feedback(data: Mapping[str, Any], *, backend: str, raw: str) -> Feedback:
    """Check feedback data against the four-part format and build a :class:`Feedback`.

    The format (keys other than these are ignored; missing lists are empty, ``problems`` is
    required)::

        {"problems": ["..."],
         "rewrite": [{"name": "<quantity>_<kernel>", "instruction": "...", "params": {"k": 1.0}}],
         "remove":  ["<name>"],
         "add":     [{"name": "...", "instruction": "...", "params": {}}],
         "text": "...",
         "gait_pattern": {"gait": "trot", "phase_offsets": [0.5, 0.5, 0.0], "duty_factor": 0.45,
                          "frequency_hz": 2.5}}          # optional, every field optional

    A change may also be written ``"name: instruction"``, or be a plain sentence (``"reward forward
    speed"``, or an object with an ``instruction`` and no ``name``): a free-text item, kept with
    ``name=""`` for the synthesis backend to act on. A removal may be ``{"name": ...}``; param values
    may be numbers or numeric strings.

    Args:
        data: The decoded JSON/YAML object.
        backend: Value of :attr:`Feedback.backend`.
        raw: Value of :attr:`Feedback.raw` (the unparsed answer or file text).

    Returns:
        The feedback.

    Raises:
        FeedbackFormatError: listing every problem found (``issues``), e.g.
            ``"rewrite[1].params['target_hz']: expected a number, got 'fast'"``.
    """
    issues: list[str] = []
    if not isinstance(data, Mapping):
        raise FeedbackFormatError(f"expected a JSON object with key 'problems', got {type(data).__name__}")
    if "problems" not in data:
        issues.append("missing key 'problems' (a list of strings)")
    problems = _strings(data.get("problems", []), "problems", issues)
    rewrite = _changes(data.get("rewrite", []), "rewrite", issues)
    add = _changes(data.get("add", []), "add", issues)
    remove = _removals(data.get("remove", []), issues)
    text = data.get("text", "")
    if text is None:
        text = ""
    if not isinstance(text, str):
        issues.append(f"text: expected a string, got {type(text).__name__}")
    pattern = parse_gait_pattern(data.get("gait_pattern"), issues)
    if issues:
        raise FeedbackFormatError("; ".join(issues), issues)
    return Feedback(
        problems=tuple(problems),
        rewrite=tuple(rewrite),
        remove=tuple(remove),
        add=tuple(add),
        text=text.strip(),
        backend=backend,
        raw=raw,
        gait_pattern=pattern,
    )


def parse_gait_pattern(value: Any, issues: list[str]) -> GaitPattern | None:
    """The optional ``gait_pattern`` of feedback data (None when absent or empty); problems go to ``issues``."""
    if value is None or value == {}:
        return None
    if not isinstance(value, Mapping):
        issues.append(f"gait_pattern: expected an object, got {type(value).__name__}")
        return None
    gait = value.get("gait")
    if gait is not None and (not isinstance(gait, str) or gait.strip().lower() not in GAIT_PATTERN_CLASSES):
        issues.append(f"gait_pattern.gait: {gait!r} is not one of {', '.join(GAIT_PATTERN_CLASSES)}")
        gait = None
    phases = value.get("phase_offsets")
    if phases is not None:
        ok = isinstance(phases, list) and len(phases) in (1, 3) and all(_is_fraction(p) for p in phases)
        if not ok:
            issues.append(
                f"gait_pattern.phase_offsets: expected 3 (FR, RL, RR after FL) or 1 fractions in [0, 1); got {phases!r}"
            )
            phases = None
    duty, freq = value.get("duty_factor"), value.get("frequency_hz")
    if duty is not None and not (_is_number(duty) and 0 < float(duty) < 1):
        issues.append(f"gait_pattern.duty_factor: expected a number in (0, 1); got {duty!r}")
        duty = None
    if freq is not None and not (_is_number(freq) and 0 < float(freq) < 20):
        issues.append(f"gait_pattern.frequency_hz: expected a stride frequency in (0, 20) Hz; got {freq!r}")
        freq = None
    return GaitPattern(
        gait=gait.strip().lower() if isinstance(gait, str) else None,
        phase_offsets=None if phases is None else tuple(float(p) for p in phases),
        duty_factor=None if duty is None else float(duty),
        frequency_hz=None if freq is None else float(freq),
    )


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _is_fraction(x: Any) -> bool:
    return _is_number(x) and 0.0 <= float(x) < 1.0


def parse_change_item(text: str) -> ComponentChange:
    """Parse one change written as text: structured when it starts with ``<component name>:``
    (see :func:`parse_change_line`), otherwise a free-text item (``name=""``, the whole text as the
    instruction), e.g. ``"reward forward speed"``.

    Raises:
        FeedbackFormatError: when the text is empty, or a structured change has a malformed param.
    """
    head, sep, rest = text.partition(":")
    if sep and rest.strip() and COMPONENT_NAME.match(head.strip()):
        return parse_change_line(text)
    if not text.strip():
        raise FeedbackFormatError("empty change; write 'name: instruction' or a sentence")
    return ComponentChange(name="", instruction=text.strip())


def parse_change_line(line: str) -> ComponentChange:
    """Parse ``"name: instruction"`` or ``"name: instruction | key=value, key=value"``.

    Raises:
        FeedbackFormatError: when the name is missing or not ``<quantity>_<kernel>``-like, or a
            param is not ``key=number``.
    """
    name, sep, rest = line.partition(":")
    name = name.strip()
    if not sep or not rest.strip():
        raise FeedbackFormatError(f"{line.strip()!r}: expected 'name: instruction'")
    instruction, _, params_text = rest.partition("|")
    params: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in params_text.split(","))):
        key, eq, value = item.partition("=")
        number = _number(value.strip()) if eq else None
        if number is None or not key.strip():
            raise FeedbackFormatError(f"{item!r}: expected 'key=number' after '|' (e.g. 'target_hz=2.1')")
        params[key.strip()] = number
    return ComponentChange(name=check_component_name(name), instruction=instruction.strip(), params=params)


def check_component_name(name: str) -> str:
    """Return ``name`` stripped if it is a component name (``<quantity>_<kernel>``-like identifier).

    Raises:
        FeedbackFormatError: otherwise, saying what a name looks like.
    """
    issues: list[str] = []
    if not _check_name(name, "name", issues):
        raise FeedbackFormatError(issues[0], issues)
    return name.strip()


def _strings(value: Any, where: str, issues: list[str]) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        issues.append(f"{where}: expected a list of strings, got {type(value).__name__}")
        return []
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            issues.append(f"{where}[{i}]: expected a string, got {type(item).__name__} {item!r}")
        elif item.strip():
            out.append(item.strip())
    return out


def _changes(value: Any, where: str, issues: list[str]) -> list[ComponentChange]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]  # one item written without the list
    if not isinstance(value, list):
        issues.append(f"{where}: expected a list of {{name, instruction, params}} objects, got {type(value).__name__}")
        return []
    out = []
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        if isinstance(item, str):
            if item.strip():
                try:
                    out.append(parse_change_item(item))
                except FeedbackFormatError as exc:
                    issues.append(f"{here}: {exc}")
            continue
        if not isinstance(item, Mapping):
            issues.append(f"{here}: expected an object {{name, instruction, params}}, got {type(item).__name__}")
            continue
        n_before = len(issues)
        name = item.get("name")
        if name is None or (isinstance(name, str) and not name.strip()):
            name = ""  # a free-text item: the instruction says what to do
        else:
            _check_name(name, f"{here}.name", issues)
        instruction = item.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            issues.append(f"{here}: missing 'instruction' (what to change, in words)")
        params = _params(item.get("params") or {}, f"{here}.params", issues)
        if len(issues) == n_before:
            out.append(ComponentChange(name=name.strip(), instruction=instruction.strip(), params=params))
    return out


def _removals(value: Any, issues: list[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        issues.append(f"remove: expected a list of component names, got {type(value).__name__}")
        return []
    out = []
    for i, item in enumerate(value):
        name = item.get("name") if isinstance(item, Mapping) else item
        if _check_name(name, f"remove[{i}]", issues):
            out.append(name.strip())
    return out


def _check_name(name: Any, where: str, issues: list[str]) -> bool:
    if not isinstance(name, str) or not COMPONENT_NAME.match(name.strip()):
        issues.append(
            f"{where}: {name!r} is not a component name; use the term's name, <quantity>_<kernel> "
            "(letters, digits, '_'), e.g. 'track_lin_vel_xy_exp'"
        )
        return False
    return True


def _params(value: Any, where: str, issues: list[str]) -> dict[str, float]:
    if not isinstance(value, Mapping):
        issues.append(f"{where}: expected an object of numbers, got {type(value).__name__}")
        return {}
    out = {}
    for key, v in value.items():
        number = _number(v)
        if number is None:
            issues.append(f"{where}[{key!r}]: expected a number, got {v!r}")
        else:
            out[str(key)] = number
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None
