"""``reflection``: an Eureka-style reflection tuner (NOT an LLM), the offline stand-in of Eureka mode.

Eureka (Ma et al., ICLR 2024) improves a reward from its *reward reflection* alone: the per-term
training statistics of the last run, with tips such as "if a component's magnitude is much larger
than the others, re-scale it". Offline there is no LLM to read that text, so this backend applies two
such tips as fixed rules to the same text (``SynthesisRequest.reward_reflection``, written by
:func:`lm_reward_learning.bilevel.steps.reflection_text`). It never reads the upper level's feedback,
the video or the task text, so it is a fair offline stand-in for the text-only baseline.

Inputs. The reflection lists each term's per-step mean (already weighted, as the program returns it)
at a few points of the last training; only the last value of each term is used. A term's weight is
read from the program: its ``PARAMS[name]["weight"]`` times its ``TERM_SCALES`` entry (rules-editor
section), or ``PARAMS_RULES[name]["weight"]`` for a gait-library term. With candidate index ``m``
the edits use ``strength = m + 1`` (candidate 0 the base factors, later candidates stronger ones).

Rules, on the last recorded means ``x_t``:

1. **Task tracking stays low.** For each term named ``track_*`` with a known positive weight ``w``,
   its kernel value ``u = x_t / w`` (1 = perfect tracking for Isaac Lab's exp kernels) below
   :data:`LOW_TRACKING` raises the weight by ``TRACKING_GAIN ** strength``.
2. **A penalty dominates the return.** With ``P = Σ x_t`` over the terms with ``x_t > 0``, each term
   with ``x_t < 0`` and ``|x_t| > DOMINANCE * P`` has its weight multiplied by
   ``PENALTY_CUT ** strength``.

Edits go through :func:`lm_reward_learning.bilevel.rules.apply_feedback` (``weight_scale`` for terms of
the base program, a new ``weight`` for gait-library terms), so the output is an ordinary program
that the validator checks like any other. With no rule firing the program is returned unchanged.
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import dataclass

from lm_reward_learning.bilevel.protocols import ComponentChange, Feedback, SynthesisRequest, SynthesisResult
from lm_reward_learning.bilevel.rules import apply_feedback, library, split_program

log = logging.getLogger(__name__)

LABEL = "reflection (Eureka-style reflection tuner, not an LLM)"
#: Prefix of task-tracking terms (Isaac Lab naming: ``track_lin_vel_xy_exp``, ``track_ang_vel_z_exp``).
TRACKING_PREFIX = "track_"
#: A tracking term whose kernel value ``mean / weight`` ends below this counts as low.
LOW_TRACKING = 0.5
#: Weight factor of a low tracking term (per unit of strength).
TRACKING_GAIN = 1.5
#: A penalty whose magnitude exceeds this fraction of the positive terms' sum dominates the return.
DOMINANCE = 0.5
#: Weight factor of a dominating penalty (per unit of strength).
PENALTY_CUT = 0.5

_SUMMARY_LABELS = {"episode return": "episode_return", "episode length (s)": "episode_length_s"}
_LINE = re.compile(r"^\s+(?P<name>[^:]+):\s*(?P<values>.*)$")
_RAN = re.compile(r"Training ran (?P<n>\d+) PPO iterations")


@dataclass(frozen=True)
class Reflection:
    """The reward reflection, parsed.

    Attributes:
        iterations: PPO iterations of the last training, or None when not stated.
        terms: Per term, its per-step mean at the recorded points (None where ``n/a``), in the
            program's units (already weighted, before the trainer's ``dt`` factor).
        episode_return: Mean episode return at the recorded points.
        episode_length_s: Mean episode length at the recorded points, s.
    """

    iterations: int | None
    terms: dict[str, tuple[float | None, ...]]
    episode_return: tuple[float | None, ...] = ()
    episode_length_s: tuple[float | None, ...] = ()

    def last(self, name: str) -> float | None:
        """The last recorded (non-missing) mean of term ``name``, or None."""
        values = [v for v in self.terms.get(name, ()) if v is not None]
        return values[-1] if values else None


@dataclass(frozen=True)
class WeightEdit:
    """One planned weight change.

    Attributes:
        name: Term name.
        factor: Multiplier of the term's weight.
        reason: Why, in words (goes into the change log).
    """

    name: str
    factor: float
    reason: str


def parse_reflection(text: str | None) -> Reflection:
    """Parse the text of :func:`lm_reward_learning.bilevel.steps.reflection_text`.

    Lines ``  <name>: v0, v1, ...`` become term series (``n/a`` → None); the ``episode return`` and
    ``episode length (s)`` lines become the summary series. Anything else is ignored, so empty or
    "No training statistics yet." text gives a reflection without terms.
    """
    terms: dict[str, tuple[float | None, ...]] = {}
    summary: dict[str, tuple[float | None, ...]] = {}
    ran = _RAN.search(text or "")
    for line in (text or "").splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        values = tuple(_number(v) for v in match["values"].split(","))
        name = match["name"].strip()
        if name in _SUMMARY_LABELS:
            summary[_SUMMARY_LABELS[name]] = values
        else:
            terms[name] = values
    return Reflection(int(ran["n"]) if ran else None, terms, **summary)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # "n/a"


def term_weights(source: str) -> dict[str, float]:
    """Effective weight of each term of a reward program that states its weights.

    Base-program terms: ``PARAMS[name]["weight"] * TERM_SCALES.get(name, 1)`` (terms in
    ``REMOVED_TERMS`` left out); gait-library terms: ``PARAMS_RULES[name]["weight"]``. Terms whose
    weight is not a literal number are left out.

    Raises:
        lm_reward_learning.bilevel.rules.RulesEditError: if the program cannot be parsed.
    """
    base, section = split_program(source)
    weights: dict[str, float] = {}
    for node in ast.parse(base).body:
        is_params = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PARAMS" for t in node.targets
        )
        if not (is_params and isinstance(node.value, ast.Dict)):
            continue
        for key, value in zip(node.value.keys, node.value.values, strict=True):
            weight = _literal_weight(value)
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and weight is not None:
                weights[key.value] = weight * section.scales.get(key.value, 1.0)
    for name in section.removed:
        weights.pop(name, None)
    weights.update({name: float(p["weight"]) for name, p in section.params.items() if "weight" in p})
    return weights


def _literal_weight(params: ast.expr) -> float | None:
    """The literal number under ``"weight"`` in a ``{"weight": ..., ...}`` dict node, or None."""
    if not isinstance(params, ast.Dict):
        return None
    for k, v in zip(params.keys, params.values, strict=True):
        if isinstance(k, ast.Constant) and k.value == "weight":
            try:
                return float(ast.literal_eval(v))
            except (ValueError, TypeError):
                return None
    return None


def plan_edits(reflection: Reflection, weights: dict[str, float], strength: int = 1) -> list[WeightEdit]:
    """The weight edits the two rules of the module docstring make for ``reflection``.

    Args:
        reflection: The parsed reward reflection.
        weights: Effective weight per term (:func:`term_weights`); terms without one skip rule 1.
        strength: Exponent of the factors (candidate index + 1).

    Returns:
        The edits, tracking terms first, then penalties, each in the reflection's term order.
    """
    last = {name: v for name in reflection.terms if (v := reflection.last(name)) is not None}
    edits = []
    for name, value in last.items():
        w = weights.get(name)
        if name.startswith(TRACKING_PREFIX) and w is not None and w > 0 and value / w < LOW_TRACKING:
            edits.append(
                WeightEdit(
                    name,
                    TRACKING_GAIN**strength,
                    f"task term {name} tracks at {value / w:.2f} of its best (< {LOW_TRACKING}): raise its weight",
                )
            )
    positive = sum(v for v in last.values() if v > 0)
    for name, value in last.items():
        if value < 0 and -value > DOMINANCE * positive:
            edits.append(
                WeightEdit(
                    name,
                    PENALTY_CUT**strength,
                    f"penalty {name} ({value:.3g}) outweighs {DOMINANCE:.0%} of the positive terms "
                    f"({positive:.3g}): lower its weight",
                )
            )
    return edits


def edit_program(source: str, edits: list[WeightEdit], weights: dict[str, float]) -> tuple[str, list[str]]:
    """Apply ``edits`` to ``source`` with the rules editor.

    Returns:
        ``(new_source, change_log)``; ``source`` unchanged and an empty log when ``edits`` is empty.
    """
    if not edits:
        return source, []
    base_params = split_program(source)[1].params
    changes = []
    for e in edits:
        if e.name in library() and e.name in base_params:
            params = {"weight": round(weights[e.name] * e.factor, 6)}
        else:
            params = {"weight_scale": e.factor}
        changes.append(ComponentChange(e.name, e.reason, params))
    feedback = Feedback(problems=tuple(e.reason for e in edits), rewrite=tuple(changes), backend=LABEL)
    return apply_feedback(source, feedback)


class ReflectionSynthesis:
    """Offline synthesis backend ``reflection`` (Eureka mode without an LLM): see the module docstring."""

    name = "reflection"

    def synthesize(self, request: SynthesisRequest) -> SynthesisResult:
        """Edit ``request.current_source`` from ``request.reward_reflection``.

        Raises:
            lm_reward_learning.bilevel.rules.RulesEditError: if the program cannot be parsed.
        """
        reflection = parse_reflection(request.reward_reflection)
        weights = term_weights(request.current_source)
        edits = plan_edits(reflection, weights, strength=request.candidate + 1)
        source, changes = edit_program(request.current_source, edits, weights)
        analysis = [e.reason for e in edits] or ["no rule fired (tracking high enough, no penalty dominates)"]
        log.info("reflection tuner, iteration %d candidate %d: %s", request.iteration, request.candidate, analysis)
        raw = "\n".join(["analysis:", *(f"- {a}" for a in analysis), "changes:", *(f"- {c}" for c in changes)])
        return SynthesisResult(source=source, backend=LABEL, raw_response=raw if changes else f"{raw}\n- no change")
