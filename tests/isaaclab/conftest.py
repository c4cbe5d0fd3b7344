"""Isaac Lab backend tests: the ``isaaclab`` marker (real Isaac Lab runs in ``.venv-isaaclab``)."""

from __future__ import annotations


def pytest_configure(config) -> None:
    # Registered here as well as (once added) in pyproject.toml, so --strict-markers accepts it.
    config.addinivalue_line(
        "markers", "isaaclab: runs Isaac Lab for real (needs .venv-isaaclab from scripts/setup_isaaclab.sh)"
    )
