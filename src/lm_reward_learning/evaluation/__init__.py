"""Evaluation against reference gaits: ``lmrl evaluate`` (one policy) and ``lmrl compare`` (methods × seeds).

* :func:`~lm_reward_learning.evaluation.evaluate.evaluate` rolls a training run, a learn run or an
  exported ONNX policy out, measures its gait features and scores them against a reference gait
  (``dog_trot``, ...), writing ``evaluation.json`` and footfall diagrams.
* :func:`~lm_reward_learning.evaluation.compare.run_compare` reruns the paper's comparison on one task
  (ours, Eureka, Human-as-VLM, the initial reward) with fixed seeds and budgets and writes a table and
  a bar chart.
"""

from __future__ import annotations

from lm_reward_learning.evaluation.evaluate import EvaluationResult, default_command, evaluate
from lm_reward_learning.evaluation.targets import EvaluationError, PolicyTarget, resolve_target

__all__ = ["EvaluationError", "EvaluationResult", "PolicyTarget", "default_command", "evaluate", "resolve_target"]
