"""Training with rsl-rl-lib's ``OnPolicyRunner`` and the run directory it writes into."""
