"""``rules``: the offline lower level, a deterministic reward-program editor (not an LLM).

It applies structured :class:`~lm_reward_learning.bilevel.protocols.Feedback` to a reward program:

* ``add`` / ``rewrite`` of a term from the gait-term library (``reward/library/gait_terms.py``) adds
  the term or updates its tunable parameters (``target_s``, ``weight``, ...);
* ``rewrite`` of any other term with ``params={"weight_scale": s}`` scales that term;
* ``remove`` drops a term (a library term, or any term of the base program);
* a ``gait_pattern`` (class, phase offsets, duty factor, stride frequency) sets the footfall pattern
  (``foot_contact_sync`` with the pattern's phases: given, or the class's textbook ones,
  :data:`CLASS_PHASES`), the timing (``stepping_frequency_exp``, ``swing_duration_exp``,
  ``stance_duration_l1`` from frequency and duty factor) and flight (``flight_phase_exp`` for gaits
  with a flight phase, removed for those without).

The first edit renames the program's ``compute_reward`` to ``base_reward`` and appends a generated
section below :data:`MARKER` holding ``PARAMS_RULES`` (library terms and their parameters),
``TERM_SCALES``, ``REMOVED_TERMS``, the library functions used, and a new ``compute_reward`` that
combines them. Later edits regenerate only that section, so any program, hand- or LLM-written, can be
edited, and the result is ordinary reward-program source that the validator checks like any other.
"""

from __future__ import annotations

import ast
import difflib
import importlib.resources
import math
import pprint
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lm_reward_learning.bilevel.protocols import SynthesisRequest, SynthesisResult
from lm_reward_learning.errors import LmrlError

MARKER = "# ---- rules editor section (lm_reward_learning.bilevel.rules): regenerated on every edit ----"
LABEL = "rules (deterministic editor, not an LLM)"


#: Textbook phase offsets (FR, RL, RR after FL; bipeds: right after left) and duty factor of each class
#: (Hildebrand 1965/1977; gallop leads of 0.15-0.2 of a stride; duty factors typical of each class).
CLASS_PHASES: dict[str, tuple[tuple[float, ...], float]] = {
    "walk": ((0.5, 0.75, 0.25), 0.65),
    "trot": ((0.5, 0.5, 0.0), 0.45),
    "pace": ((0.5, 0.0, 0.5), 0.5),
    "bound": ((0.0, 0.5, 0.5), 0.35),
    "half-bound": ((0.2, 0.5, 0.5), 0.35),
    "canter": ((0.7, 0.7, 0.5), 0.35),
    "gallop": ((0.15, 0.65, 0.5), 0.3),
    "rotary gallop": ((0.15, 0.65, 0.5), 0.3),
    "transverse gallop": ((0.15, 0.5, 0.65), 0.3),
    "pronk": ((0.0, 0.0, 0.0), 0.35),
    "run": ((0.5,), 0.35),
    "hop": ((0.0,), 0.4),
    "skip": ((0.3,), 0.4),
}
#: Classes whose strides have a flight phase (all feet in the air).
FLIGHT_CLASSES = frozenset(
    {"bound", "half-bound", "canter", "gallop", "rotary gallop", "transverse gallop", "pronk", "run", "hop", "skip"}
)


class RulesEditError(LmrlError):
    """The rules editor cannot apply feedback (no feedback given, or the program cannot be parsed)."""


@dataclass(frozen=True)
class LibraryTerm:
    """A term of the gait-term library.

    Attributes:
        name: Term (and function) name.
        source: The function's source text.
        params: Default parameters, ``weight`` included.
        args: The function's parameters after ``state``, in order.
    """

    name: str
    source: str
    params: dict[str, float]
    args: tuple[str, ...]


@lru_cache(maxsize=1)
def library() -> dict[str, LibraryTerm]:
    """The gait-term library parsed from ``reward/library/gait_terms.py``: ``{name: LibraryTerm}``."""
    text = importlib.resources.files("lm_reward_learning.reward.library").joinpath("gait_terms.py").read_text()
    tree = ast.parse(text)
    params = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PARAMS" for t in node.targets):
            params = _const_eval(node.value)
    terms = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name != "compute_reward":
            args = tuple(a.arg for a in node.args.args[1:])
            terms[node.name] = LibraryTerm(node.name, ast.get_source_segment(text, node), dict(params[node.name]), args)
    return terms


