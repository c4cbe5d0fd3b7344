"""Reward programs as data: source text with a name, a hash and where it came from.

A program is never imported as a module or written into the package; it is compiled from its text in
the restricted namespace of :mod:`~lm_reward_learning.reward.sandbox` (the same one the validator's
dry run uses). The bundled defaults (``defaults/<robot>.py``) are package data read with
:mod:`importlib.resources`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from lm_reward_learning.errors import LmrlError, UnknownRobotError

if TYPE_CHECKING:
    from lm_reward_learning.reward.sandbox import RewardFn

#: Robots with a bundled default reward program (``defaults/<name>.py``).
DEFAULT_PROGRAM_ROBOTS: tuple[str, ...] = ("go2", "g1")


@dataclass(frozen=True)
class RewardProgram:
    """One reward program.

    Attributes:
        source: Python source defining ``compute_reward(state)``.
        name: Short name for logs and file names (e.g. ``"default_go2"``, ``"iter3_candidate2"``).
        origin: Provenance, e.g. ``"default:go2"``, ``"file:/path/reward.py"``,
            ``"llm:<model> iteration 3"``.
    """

    source: str
    name: str
    origin: str = ""

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the UTF-8 source text, exactly as stored (no normalisation)."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    @classmethod
    def from_file(cls, path: str | Path, *, name: str | None = None) -> RewardProgram:
        """Read a program from a text file; ``name`` defaults to the file's stem.

        Raises:
            LmrlError: if the file is missing, unreadable or not UTF-8 text.
        """
        path = Path(path)
        try:
            source = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise LmrlError(f"reward program {path} does not exist; give the path of a .py file") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise LmrlError(f"cannot read reward program {path}: {exc}") from exc
        return cls(source=source, name=name or path.stem, origin=f"file:{path.resolve()}")

    def load(self, *, trusted: bool = False) -> RewardFn:
        """Compile this (already validated) program; see :func:`load_reward_fn`."""
        return load_reward_fn(self.source, trusted=trusted)


def load_reward_fn(source: str, *, trusted: bool = False) -> RewardFn:
    """Compile an already validated program and return its ``compute_reward``.

    The function runs in the language sandbox shared with the validator's dry run (file name
    ``"<reward>"``, only the ``torch``/``math`` facades and safe builtins). Validate first with
    :func:`~lm_reward_learning.reward.validator.ensure_valid`; this does not repeat the checks.
    Outside a sealed sandbox process only bundled programs and ``trusted=True`` callers may do this
    (:func:`~lm_reward_learning.reward.sandbox.compile_reward_fn`).

    Returns:
        ``compute_reward``: ``RewardState -> (reward (N,), {name: (N,)})``.

    Raises:
        SandboxRequiredError: an untrusted program outside the sandbox.
        RewardValidationError: if the source does not compile or defines no ``compute_reward``.
    """
    from lm_reward_learning.reward.sandbox import compile_reward_fn  # imports torch: only when loading

    return compile_reward_fn(source, trusted=trusted)


def default_program(robot_name: str) -> RewardProgram:
    """Return the bundled default reward program of a robot (velocity tracking + regularisers).

    Raises:
        UnknownRobotError: if there is no default program for ``robot_name``.
    """
    if robot_name not in DEFAULT_PROGRAM_ROBOTS:
        available = ", ".join(DEFAULT_PROGRAM_ROBOTS)
        raise UnknownRobotError(f"no default reward program for robot '{robot_name}'; available: {available}")
    text = resources.files(__package__).joinpath("defaults", f"{robot_name}.py").read_text("utf-8")
    return RewardProgram(source=text, name=f"default_{robot_name}", origin=f"default:{robot_name}")
