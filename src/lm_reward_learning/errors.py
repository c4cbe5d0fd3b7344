"""Exception types of lm_reward_learning.

Every error a user can cause derives from :class:`LmrlError`; the CLI prints its message as one
paragraph and exits with code 2. Messages say what was wrong and what to do about it.
"""

from __future__ import annotations


class LmrlError(Exception):
    """Base class of user-facing errors (bad input, bad configuration, bad files)."""


class UnknownRobotError(LmrlError, KeyError):
    """A robot name is not in the registry (:func:`lm_reward_learning.robots.get_robot`)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConfigError(LmrlError, ValueError):
    """A configuration file or value is invalid (unknown key, wrong type, out of range)."""


class RewardValidationError(LmrlError, ValueError):
    """A reward program was rejected by the validator.

    Attributes:
        issues: The individual findings, each a line an LLM can act on
            (``"line 12: ... is not allowed; use ... instead"``).
    """

    def __init__(self, message: str, issues: list[str] | None = None) -> None:
        super().__init__(message)
        self.issues = list(issues or [])


class RunDirError(LmrlError):
    """A path given as a run directory is not one (missing ``run.yaml``) or is damaged."""


class CheckpointError(LmrlError):
    """A checkpoint is missing or cannot be loaded (truncated, corrupted, wrong robot)."""


class SimulationError(LmrlError, RuntimeError):
    """The simulator failed in a way that is not a per-episode blow-up (those only end the episode)."""


#: ``cause`` of a ``failure`` record written for a reward program (:class:`RewardRuntimeError`).
REWARD_PROGRAM = "reward_program"


class RewardRuntimeError(LmrlError, RuntimeError):
    """A validated reward program failed while training (it may behave in the dry run and fail later).

    Attributes:
        kind: ``timeout`` (a call ran past the per-call limit), ``memory`` (past the memory limit),
            ``sandbox`` (reached for something outside the language sandbox), ``output`` (returned
            something that is not ``(reward (N,), {name: (N,)})``) or ``exception`` (raised).
        line: The program's line where it happened, or None.
        call: Which call of ``compute_reward`` (1-based) failed, or None.
    """

    def __init__(self, message: str, kind: str = "exception", line: int | None = None, call: int | None = None):
        super().__init__(message)
        self.kind, self.line, self.call = kind, line, call

    def to_failure(self) -> dict[str, object]:
        """``{"cause": "reward_program", "kind", "line", "call", "message"}`` for ``run.yaml``,
        ``failed.json`` and worker results (``cause`` tells it from a worker that died or was stopped)."""
        return {"cause": REWARD_PROGRAM, "kind": self.kind, "line": self.line, "call": self.call, "message": str(self)}

    @staticmethod
    def is_failure(failure: object) -> bool:
        """Whether a ``run.yaml`` ``failure`` record is a reward program's (not a worker's)."""
        return isinstance(failure, dict) and failure.get("cause") == REWARD_PROGRAM

    @classmethod
    def from_failure(cls, failure: dict[str, object]) -> RewardRuntimeError:
        """Rebuild from :meth:`to_failure`."""
        line, call = failure.get("line"), failure.get("call")
        return cls(
            str(failure.get("message", "the reward program failed during training")),
            kind=str(failure.get("kind", "exception")),
            line=int(line) if isinstance(line, (int, float)) else None,
            call=int(call) if isinstance(call, (int, float)) else None,
        )
