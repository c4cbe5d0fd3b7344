"""Gait classes from footfall phases and duty factors, after Hildebrand.

Sources: M. Hildebrand, "Symmetrical gaits of horses", Science 150:701-708 (1965); M. Hildebrand,
"Analysis of asymmetrical gaits", J. Mammalogy 58:131-156 (1977); M. Hildebrand, "The quadrupedal
gaits of vertebrates", BioScience 39:766-775 (1989). Walk/run for bipeds by duty factor (Alexander,
"Optimization and gaits in the locomotion of vertebrates", Physiol. Rev. 69:1199-1227, 1989).

Phases are touchdown lags after the first foot, in stride fractions (see
:mod:`lm_reward_learning.gait.contacts`); ``d(a, b)`` is their circular distance in ``[0, 0.5]`` and
``tol`` is how close two footfalls must be to count as "in phase" or "half a stride apart": 0.1 of a
stride, widened by the sampling resolution ``r`` (one sample period over the stride period: a
touchdown is only seen on a sample, so at 50 Hz a 3 Hz stride has phases quantised to 0.06). The
symmetrical-gait tests (rules 2, and the biped's alternation) use ``tol + r``, so a one-sample lag of
any foot does not turn a trot, pace or walk into something else; the in-phase tests that separate
pronk and bound from the gallops (rules 1 and 3) use ``tol + r / 2`` (the quantisation alone), since
a gallop's lead (0.1-0.2 of a stride) must stay distinguishable from a pair in phase. At 11 samples
per stride (4.5 Hz at 50 Hz) a 0.15 lead is 1.6 samples: there a one-sample lag can make a gallop
read as a bound, a limit of the sampling, not of the rules.

Quadrupeds (feet FL, FR, RL, RR), rules applied in this order:

1. **pronk**: all four feet pairwise within ``tol``.
2. Symmetrical gaits (left and right feet of both the fore and the hind pair half a stride apart,
   ``|d(FL, FR) - 0.5| <= tol`` and ``|d(RL, RR) - 0.5| <= tol``), split by Hildebrand's *limb
   phase* ``λ = (φ_FL - φ_RL) mod 1`` (the lag of a forefoot after the hind foot of the same side):

   * **trot**: ``d(λ, 0.5) <= tol`` (diagonal pairs in phase, lateral pairs half a stride apart);
   * **pace**: ``d(λ, 0) <= tol`` (ipsilateral pairs in phase);
   * **walk**: otherwise (four evenly spread beats; ``λ < 0.5`` lateral-sequence, ``λ > 0.5``
     diagonal-sequence). A mean duty factor ``<= 0.5`` is reported as a *running walk* in the
     detail, since Hildebrand's walks have duty factor > 0.5.

3. **bound**: fore pair in phase and hind pair in phase (``d(FL, FR) <= tol`` and
   ``d(RL, RR) <= tol``), but not pronking.
4. **walk** (irregular): any other pattern with a mean duty factor above
   :data:`WALK_DUTY_FACTOR` (0.55): every foot is on the ground most of the stride, which asymmetrical
   running gaits never are (canters and gallops have duty factors of 0.2-0.5, Hildebrand 1977), so a
   slow, irregular shuffle is not a gallop.
5. **canter/gallop**: any other (asymmetrical) footfall pattern. Detail: *canter* when one diagonal
   pair is in phase (three beats); *half-bound* when exactly one girdle pair is in phase; otherwise a
   *transverse* gallop when the lead (second-landing) fore- and hindfoot are on the same side and a
   *rotary* gallop when they are on opposite sides.

Bipeds (feet left, right), with ``φ_R`` the lag of the right foot:

* **hop**: ``d(φ_R, 0) <= tol`` (both feet together);
* **walk** / **run**: ``|d(φ_R, 0) - 0.5| <= tol`` (alternating) with mean duty factor ``> 0.5``
  (double support) / ``<= 0.5`` (flight phases);
* **skip**: any other (asymmetrical) pattern.
"""

from __future__ import annotations

from itertools import combinations

from lm_reward_learning.gait.contacts import circular_distance

#: Gait classes this module can return for quadrupeds (FL, FR, RL, RR).
QUADRUPED_GAITS: tuple[str, ...] = ("walk", "trot", "pace", "canter/gallop", "bound", "pronk")
#: Gait classes this module can return for bipeds (left, right).
BIPED_GAITS: tuple[str, ...] = ("walk", "run", "hop", "skip")
#: Default tolerance for "in phase" / "half a stride apart", stride fractions (plus the sampling resolution).
PHASE_TOLERANCE = 0.1
#: Above this mean duty factor an asymmetrical pattern is an irregular walk, not a gallop (module docstring).
WALK_DUTY_FACTOR = 0.55


