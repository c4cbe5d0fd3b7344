"""Reward programs: the :class:`RewardState` contract, the validator, and loading programs.

Modules:

* :mod:`.state` — the backend-independent state ``compute_reward(state)`` sees.
* :mod:`.program` — :class:`~.program.RewardProgram` (source, name, hash, origin), loading a validated
  program, the bundled defaults (``defaults/<robot>.py``, package data).
* :mod:`.validator` — static checks (:mod:`.static_checks`) and the dry run in a child process
  (:mod:`._dry_run`) with time and memory limits.
* :mod:`.sandbox` — the restricted namespace shared by the dry run and the trainer.
* :mod:`.batch`, :mod:`.synthetic` — state batches on disk, and synthetic ones for tests.
"""
