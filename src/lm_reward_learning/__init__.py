"""lm_reward_learning: reward learning from internet videos with a VLM→LLM bi-level loop.

Implements Mahesheka et al., "Language-Model-Assisted Bi-Level Programming for Reward Learning from
Internet Videos" (arXiv 2410.09286) on top of MuJoCo (CPU default) and rsl-rl PPO.
"""

from __future__ import annotations

__version__ = "0.1.0"
