"""A gait similarity score in [0, 1] between a rollout and a reference, with a per-feature table.

Each feature ``i`` gets a normalised error ``e_i >= 0`` (0 = identical; 1 = "clearly different",
see the list below), a similarity ``s_i = exp(-e_i)`` and a weight ``w_i``. The score is

    score = Σ_i w_i s_i / Σ_i w_i        over the features measured on both sides,

so it is 1 exactly when every compared feature is equal and falls strictly as any error grows.

What counts (issue 13: the score must mean the same thing in absolute terms):

* A feature the **reference** lacks (``None``: cost of transport of motion capture, base features of
  a video) is skipped and the other weights renormalised; the table says so.
* A feature the reference has but the **robot does not produce** counts with similarity 0 (it is
  not dropped, which would reward not producing it).
* A robot that **does not stride** (fewer than two strides: no phase offsets) against a reference
  that does gets similarity 0 on every feature that describes striding (stride frequency, duty
  factor, phases, flight, the oscillations of height, pitch and roll), so standing still scores
  about the base-height term alone (<= 0.05).
* The **morphology** must match: a biped against a quadruped reference (or the reverse) is an error,
  not a low score.

Sizes are removed with Alexander & Jayes' dynamic similarity (J. Zool. 201:135, 1983): speed is
compared as ``v / sqrt(g L)`` (the signed square root of the Froude number), stride frequency as
``f sqrt(L / g)``, heights as fractions of the leg length ``L``; a 30 cm robot can then match a dog.

Normalised errors and default weights (``r`` rollout, ``ref`` reference, ``L`` leg length):

* ``froude_number`` (weight 2.0): ``|û_r - û_ref| / (0.25 max(|û_ref|, 0.2))`` with
  ``û = v / sqrt(g L)``; e = 1 at 25 % of the reference speed.
* ``stride_frequency`` (2.0): ``|f̂_r - f̂_ref| / (0.25 f̂_ref)`` with ``f̂ = f sqrt(L / g)``; 25 %.
* ``duty_factor`` (2.0): mean over feet of ``|β_r - β_ref|``, divided by ``0.1 + 0.3 |Δû|``.
* ``phase_offsets`` (3.0): mean over the feet other than the reference foot (whose phase is 0 by
  definition) of the circular distance ``|φ_r - φ_ref|`` (stride fractions, at most 0.5), divided
  by 0.1.
* ``flight_fraction`` (1.0): ``|Δ| / (0.1 + 0.25 |Δû|)``.

  Duty factor and flight fraction change with speed even within one gait (Alexander & Jayes 1983,
  Fig. 4: quadrupeds' duty factor falls from about 0.6 to 0.3 as ``û`` goes from 0.5 to 1.5, a slope
  of about 0.3 per unit ``û``), so their tolerance widens with the speed gap ``Δû = û_r - û_ref``: a
  robot that cannot reach the reference's speed can still match its pattern, while the speed gap
  itself is scored once, by ``froude_number``. When the evaluation could only command a slower
  speed than the reference's (the trained range), ``reachable_speed_mps`` makes ``froude_number``
  compare the robot with the speed it was asked for, and the table says the reference is out of
  range.
* ``base_height`` (0.5): ``|h_r / L_r - h_ref / L_ref| / 0.1`` (mean base height).
* ``base_height_osc`` (0.5): ``|σ_r / L_r - σ_ref / L_ref| / 0.02`` (its standard deviation).
* ``base_pitch_osc``, ``base_roll_osc`` (0.5 each): ``|Δσ| / 0.05 rad`` (about 3°).
* ``cost_of_transport`` (0.5): ``|ln(CoT_r / CoT_ref)| / ln 2``; e = 1 at a factor of 2.
* ``gait`` (0.0): 0 when the classes match, else 1; shown for the reader but unweighted by default,
  since the phases and duty factors already carry it.

Weights reflect what makes a gait recognisable: the footfall pattern first (phases, 3.0: it is the
gait in Hildebrand's sense), then timing and speed (2.0 each: dynamic similarity says equal gaits
have equal dimensionless speed, frequency and duty factor), flight (1.0: it separates running gaits
from walking ones but is small in both), then body motion and energy (0.5 each: they follow from the
rest and are noisy in motion capture). Pass ``weights`` to change them (unknown names are an error).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lm_reward_learning.gait.contacts import circular_distance
from lm_reward_learning.gait.features import GRAVITY, GaitFeatures
from lm_reward_learning.gait.trajectory import GaitInputError

#: Features that describe striding: similarity 0 for a robot that does not stride (module docstring).
STRIDE_FEATURES: frozenset[str] = frozenset(
    {"stride_frequency", "duty_factor", "phase_offsets", "flight_fraction", "base_height_osc", "base_pitch_osc",
     "base_roll_osc", "gait"}
)  # fmt: skip
#: Widening of the duty-factor and flight-fraction tolerances per unit of dimensionless speed gap
#: (Alexander & Jayes 1983, Fig. 4; module docstring).
DUTY_SLOPE, FLIGHT_SLOPE = 0.3, 0.25


class GaitMorphologyError(GaitInputError):
    """The robot and the reference have different numbers of feet (a biped against a quadruped)."""

#: Default weight of each feature (see the module docstring).
DEFAULT_WEIGHTS: dict[str, float] = {
    "froude_number": 2.0,
    "stride_frequency": 2.0,
    "duty_factor": 2.0,
    "phase_offsets": 3.0,
    "flight_fraction": 1.0,
    "base_height": 0.5,
    "base_height_osc": 0.5,
    "base_pitch_osc": 0.5,
    "base_roll_osc": 0.5,
    "cost_of_transport": 0.5,
    "gait": 0.0,
}

Value = float | str | tuple | None


@dataclass(frozen=True)
class GaitScoreRow:
    """One feature's line in the comparison table.

    Attributes:
        feature: Feature name (a key of :data:`DEFAULT_WEIGHTS`).
        robot: The rollout's value (as measured, before normalisation).
        reference: The reference's value.
        error: Normalised error ``e`` (``None`` when skipped).
        similarity: ``exp(-e)`` in ``(0, 1]`` (``None`` when skipped).
        weight: The weight given.
        contribution: ``weight * similarity / Σ weights used``; the contributions sum to the score.
        note: Why a feature was skipped, or how it was compared.
    """

    feature: str
    robot: Value
    reference: Value
    error: float | None
    similarity: float | None
    weight: float
    contribution: float
    note: str = ""


@dataclass(frozen=True)
class GaitScore:
    """Similarity of a rollout to a reference.

    Attributes:
        score: Weighted mean similarity in ``[0, 1]`` (1 = same gait in every compared feature).
        rows: The per-feature table, in :data:`DEFAULT_WEIGHTS` order.
    """

    score: float
    rows: tuple[GaitScoreRow, ...]

    def table(self) -> str:
        """The per-feature table as Markdown, with the score on the last line."""
        lines = [
            "| feature | robot | reference | error | similarity | weight | contribution | note |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in self.rows:
            cells = [
                r.feature,
                _fmt(r.robot),
                _fmt(r.reference),
                _fmt(r.error),
                _fmt(r.similarity),
                _fmt(r.weight),
                _fmt(r.contribution),
                r.note,
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append(f"\nscore = {self.score:.3f}")
        return "\n".join(lines)


def similarity(
    robot: GaitFeatures,
    reference: GaitFeatures,
    weights: Mapping[str, float] | None = None,
    *,
    reachable_speed_mps: float | None = None,
) -> GaitScore:
    """Score how closely a rollout's gait matches a reference gait (see the module docstring).

    Args:
        robot: Features of the rollout.
        reference: Features of the reference (e.g. :func:`lm_reward_learning.gait.reference_features`).
        weights: Weights replacing the defaults for the named features.
        reachable_speed_mps: The fastest speed the robot could be asked for (the command the
            evaluation held, clipped to the trained range), m/s. When the reference, scaled to the
            robot by equal Froude number, is faster, ``froude_number`` compares with this speed and
            says so.

    Returns:
        The :class:`GaitScore` with its per-feature table.

    Raises:
        GaitMorphologyError: the robot and the reference have different numbers of feet.
        GaitInputError: Unknown feature names or negative weights, or no feature with a positive
            weight could be compared.
    """
    if len(robot.foot_names) != len(reference.foot_names):
        kinds = {2: "a biped", 4: "a quadruped"}
        raise GaitMorphologyError(
            f"cannot compare {kinds.get(len(robot.foot_names), 'a robot')} ({len(robot.foot_names)} feet) with "
            f"{kinds.get(len(reference.foot_names), 'a reference')} reference ({len(reference.foot_names)} feet); "
            "choose a reference of the robot's kind (dog_* for a quadruped, human_* for a biped, or a file)"
        )
    w = dict(DEFAULT_WEIGHTS)
    for key, value in (weights or {}).items():
        if key not in DEFAULT_WEIGHTS:
            raise GaitInputError(f"unknown gait feature weight {key!r}; known: {', '.join(DEFAULT_WEIGHTS)}")
        if not (math.isfinite(value) and value >= 0):
            raise GaitInputError(f"weight of {key!r} must be a finite number >= 0; got {value!r}")
        w[key] = float(value)

    gap = _speed_gap(robot, reference)
    still = robot.phase_offsets is None and reference.phase_offsets is not None
    compared: list[tuple[str, Value, Value, float | None, str]] = []
    for feature, compare in _COMPARISONS.items():
        if feature == "froude_number":
            rv, fv, err, note = _speed(robot, reference, reachable_speed_mps)
        elif feature in ("duty_factor", "flight_fraction"):
            rv, fv, err, note = compare(robot, reference, gap)
        else:
            rv, fv, err, note = compare(robot, reference)
        if still and feature in STRIDE_FEATURES and fv is not None:
            err, note = math.inf, "the robot does not stride: similarity 0"
        elif err is None and fv is not None and rv is None:
            err, note = math.inf, "not produced by the robot: similarity 0"
        compared.append((feature, rv, fv, err, note))
    total = sum(w[f] for f, _, _, err, _ in compared if err is not None)
    if total <= 0:
        raise GaitInputError("no weighted gait feature is measured on both sides; nothing to compare")
    rows = []
    for feature, rv, fv, err, note in compared:
        sim = None if err is None else math.exp(-err)
        contribution = 0.0 if sim is None else w[feature] * sim / total
        rows.append(GaitScoreRow(feature, rv, fv, err, sim, w[feature], contribution, note))
    score = sum(r.contribution for r in rows)
    return GaitScore(score=min(max(score, 0.0), 1.0), rows=tuple(rows))


def _speed_gap(r: GaitFeatures, f: GaitFeatures) -> float:
    """``|û_r - û_ref|`` (0 when either speed is unknown)."""
    ur, uf = r.dimensionless_speed, f.dimensionless_speed
    return 0.0 if ur is None or uf is None else abs(ur - uf)


_Compared = tuple[Value, Value, float | None, str]


def _missing(rv: Value, fv: Value, what: str = "") -> _Compared:
    side = "either side" if rv is None and fv is None else "the robot" if rv is None else "the reference"
    return rv, fv, None, what or f"skipped: not measured on {side}"


def _speed(r: GaitFeatures, f: GaitFeatures, reachable_mps: float | None = None) -> _Compared:
    ur, uf = r.dimensionless_speed, f.dimensionless_speed
    if ur is None or uf is None:
        return _missing(r.froude_number, f.froude_number)
    note = "as v/sqrt(gL)"
    if reachable_mps is not None and r.leg_length_m is not None:
        reachable = reachable_mps / math.sqrt(GRAVITY * r.leg_length_m)
        if abs(reachable) < abs(uf) - 1e-6:
            note = (
                f"reference speed (û {uf:.2f}, {uf * math.sqrt(GRAVITY * r.leg_length_m):.2f} m/s at this size) is "
                f"outside the trained range: compared with the reachable {reachable_mps:.2f} m/s"
            )
            uf = reachable
    return r.froude_number, f.froude_number, abs(ur - uf) / (0.25 * max(abs(uf), 0.2)), note


def _frequency(r: GaitFeatures, f: GaitFeatures) -> _Compared:
    fr, ff = r.dimensionless_stride_frequency, f.dimensionless_stride_frequency
    if fr is None or ff is None:
        return _missing(r.stride_frequency_hz, f.stride_frequency_hz)
    return r.stride_frequency_hz, f.stride_frequency_hz, abs(fr - ff) / (0.25 * ff), "Hz; as f*sqrt(L/g)"


def _per_foot(
    name: str, distance: Callable[[float, float], float], scale: float, first: int = 0, slope: float = 0.0
) -> Callable[..., _Compared]:
    def compare(r: GaitFeatures, f: GaitFeatures, gap: float = 0.0) -> _Compared:
        rv, fv = getattr(r, name), getattr(f, name)
        if rv is None or fv is None:
            return _missing(rv, fv)
        pairs = [(a, b) for a, b in zip(rv[first:], fv[first:], strict=True) if a is not None and b is not None]
        if not pairs:
            return _missing(rv, fv, "skipped: no foot measured on both sides")
        tol = scale + slope * gap
        err = sum(distance(a, b) for a, b in pairs) / len(pairs) / tol
        note = f"mean over {len(pairs)} feet" + (f"; tolerance {tol:.2f} at this speed gap" if slope and gap else "")
        return _round(rv), _round(fv), err, note

    return compare


def _scalar(
    get: Callable[[GaitFeatures], float | None], scale: float, note: str = "", slope: float = 0.0
) -> Callable[..., _Compared]:
    def compare(r: GaitFeatures, f: GaitFeatures, gap: float = 0.0) -> _Compared:
        rv, fv = get(r), get(f)
        if rv is None or fv is None:
            return _missing(rv, fv)
        return rv, fv, abs(rv - fv) / (scale + slope * gap), note

    return compare


def _per_leg(value: float | None, leg: float | None) -> float | None:
    return None if value is None or leg is None else value / leg


def _cost(r: GaitFeatures, f: GaitFeatures) -> _Compared:
    rv, fv = r.cost_of_transport, f.cost_of_transport
    if rv is None or fv is None or rv <= 0 or fv <= 0:
        return _missing(rv, fv)
    return rv, fv, abs(math.log(rv / fv)) / math.log(2.0), "log ratio; 1 = factor 2"


def _gait(r: GaitFeatures, f: GaitFeatures) -> _Compared:
    if r.gait is None or f.gait is None:
        return _missing(r.gait, f.gait)
    same = r.gait == f.gait
    return r.gait, f.gait, 0.0 if same else 1.0, "same class" if same else "different class"


_COMPARISONS: dict[str, Callable[..., _Compared]] = {
    "froude_number": _speed,
    "stride_frequency": _frequency,
    "duty_factor": _per_foot("duty_factor", lambda a, b: abs(a - b), 0.1, slope=DUTY_SLOPE),
    "phase_offsets": _per_foot("phase_offsets", circular_distance, 0.1, first=1),  # reference foot is 0
    "flight_fraction": _scalar(lambda x: x.flight_fraction, 0.1, slope=FLIGHT_SLOPE),
    "base_height": _scalar(lambda x: _per_leg(x.base_height_mean_m, x.leg_length_m), 0.1, "leg lengths"),
    "base_height_osc": _scalar(lambda x: _per_leg(x.base_height_osc_m, x.leg_length_m), 0.02, "leg lengths"),
    "base_pitch_osc": _scalar(lambda x: x.base_pitch_osc_rad, 0.05, "rad"),
    "base_roll_osc": _scalar(lambda x: x.base_roll_osc_rad, 0.05, "rad"),
    "cost_of_transport": _cost,
    "gait": _gait,
}


def _round(values: tuple) -> tuple:
    return tuple(None if v is None else round(float(v), 3) for v in values)


def _fmt(value: Value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return str(value)