def _const_eval(node: ast.expr) -> Any:
    """Evaluate a constant expression (literals, arithmetic, ``math.*``) as the validator allows it."""
    return eval(compile(ast.Expression(node), "<params>", "eval"), {"__builtins__": {}, "math": math})


@dataclass
class RulesSection:
    """The editable state of a program's generated section.

    Attributes:
        params: Library terms in use and their parameters (``PARAMS_RULES``).
        scales: Multipliers of base-program terms (``TERM_SCALES``).
        removed: Base-program terms dropped (``REMOVED_TERMS``).
    """

    params: dict[str, dict[str, float]] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)


def split_program(source: str) -> tuple[str, RulesSection]:
    """Split a program into its base part (with ``base_reward``) and its rules section.

    Raises:
        RulesEditError: if the source does not parse or has no top-level ``compute_reward``.
    """
    if MARKER in source:
        base, section_text = source.split(MARKER, 1)
        section = RulesSection()
        try:
            tree = ast.parse(section_text)
        except SyntaxError as exc:
            raise RulesEditError(f"the rules section does not parse ({exc}); remove it below {MARKER!r}") from exc
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                key = node.targets[0].id
                if key == "PARAMS_RULES":
                    section.params = _const_eval(node.value)
                elif key == "TERM_SCALES":
                    section.scales = _const_eval(node.value)
                elif key == "REMOVED_TERMS":
                    section.removed = list(_const_eval(node.value))
        return base.rstrip() + "\n", section
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise RulesEditError(f"the reward program does not parse: {exc}") from exc
    lines = source.splitlines()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "compute_reward":
            line = lines[node.lineno - 1]
            lines[node.lineno - 1] = line.replace("def compute_reward(", "def base_reward(", 1)
            for other in tree.body:
                if isinstance(other, ast.FunctionDef) and other.name == "base_reward":
                    raise RulesEditError("the program already defines base_reward; rename it to let the editor wrap it")
            return "\n".join(lines).rstrip() + "\n", RulesSection()
    raise RulesEditError("the reward program has no top-level compute_reward(state) to edit")


def render(base: str, section: RulesSection) -> str:
    """Join the base part and a regenerated rules section into one program."""
    lib = library()
    out = [base.rstrip(), "", "", MARKER, ""]
    out.append(f"PARAMS_RULES = {pprint.pformat(section.params, sort_dicts=False, width=100)}")
    out.append(f"TERM_SCALES = {pprint.pformat(section.scales, sort_dicts=False, width=100)}")
    out.append(f"REMOVED_TERMS = {tuple(section.removed)!r}")
    for name in section.params:
        out += ["", "", lib[name].source]
    body = [
        "",
        "",
        "def compute_reward(state):",
        '    """Base program terms (scaled, minus removed ones) plus the library terms in PARAMS_RULES."""',
        "    _, base_components = base_reward(state)",
        "    components = {",
        "        k: v * TERM_SCALES.get(k, 1.0) for k, v in base_components.items() if k not in REMOVED_TERMS",
        "    }",
    ]
    if section.params:
        body.append("    p = PARAMS_RULES")
    for name in section.params:
        args = ", ".join(f'{a}=p["{name}"]["{a}"]' for a in lib[name].args)
        body.append(f'    components["{name}"] = p["{name}"]["weight"] * {name}(state, {args})')
    body.append("    return sum(components.values()), components")
    return "\n".join(out + body) + "\n"


def current_params(source: str) -> dict[str, dict[str, float]]:
    """The library terms (with parameters) a program already uses; empty if it has no rules section."""
    try:
        return split_program(source)[1].params
    except RulesEditError:
        return {}


