"""One local Ray instance (2 CPUs) for all parallel tests: starting Ray costs ~10 s."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_executor():
    """A :class:`RayExecutor` on a local instance with ``num_cpus=2``; shut down at the end."""
    pytest.importorskip("ray", reason="ray is not installed (pip install 'lm_reward_learning[ray]')")
    import toy_tasks
    from ray import cloudpickle

    from lm_reward_learning.parallel import RayExecutor

    cloudpickle.register_pickle_by_value(toy_tasks)  # the Ray workers cannot import the tests folder
    ex = RayExecutor(num_cpus=2)
    yield ex
    ex.close()
