"""Real Isaac Lab runs (``.venv-isaaclab``): the cross-engine check and the event terms' physics.

* unitree_rl_gym's sim-to-sim check: the shipped MuJoCo-trained Go2 policy walks in the Isaac Lab task
  at >= 80 % of its MuJoCo speed without falling (issue 10).
* A payload event (``mdp.randomize_rigid_body_mass``, ``operation="add"``) raises the summed foot
  contact force by m g, as in the MuJoCo env.

About 80 s per Isaac Lab start on 2 cores with a warm Warp kernel cache.
"""

from __future__ import annotations

import pytest

from lm_reward_learning.evaluation.battery import battery, command_sequence, metrics
from lm_reward_learning.evaluation.robustness import run_mujoco
from lm_reward_learning.evaluation.targets import resolve_target
from lm_reward_learning.isaaclab_backend.launcher import IsaacLabUnavailableError, check_available

pytestmark = [pytest.mark.isaaclab, pytest.mark.slow]

POLICY = "policies/go2/flat_walk"
EPISODES = 4
DURATION_S = 12.0


@pytest.fixture(scope="module")
def target():
    try:
        check_available("go2")
    except IsaacLabUnavailableError as exc:
        pytest.skip(f"Isaac Lab venv not built: {exc}")
    return resolve_target(POLICY)


@pytest.fixture(scope="module")
def nominal_isaaclab(target):
    from lm_reward_learning.isaaclab_backend.robustness import run_isaaclab

    return run_isaaclab(target, battery()[0], EPISODES, DURATION_S, 0, command_sequence(target.command_ranges))


def test_shipped_mujoco_policy_walks_in_isaac_lab(target, nominal_isaaclab) -> None:
    seq = command_sequence(target.command_ranges)
    changes = [t for t, _ in seq]
    policy, spec, env_cfg, check = target.load()
    mujoco = metrics(run_mujoco(policy, spec, env_cfg, check, battery()[0], EPISODES, DURATION_S, 0, seq), changes)
    isaac = metrics(nominal_isaaclab, changes)
    assert isaac["success_rate"] == 1.0  # no fall
    assert isaac["mean_speed_mps"] >= 0.8 * mujoco["mean_speed_mps"]  # measured: 0.711 against 0.716 m/s


def test_payload_event_raises_foot_force_by_m_g(target, nominal_isaaclab) -> None:
    from lm_reward_learning.isaaclab_backend.robustness import run_isaaclab

    cond = next(c for c in battery() if c.name == "payload_plus_3kg")
    loaded = run_isaaclab(target, cond, EPISODES, DURATION_S, 0, command_sequence(target.command_ranges))
    extra = loaded.extra["foot_force_sum_n"][100:].mean() - nominal_isaaclab.extra["foot_force_sum_n"][100:].mean()
    assert extra == pytest.approx(3.0 * 9.81, rel=0.2)  # averaged over 10 s of walking
    assert (loaded.mass_kg - nominal_isaaclab.mass_kg) == pytest.approx(3.0)
