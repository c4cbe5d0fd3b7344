"""Fixtures of the bi-level backend tests: the fake OpenAI server and the API key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bilevel_data import KEY_ENV, SECRET_KEY
from fake_openai_server import FakeOpenAIServer


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    """A started fake server, stopped after the test."""
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Put :data:`SECRET_KEY` into :data:`KEY_ENV`."""
    monkeypatch.setenv(KEY_ENV, SECRET_KEY)
    return SECRET_KEY