def apply_feedback(source: str, feedback) -> tuple[str, list[str]]:
    """Apply ``feedback``'s add/rewrite/remove items to ``source``.

    Returns:
        ``(new_source, change_log)``; the log says what was applied and what was left out and why.

    Raises:
        RulesEditError: if the program cannot be parsed.
    """
    lib = library()
    base, section = split_program(source)
    log: list[str] = []
    for name in feedback.remove:
        if name in section.params:
            del section.params[name]
            log.append(f"removed library term {name}")
        elif name not in section.removed:
            section.removed.append(name)
            log.append(f"removed base term {name}")
    if getattr(feedback, "gait_pattern", None) is not None:
        log += _apply_pattern(section, feedback.gait_pattern)
    for change in (*feedback.rewrite, *feedback.add):
        params = {k: float(v) for k, v in change.params.items()}
        if not change.name:
            log.append(f"left out free-text item {change.instruction!r}: the rules editor edits named terms only")
        elif change.name in lib:
            term = lib[change.name]
            merged = {**term.params, **section.params.get(change.name, {})}
            unknown = sorted(set(params) - set(term.params))
            merged.update({k: v for k, v in params.items() if k in term.params})
            verb = "updated" if change.name in section.params else "added"
            section.params[change.name] = merged
            if change.name in section.removed:
                section.removed.remove(change.name)
            log.append(f"{verb} {change.name} {merged}" + (f" (ignored unknown params {unknown})" if unknown else ""))
        elif "weight_scale" in params:
            scale = section.scales.get(change.name, 1.0) * params["weight_scale"]
            section.scales[change.name] = round(scale, 6)
            log.append(f"scaled {change.name} by {params['weight_scale']:g} (total scale {scale:g})")
        else:
            log.append(
                f"left out {change.name!r}: not a library term ({', '.join(sorted(lib))}) and no weight_scale given"
            )
    return render(base, section), log


def _apply_pattern(section: RulesSection, pattern: Any) -> list[str]:
    """Set the pattern, timing and flight terms of a gait pattern (module docstring); returns the log."""
    lib, log = library(), []
    textbook = CLASS_PHASES.get(pattern.gait or "")
    phases = pattern.phase_offsets or (textbook[0] if textbook else None)
    duty = pattern.duty_factor or (textbook[1] if textbook else None)

    def put(name: str, **values: float) -> None:
        merged = {**lib[name].params, **section.params.get(name, {}), **{k: round(v, 4) for k, v in values.items()}}
        section.params[name] = merged
        if name in section.removed:
            section.removed.remove(name)
        log.append(f"gait pattern: set {name} {merged}")

    if phases is not None:
        padded = (*phases, 0.0, 0.0)[:3] if len(phases) == 1 else phases
        put("foot_contact_sync", phase_fr=padded[0], phase_rl=padded[1], phase_rr=padded[2])
    else:
        log.append("gait pattern: no phases and no known class; footfall pattern left as it is")
    if pattern.frequency_hz is not None and duty is not None:
        f = pattern.frequency_hz
        put("stepping_frequency_exp", target_hz=f, duty_factor=duty)
        put("swing_duration_exp", target_s=(1.0 - duty) / f)
        put("stance_duration_l1", target_s=duty / f)
    if pattern.gait in FLIGHT_CLASSES or (pattern.gait == "trot" and duty is not None and duty < 0.5):
        put("flight_phase_exp")
    elif pattern.gait is not None and "flight_phase_exp" in section.params:
        del section.params["flight_phase_exp"]
        log.append(f"gait pattern: removed flight_phase_exp ({pattern.gait} has no flight phase)")
    return log


class RulesSynthesis:
    """Offline synthesis backend (``--synthesis rules``): see the module docstring."""

    name = "rules"

    def synthesize(self, request: SynthesisRequest) -> SynthesisResult:
        """Apply the request's feedback to its current program.

        Raises:
            RulesEditError: without feedback (Eureka mode needs an LLM: ``--synthesis openai``), or if
                the program cannot be parsed.
        """
        if request.feedback is None:
            raise RulesEditError(
                "the rules editor needs structured feedback; Eureka mode (text task description only) "
                "needs an LLM: pass --synthesis openai with an endpoint."
            )
        source, log = apply_feedback(request.current_source, request.feedback)
        return SynthesisResult(source=source, backend=LABEL, raw_response="\n".join(log) or "no change")


def unified_diff(old: str, new: str, old_name: str = "previous", new_name: str = "new") -> str:
    """Unified diff of two program sources (for the run store and the report)."""
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), fromfile=old_name, tofile=new_name))
