"""Objective gait yardstick: features, reference motions and a similarity score.

ROS-free and backend-free; numpy only. A reader compares a rollout with a reference gait like this:

.. code-block:: python

    from lm_reward_learning.gait import compute_features, reference_features, similarity

    result = similarity(compute_features(traj), reference_features("dog_trot"))
    print(result.table())  # per-feature table: why the two gaits differ

Modules: :mod:`~lm_reward_learning.gait.trajectory` (the input record),
:mod:`~lm_reward_learning.gait.contacts` (stride timing from contacts),
:mod:`~lm_reward_learning.gait.classify` (Hildebrand's gait classes),
:mod:`~lm_reward_learning.gait.features` (all features, with units and sources),
:mod:`~lm_reward_learning.gait.reference` (DeepMimic dog and human clips),
:mod:`~lm_reward_learning.gait.reference_file` (a user's reference file),
:mod:`~lm_reward_learning.gait.score` (similarity score and table),
:mod:`~lm_reward_learning.gait.synthetic` (gaits with known timing).
"""

from __future__ import annotations

from lm_reward_learning.gait.classify import BIPED_GAITS, QUADRUPED_GAITS, classify_gait
from lm_reward_learning.gait.features import GRAVITY, GaitFeatures, compute_features, features_from_contacts
from lm_reward_learning.gait.reference import (
    REFERENCE_NAMES,
    ReferenceMotionError,
    UnknownReferenceError,
    load_reference,
    reference_features,
    reference_gait,
    reference_label,
)
from lm_reward_learning.gait.score import DEFAULT_WEIGHTS, GaitMorphologyError, GaitScore, GaitScoreRow, similarity
from lm_reward_learning.gait.synthetic import TEXTBOOK_PHASES, synthetic_gait
from lm_reward_learning.gait.trajectory import GaitInputError, GaitTrajectory, TrajectoryTooShortError

__all__ = [
    "BIPED_GAITS",
    "DEFAULT_WEIGHTS",
    "GRAVITY",
    "QUADRUPED_GAITS",
    "REFERENCE_NAMES",
    "TEXTBOOK_PHASES",
    "GaitFeatures",
    "GaitInputError",
    "GaitMorphologyError",
    "GaitScore",
    "GaitScoreRow",
    "GaitTrajectory",
    "ReferenceMotionError",
    "TrajectoryTooShortError",
    "UnknownReferenceError",
    "classify_gait",
    "compute_features",
    "features_from_contacts",
    "load_reference",
    "reference_features",
    "reference_gait",
    "reference_label",
    "similarity",
    "synthetic_gait",
]
