"""Vectorised environments implementing rsl-rl's ``VecEnv`` contract (MuJoCo on the CPU)."""
