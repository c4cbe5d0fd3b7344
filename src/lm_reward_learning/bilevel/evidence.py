"""Grounded evidence for the judge: measured gait, contact timing, a footfall diagram and hard facts.

As SDS (Li et al., "SDS — See it, Do it, Sorted", 2024) gives GPT-4o contact-pattern plots, the
vision-language model of the upper level gets, with the frames or videos:

* the robot's gait features measured from the rollout's simulator state
  (:func:`lm_reward_learning.gait.compute_features`) and the expert's measured from the video
  (:func:`lm_reward_learning.video.motion.analyse_expert_video`, where measurable);
* per-leg contact timing of the robot (duty factor, mean stance and swing, touchdowns, phase lag);
* the robot's footfall diagram (Hildebrand 1965; :func:`lm_reward_learning.evaluation.plots.plot_footfalls`);
* hard physical facts: whether the robot fell, whether it moved, whether its speed is near the
  command. These are measurements; an answer that contradicts one is sent back once with the facts
  (``fact_retries``), and if it still contradicts them the stored feedback is overruled: the fact is
  put first among the problems and ``measurements["overruled"]`` says what the answer claimed and why
  it was overruled (:func:`contradictions`, :func:`overrule`).

The model reports what it saw of the facts in a JSON key ``"observed"`` (``fell``, ``moved_forward``,
``speed_near_command``, booleans); a few unambiguous phrases in its text count as claims too.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lm_reward_learning.bilevel.protocols import Feedback

log = logging.getLogger(__name__)

#: A robot whose base travels less than this horizontally in the rollout did not move, m.
MIN_TRAVEL_M = 0.2
#: A mean forward speed off the command by more than this fraction of it is "far from the command".
SPEED_TOLERANCE = 0.5
#: Commands slower than this are not checked for speed, m/s.
MIN_CHECKED_COMMAND_MPS = 0.1


@dataclass(frozen=True)
class HardFact:
    """One measured fact about the rollout.

    Attributes:
        name: ``fell``, ``moved_forward`` or ``speed_near_command`` (the key in ``"observed"``).
        value: The measured truth value.
        statement: The fact in words, with the numbers.
    """

    name: str
    value: bool
    statement: str


@dataclass(frozen=True)
class Evidence:
    """What the judge is given besides the pictures.

    Attributes:
        facts: The hard facts.
        robot: The robot's gait features (``GaitFeatures.to_dict``), or None when not measurable.
        expert: The expert's features measured from the video, or None.
        contacts: Per foot: ``foot``, ``duty_factor``, ``mean_stance_s``, ``mean_swing_s``,
            ``touchdowns``, ``phase_lag``.
        command_mps: Forward velocity command of the rollout, m/s.
        footfall_png: The robot's footfall diagram (PNG bytes), or None.
    """

    facts: tuple[HardFact, ...]
    robot: dict[str, Any] | None
    expert: dict[str, Any] | None
    contacts: tuple[dict[str, Any], ...]
    command_mps: float
    footfall_png: bytes | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (the diagram as its size, not its bytes)."""
        d = dataclasses.asdict(self)
        d["facts"] = [dataclasses.asdict(f) for f in self.facts]
        d["footfall_png"] = None if self.footfall_png is None else f"{len(self.footfall_png)} bytes"
        return d


def measure(
    rollout_arrays: Path, expert: dict[str, Any] | None, command_mps: float, footfall_png: Path | None = None
) -> Evidence:
    """Measure the evidence of one rollout (``rollout.npz``); write the footfall diagram to ``footfall_png``.

    Args:
        rollout_arrays: The rollout's simulator state.
        expert: The expert's measured features, or None.
        command_mps: Forward velocity command held in the rollout, m/s.
        footfall_png: Where to write the diagram (None: no diagram).
    """
    from lm_reward_learning.gait import GaitInputError, compute_features
    from lm_reward_learning.rollout import load_rollout_trajectory

    traj = load_rollout_trajectory(rollout_arrays)
    with np.load(rollout_arrays) as a:
        fell = bool(a["fell"]) if "fell" in a else False
    try:
        feats = compute_features(traj)
    except GaitInputError as exc:
        log.info("robot gait not measurable: %s", exc)
        feats = None
    travel = float(np.linalg.norm(traj.base_pos_w[-1, :2] - traj.base_pos_w[0, :2]))
    speed = feats.forward_speed_mps if feats is not None and feats.forward_speed_mps is not None else None
    if speed is None:
        speed = travel / max(traj.duration_s, 1e-9)
    facts = [
        HardFact(
            "fell", fell, f"The robot {'FELL' if fell else 'did not fall'} during the {traj.duration_s:.1f} s rollout."
        ),
        HardFact(
            "moved_forward",
            travel >= MIN_TRAVEL_M and speed > 0,
            f"Its base travelled {travel:.2f} m in {traj.duration_s:.1f} s (mean forward speed {speed:.2f} m/s)"
            + ("." if travel >= MIN_TRAVEL_M and speed > 0 else f": it DID NOT MOVE forward (< {MIN_TRAVEL_M} m)."),
        ),
    ]
    if command_mps >= MIN_CHECKED_COMMAND_MPS:
        near = abs(speed - command_mps) <= SPEED_TOLERANCE * command_mps
        facts.append(
            HardFact(
                "speed_near_command",
                near,
                f"Commanded forward speed {command_mps:.2f} m/s, measured {speed:.2f} m/s: "
                + ("near the command." if near else f"FAR FROM THE COMMAND (off by more than {SPEED_TOLERANCE:.0%})."),
            )
        )
    png = _footfalls(traj, feats, footfall_png) if footfall_png is not None else None
    robot = feats.to_dict() if feats is not None else None
    return Evidence(tuple(facts), robot, expert, _contact_table(traj), float(command_mps), png)