def classify_gait(
    phase_offsets: tuple[float | None, ...] | None,
    duty_factor: tuple[float, ...],
    tol: float = PHASE_TOLERANCE,
    *,
    resolution: float = 0.0,
) -> tuple[str | None, str | None]:
    """Classify a gait by the rules in the module docstring.

    Args:
        phase_offsets: Per-foot touchdown lags after the first foot, stride fractions ``[0, 1)``.
            4 entries (FL, FR, RL, RR) or 2 (left, right).
        duty_factor: Per-foot duty factors, same order.
        tol: Phase tolerance, stride fractions.
        resolution: Sampling resolution of the phases, stride fractions (sample period / stride
            period); added to ``tol``.

    Returns:
        ``(gait, detail)``: a class from :data:`QUADRUPED_GAITS` or :data:`BIPED_GAITS` and a short
        description (e.g. ``"rotary gallop, lead fore right, lead hind left"``), or ``(None, None)``
        when a phase is unknown or the number of feet is neither 4 nor 2.
    """
    if phase_offsets is None or any(p is None for p in phase_offsets):
        return None, None
    phases = [float(p) for p in phase_offsets if p is not None]  # all known: checked above
    mean_duty = sum(duty_factor) / len(duty_factor)
    res = max(resolution, 0.0)
    loose, near = tol + res + 1e-9, tol + res / 2 + 1e-9  # a lag of exactly ``tol`` counts as within it
    if len(phases) == 4:
        return _classify_quadruped(phases, mean_duty, loose, near)
    if len(phases) == 2:
        return _classify_biped(phases[1], mean_duty, loose)
    return None, None


def _classify_quadruped(phases: list[float], mean_duty: float, tol: float, near: float) -> tuple[str, str]:
    fl, fr, rl, rr = phases
    d = circular_distance
    if all(d(a, b) <= near for a, b in combinations(phases, 2)):
        return "pronk", "pronk (all four feet together)"
    fore, hind = d(fl, fr), d(rl, rr)
    if abs(fore - 0.5) <= tol and abs(hind - 0.5) <= tol:
        limb_phase = (fl - rl) % 1.0
        if d(limb_phase, 0.5) <= tol:
            kind = "walking trot" if mean_duty > 0.5 else "running trot"
            return "trot", f"{kind} (limb phase {limb_phase:.2f})"
        if d(limb_phase, 0.0) <= tol:
            return "pace", f"pace (limb phase {limb_phase:.2f})"
        sequence = "lateral-sequence" if limb_phase < 0.5 else "diagonal-sequence"
        kind = "walk" if mean_duty > 0.5 else "running walk"
        return "walk", f"{sequence} {kind} (limb phase {limb_phase:.2f})"
    if fore <= near and hind <= near:
        return "bound", "bound (fore pair and hind pair in phase)"
    if mean_duty > WALK_DUTY_FACTOR:
        return "walk", f"irregular walk (asymmetrical footfalls, duty factor {mean_duty:.2f} > {WALK_DUTY_FACTOR})"
    if d(fl, rr) <= near or d(fr, rl) <= near:
        return "canter/gallop", "canter (one diagonal pair in phase, three beats)"
    if fore <= near or hind <= near:
        return "canter/gallop", "half-bound (one girdle pair in phase)"
    fore_lead = "right" if (fr - fl) % 1.0 < 0.5 else "left"  # the second foot of the pair to land
    hind_lead = "right" if (rr - rl) % 1.0 < 0.5 else "left"
    kind = "transverse" if fore_lead == hind_lead else "rotary"
    return "canter/gallop", f"{kind} gallop, lead fore {fore_lead}, lead hind {hind_lead}"


def _classify_biped(right_phase: float, mean_duty: float, tol: float) -> tuple[str, str]:
    lag = circular_distance(right_phase, 0.0)
    if lag <= tol:
        return "hop", "hop (both feet together)"
    if abs(lag - 0.5) <= tol:
        if mean_duty > 0.5:
            return "walk", f"walk (duty factor {mean_duty:.2f} > 0.5: double support)"
        return "run", f"run (duty factor {mean_duty:.2f} <= 0.5: flight phases)"
    return "skip", f"skip (right foot lags left by {right_phase:.2f} of a stride)"
