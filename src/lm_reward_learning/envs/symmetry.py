"""Left-right symmetry augmentation for PPO (rsl-rl-lib's ``Symmetry`` extension).

A robot with a :attr:`~lm_reward_learning.robots.spec.RobotSpec.mirror` table is symmetric about its
sagittal (x-z) plane. Reflecting a state through that plane maps each joint to its mirror joint (left
↔ right) with the sign of its table entry (roll and yaw angles change sign, pitch angles do not),
vectors in the base frame to ``(x, -y, z)`` and angular velocities to ``(-x, y, -z)``; the gait clock's
phase moves half a stride (the right foot follows the left half a stride later), which negates its sin
and cos. :func:`mirror_augmentation` appends the mirrored copy of every PPO mini-batch (Mittal et al.,
"Symmetry Considerations for Learning Task Symmetric Robot Policies", ICRA 2024, as in rsl-rl-lib and
Isaac Lab's symmetric locomotion tasks), so each env step teaches the policy both sides.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tensordict import TensorDict

from lm_reward_learning.errors import ConfigError
from lm_reward_learning.robots.spec import RobotSpec

# Per-entry signs of the vector terms under the sagittal reflection (base frame: x forward, y left, z up).
_VECTOR_SIGNS = {
    "base_ang_vel": (-1.0, 1.0, -1.0),  # an angular velocity is a pseudovector
    "projected_gravity": (1.0, -1.0, 1.0),
    "velocity_commands": (1.0, -1.0, -1.0),  # (v_x, v_y, yaw rate)
    "base_lin_vel": (1.0, -1.0, 1.0),
    "base_height": (1.0,),
    "gait_clock": (-1.0, -1.0),  # phase + 1/2
}
_JOINT_TERMS = ("joint_pos_rel", "joint_vel_rel", "last_action")


def _swap_side(name: str) -> str:
    for a, b in (("left", "right"), ("right", "left")):
        if a in name:
            return name.replace(a, b)
    return name


def joint_mirror(spec: RobotSpec) -> tuple[np.ndarray, np.ndarray]:
    """``(index, sign)`` with ``mirrored[:, i] = sign[i] * values[:, index[i]]`` for joint-ordered values.

    Raises:
        ConfigError: the robot has no mirror table, or the table lacks one of ``spec.joint_names``.
    """
    if not spec.mirror:
        raise ConfigError(f"robot {spec.name!r} has no mirror table; ppo.symmetry needs one (robots/<name>.py).")
    where = {j: i for i, j in enumerate(spec.joint_names)}
    try:
        pairs = [spec.mirror[j] for j in spec.joint_names]
        index = np.array([where[other] for other, _ in pairs])
    except KeyError as exc:
        raise ConfigError(f"robot {spec.name!r}: mirror table and joint group disagree on {exc.args[0]!r}") from None
    return index, np.array([sign for _, sign in pairs])


def _group_mirror(spec: RobotSpec, terms: list[Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """Index and sign vectors mirroring one observation group (terms of ``observation_layout``)."""
    j_index, j_sign = joint_mirror(spec)
    feet = [spec.foot_sites.index(_swap_side(f)) for f in spec.foot_sites]
    index, sign, offset = [], [], 0
    for term in terms:
        if term.name in _JOINT_TERMS:
            index += list(offset + j_index)
            sign += list(j_sign)
        elif term.name == "foot_contact":
            index += [offset + k for k in feet]
            sign += [1.0] * term.size
        elif term.name in _VECTOR_SIGNS and len(_VECTOR_SIGNS[term.name]) == term.size:
            index += list(range(offset, offset + term.size))
            sign += list(_VECTOR_SIGNS[term.name])
        else:
            raise ConfigError(f"no mirror rule for observation term {term.name!r} (size {term.size})")
        offset += term.size
    return torch.tensor(index, dtype=torch.long), torch.tensor(sign, dtype=torch.float32)


def mirror_augmentation(
    env: Any, obs: TensorDict | None = None, actions: torch.Tensor | None = None
) -> tuple[TensorDict | None, torch.Tensor | None]:
    """rsl-rl-lib ``data_augmentation_func``: the batch followed by its mirror image.

    Args:
        env: The :class:`~lm_reward_learning.envs.mujoco_env.MujocoVecEnv` (its ``spec`` and ``layout``).
        obs: Observation groups ``policy`` (B, D_policy) and ``critic`` (B, D_critic), or None.
        actions: Actions (B, J), or None.

    Returns:
        ``(obs', actions')`` of batch size 2B (originals first), None where the input was None.

    Raises:
        ConfigError: the robot has no mirror table or a term has no mirror rule.
    """
    cache = env.__dict__.setdefault("_mirror_cache", {})
    if not cache:
        for group, terms in env.layout.items():
            cache[group] = _group_mirror(env.spec, terms)
        index, sign = joint_mirror(env.spec)
        cache["actions"] = (torch.as_tensor(index), torch.as_tensor(sign, dtype=torch.float32))
    out_obs = out_actions = None
    if obs is not None:
        mirrored = {}
        for group, x in obs.items():
            index, sign = cache[group]
            mirrored[group] = torch.cat([x, x[:, index] * sign.to(x.dtype)], dim=0)
        out_obs = TensorDict(mirrored, batch_size=[2 * obs.batch_size[0]])
    if actions is not None:
        index, sign = cache["actions"]
        out_actions = torch.cat([actions, actions[:, index] * sign.to(actions.dtype)], dim=0)
    return out_obs, out_actions
