"""Reward programs: the :class:`RewardState` contract, the validator, and loading programs."""
