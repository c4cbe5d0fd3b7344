"""Per-term reward statistics (Eureka's "reward reflection" input), as the MuJoCo env keeps them.

Pure torch. The Isaac Lab reward term feeds every step's components here; the worker pops them after
every PPO iteration into the ``terms`` entry of the ``reward_stats.json`` record, in exactly the
MuJoCo backend's format (``MujocoVecEnv.pop_reward_stats``): ``{term: {"mean", "min", "max"}}`` over
all valid env steps, per policy step, before the ``dt`` factor.
"""

from __future__ import annotations

import math

import torch


class TermStats:
    """Running sum, minimum, maximum and count of each reward component."""

    def __init__(self) -> None:
        self._stats: dict[str, tuple[float, float, float, float]] = {}

    def add(self, components: dict[str, torch.Tensor], valid: torch.Tensor) -> None:
        """Accumulate one step.

        Args:
            components: ``{name: value}``, each of shape ``(N,)`` (already weighted, before ``dt``).
            valid: Envs whose step counts (not blown up). Shape ``(N,)``, bool.
        """
        valid = valid.reshape(-1).cpu()
        for k, v in components.items():
            v = torch.as_tensor(v, dtype=torch.float32).detach().reshape(-1).cpu()[valid]
            v = v[torch.isfinite(v)]
            if v.numel() == 0:
                continue
            s, lo, hi, cnt = self._stats.get(k, (0.0, math.inf, -math.inf, 0.0))
            self._stats[k] = (s + float(v.sum()), min(lo, float(v.min())), max(hi, float(v.max())), cnt + v.numel())

    def pop(self) -> dict[str, dict[str, float]]:
        """Statistics since the last call, ``{term: {"mean", "min", "max"}}``; then start over."""
        out = {k: {"mean": s / max(c, 1.0), "min": lo, "max": hi} for k, (s, lo, hi, c) in self._stats.items()}
        self._stats = {}
        return out
