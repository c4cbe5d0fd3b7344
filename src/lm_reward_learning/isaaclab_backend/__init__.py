"""Isaac Lab backend: train a reward program through Isaac Lab 3 (kit-less, Newton physics).

The backend has two halves that never share a process:

* In the main environment (``.venv``, MuJoCo 4): :mod:`~.state_mapping` (pure torch: builds our
  :class:`~lm_reward_learning.reward.state.RewardState` from Isaac Lab's asset and sensor tensors) and
  :mod:`~.launcher` (:func:`~.launcher.train_isaaclab` starts the worker, follows its progress file,
  cancels it, raises :class:`~.launcher.IsaacLabError`).
* In Isaac Lab's own environment (``.venv-isaaclab``, built by ``scripts/setup_isaaclab.sh``):
  :mod:`~.worker` (the process entry point), :mod:`~.task` (the manager-based velocity task whose one
  reward term calls the reward program), :mod:`~.usd_assets` (USD made from our vendored MJCF, run
  once by the setup script).

Importing this package imports neither ``isaaclab`` nor a simulator: only the modules that run in the
Isaac Lab environment import it, and only inside functions (house rule: only the Isaac Lab backend
imports ``isaaclab``).
"""

from __future__ import annotations
