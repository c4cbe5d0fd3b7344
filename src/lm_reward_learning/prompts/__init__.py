"""Prompt templates of the bi-level loop, as versioned text files.

Each template is ``<name>_<version>.txt`` in this package (e.g. ``synthesis_system_v1.txt``), filled
with :meth:`str.format` named fields (literal braces are doubled). A changed prompt gets a new version
file, so results recorded with ``synthesis_system_v1`` stay reproducible. The message builders that
fill these templates live in :mod:`.messages`.

Templates (v1):

* ``feedback_system``, ``feedback_user``, ``feedback_measurements``, ``feedback_fix`` — upper level
  (VLM: expert video vs. rollout → four-part feedback JSON);
* ``synthesis_system``, ``synthesis_user``, ``eureka_user`` and the sections
  ``synthesis_feedback_section``, ``synthesis_reflection_section``, ``synthesis_retry_section`` —
  lower level (LLM: feedback → reward program).
"""

from __future__ import annotations

import importlib.resources
import string

from lm_reward_learning.errors import ConfigError

#: The version used when none is configured.
PROMPT_VERSION = "v1"


def template_id(name: str, version: str = PROMPT_VERSION) -> str:
    """Return the recorded identifier of a template, e.g. ``"synthesis_system_v1"``."""
    return f"{name}_{version}"


def available_versions(name: str) -> list[str]:
    """Return the versions present for template ``name``, sorted (e.g. ``["v1", "v2"]``)."""
    prefix = f"{name}_"
    root = importlib.resources.files(__package__)
    return sorted(
        entry.name[len(prefix) : -len(".txt")]
        for entry in root.iterdir()
        if entry.name.startswith(prefix) and entry.name.endswith(".txt") and "_" not in entry.name[len(prefix) : -4]
    )


def load_template(name: str, version: str = PROMPT_VERSION) -> str:
    """Return the text of template ``name`` at ``version``.

    Raises:
        ConfigError: if no such template exists (lists the versions that do).
    """
    resource = importlib.resources.files(__package__).joinpath(f"{template_id(name, version)}.txt")
    if not resource.is_file():
        versions = available_versions(name)
        raise ConfigError(
            f"no prompt template {template_id(name, version)!r}; "
            + (f"available versions of {name!r}: {versions}" if versions else f"{name!r} is not a template name")
            + ". Set the prompt version to one of them."
        )
    return resource.read_text(encoding="utf-8")


def template_fields(text: str) -> set[str]:
    """Return the named fields of a :meth:`str.format` template (``"{task}"`` → ``{"task"}``)."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def render(name: str, version: str = PROMPT_VERSION, **fields: object) -> str:
    """Fill template ``name`` at ``version`` with ``fields``.

    Raises:
        ConfigError: if the template does not exist.
        KeyError: if ``fields`` lacks a field of the template, or has one it does not use (a
            programming error: the template and its caller disagree).
    """
    text = load_template(name, version)
    needed = template_fields(text)
    if needed != set(fields):
        raise KeyError(f"template {template_id(name, version)!r} needs fields {sorted(needed)}, got {sorted(fields)}")
    return text.format(**fields)
