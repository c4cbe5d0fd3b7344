"""Reference gaits built from footfall definitions: the bound and the pronk (no motion capture of either).

The DeepMimic dog has no bound and no pronk, so these two references are synthetic quadruped gaits
(:func:`~lm_reward_learning.gait.synthetic.synthetic_gait`) whose footfall pattern is the gait's
definition and whose size and timing are the DeepMimic dog's:

* **Footfall phases** (touchdown lags of FR, RL, RR after FL, stride fractions) from M. Hildebrand,
  "Analysis of asymmetrical gaits", J. Mammalogy 58:131-156 (1977), and "The quadrupedal gaits of
  vertebrates", BioScience 39:766-775 (1989): in the **bound** the two forefeet land together and the
  two hindfeet land together, the girdles half a stride apart, ``(0, 0.5, 0.5)``; in the **pronk**
  all four feet land together, ``(0, 0, 0)``. They are the textbook phases of
  :data:`lm_reward_learning.gait.synthetic.TEXTBOOK_PHASES` and of the rules editor's gait patterns.
* **Size and timing** from the bundled clip of the same dog in its one asymmetrical (fast, suspended)
  gait, ``dog_canter`` (:mod:`lm_reward_learning.gait.reference`), measured when the reference is
  loaded: leg length and body length, stride frequency (2.22 Hz), forward speed, mean duty factor
  (0.31), mean base height and base-height oscillation. Hildebrand (1977) reports duty factors of
  0.2-0.5 for all asymmetrical gaits, the canter's included, so one value serves both.
* **Body rotation**: the bound keeps the canter's pitch oscillation (the girdles land in turn, so the
  trunk rocks fore and aft); the pronk has none (all feet land together, so nothing rocks it). Both
  are left-right symmetric, so neither rolls.

Each oscillation is a sine at the stride frequency with amplitude ``sqrt(2)`` times the canter's
standard deviation, so the reference's standard deviations equal the canter's. Sampled at the clip's
60 Hz, 27 samples a stride, for :data:`STRIDES` strides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lm_reward_learning.gait.trajectory import GaitTrajectory

#: Strides in a footfall reference (as many as the named clips' loops hold, plus two).
STRIDES = 8
#: Sample period, s: the DeepMimic dog clips' 60 Hz.
SAMPLE_PERIOD_S = 1.0 / 60.0
#: The bundled clip that gives size and timing.
TIMING_CLIP = "dog_canter"


@dataclass(frozen=True)
class FootfallReference:
    """One reference gait built from its footfall definition (module docstring).

    Attributes:
        phase_offsets: Touchdown lags of FL, FR, RL, RR after FL, stride fractions ``[0, 1)``.
        expected_gait: The class :mod:`lm_reward_learning.gait.classify` gives the pattern.
        pitch: Whether the trunk pitches with the canter's oscillation (else it stays level).
        source: The definition the phases come from.
    """

    phase_offsets: tuple[float, float, float, float]
    expected_gait: str
    pitch: bool
    source: str


#: The footfall references by name.
FOOTFALL_REFERENCES: dict[str, FootfallReference] = {
    "hildebrand_bound": FootfallReference(
        phase_offsets=(0.0, 0.0, 0.5, 0.5),
        expected_gait="bound",
        pitch=True,
        source="Hildebrand 1977: forefeet together, hindfeet together, girdles half a stride apart",
    ),
    "hildebrand_pronk": FootfallReference(
        phase_offsets=(0.0, 0.0, 0.0, 0.0),
        expected_gait="pronk",
        pitch=False,
        source="Hildebrand 1977/1989: all four feet land together",
    ),
}


def load_footfall_reference(name: str) -> GaitTrajectory:
    """The trajectory of footfall reference ``name`` (:data:`FOOTFALL_REFERENCES`).

    Returns:
        A :class:`GaitTrajectory` of ``STRIDES`` strides at 60 Hz (27 samples a stride), feet FL, FR,
        RL, RR, with the canter's leg length and body length; no joint data and no mass, so its cost
        of transport is not measured.

    Raises:
        KeyError: ``name`` is not a footfall reference (the caller,
            :func:`lm_reward_learning.gait.reference.load_reference`, checks names first).
    """
    from lm_reward_learning.gait.reference import reference_features
    from lm_reward_learning.gait.synthetic import synthetic_gait

    ref = FOOTFALL_REFERENCES[name]
    timing = reference_features(TIMING_CLIP)
    frequency = timing.stride_frequency_hz
    duty = sum(timing.duty_factor) / len(timing.duty_factor)
    return synthetic_gait(
        ref.phase_offsets,
        duty,
        frequency,
        dt=SAMPLE_PERIOD_S,
        duration_s=STRIDES / frequency,
        speed_mps=timing.forward_speed_mps,
        leg_length=timing.leg_length_m,
        body_length=timing.body_length_m,
        base_height=timing.base_height_mean_m,
        height_amplitude=math.sqrt(2.0) * timing.base_height_osc_m,
        pitch_amplitude=math.sqrt(2.0) * timing.base_pitch_osc_rad if ref.pitch else 0.0,
        name=name,
    )