def _contact_table(traj) -> tuple[dict[str, Any], ...]:
    from lm_reward_learning.evaluation.plots import contact_spans
    from lm_reward_learning.gait.contacts import MIN_PHASE_S, debounce_contacts, touchdown_indices

    contact = debounce_contacts(np.asarray(traj.foot_contact, dtype=bool), math.ceil(MIN_PHASE_S / traj.dt - 1e-9))
    first = touchdown_indices(contact[:, 0])
    rows = []
    for i, foot in enumerate(traj.foot_names):
        stance = [length for _, length in contact_spans(contact[:, i], traj.dt, 1.0)]
        swing = [length for _, length in contact_spans(~contact[:, i], traj.dt, 1.0)]
        downs = touchdown_indices(contact[:, i])
        lag = None
        if len(first) >= 2 and len(downs):
            period = float(np.median(np.diff(first)))
            lag = round(float(((downs[0] - first[0]) % period) / period), 3)
        rows.append(
            {
                "foot": foot,
                "duty_factor": round(float(contact[:, i].mean()), 3),
                "mean_stance_s": round(float(np.mean(stance)), 3) if stance else None,
                "mean_swing_s": round(float(np.mean(swing)), 3) if swing else None,
                "touchdowns": len(downs),
                "phase_lag": lag,
            }
        )
    return tuple(rows)


def _footfalls(traj, feats, path: Path) -> bytes:
    from lm_reward_learning.evaluation.plots import FootfallPanel, plot_footfalls

    gait = f" ({feats.gait})" if feats is not None and feats.gait else ""
    period = feats.stride_period_s if feats is not None else None
    panel = FootfallPanel(f"robot{gait}", traj.foot_contact, traj.dt, tuple(traj.foot_names), period)
    plot_footfalls(path, [panel], title="Robot footfalls (measured foot contacts)")
    return Path(path).read_bytes()


# --------------------------------------------------------------------------------------------- checking
_NEG = r"(?:does not|doesn't|did not|didn't|never|no longer|without)"
#: Phrases that claim a fact's value, by (fact, claimed value).
_CLAIMS: dict[tuple[str, bool], tuple[str, ...]] = {
    ("fell", False): (
        rf"\b{_NEG}\s+(?:fall|falling|tip(?:ping)? over|topple)",
        r"\b(?:stays|remains|stay|remain)\s+upright\b",
        r"\bkeeps?\s+(?:its\s+)?balance\b",
    ),
    ("fell", True): (r"\brobot\s+(?:falls|fell|tips over|topples|collapses)\b",),
    ("moved_forward", True): (
        r"\brobot\s+(?:walks|trots|runs|gallops|moves)\s+(?:forward\s+)?(?:well|steadily|quickly)\b",
    ),
    ("moved_forward", False): (rf"\brobot\s+{_NEG}\s+move\b", r"\bbarely moves\b", r"\bstands still\b"),
}


def contradictions(evidence: Evidence, data: Any, feedback: Feedback) -> list[dict[str, Any]]:
    """The facts an answer contradicts: its ``"observed"`` values, and its text's claims.

    Args:
        evidence: The measured facts.
        data: The answer's decoded JSON object.
        feedback: The answer as feedback (its problems and text are searched for claims).

    Returns:
        One record per contradicted fact: ``fact``, ``measured``, ``answer_said``, ``statement``.
    """
    observed = data.get("observed") if isinstance(data, dict) else None
    observed = observed if isinstance(observed, dict) else {}
    text = " ".join([*feedback.problems, feedback.text]).lower()
    out = []
    for fact in evidence.facts:
        said = observed.get(fact.name)
        claim = f'"observed": {{"{fact.name}": {str(said).lower()}}}' if isinstance(said, bool) else None
        if not isinstance(said, bool) or said == fact.value:
            said, claim = None, None
            for pattern in _CLAIMS.get((fact.name, not fact.value), ()):
                if (match := re.search(pattern, text)) is not None:
                    said, claim = not fact.value, f'"{match.group(0)}"'
                    break
        if said is not None and said != fact.value:
            out.append({"fact": fact.name, "measured": fact.value, "answer_said": claim, "statement": fact.statement})
    return out


def fix_text(wrong: list[dict[str, Any]]) -> str:
    """The contradictions in words, for the follow-up message."""
    return "; ".join(f"you wrote {w['answer_said']}, but measured: {w['statement']}" for w in wrong)


def overrule(feedback: Feedback, wrong: list[dict[str, Any]], evidence: Evidence) -> Feedback:
    """Feedback with the measured facts first among the problems and the overruled claims recorded.

    ``measurements["overruled"]`` holds one record per contradicted fact with the reason; the text
    says that the answer was overruled.
    """
    reason = "contradicts a measurement of the simulator state, which the answer cannot override"
    records = [{**w, "reason": reason} for w in wrong]
    facts = tuple(f"[measured] {w['statement']}" for w in wrong)
    note = " ".join(f"[overruled: the answer said {w['answer_said']}; measured: {w['statement']}]" for w in wrong)
    measurements = {**feedback.measurements, "overruled": records, "evidence": evidence.to_dict()}
    return dataclasses.replace(
        feedback, problems=facts + feedback.problems, text=f"{feedback.text} {note}".strip(), measurements=measurements
    )
