"""Data passed between the levels of the loop, and the backend Protocols.

Upper level: a :class:`FeedbackBackend` compares the expert video with the robot's rollout and returns
:class:`Feedback` in the paper's four-part format (problems; components to rewrite, remove, add) plus
free text. Lower level: a :class:`SynthesisBackend` turns feedback, the current reward program, the
environment description and the reward reflection (per-term training statistics) into a new program.

Backends: ``openai`` (any OpenAI-compatible endpoint), ``human`` (the paper's "Human as VLM"
baseline), ``motion`` (offline heuristic analyser, not a VLM) for feedback; ``openai``, ``rules``
(offline deterministic editor) and ``reflection`` (offline Eureka-style reflection tuner) for synthesis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class ComponentChange:
    """One reward component the feedback wants rewritten or added.

    Attributes:
        name: Term name, ``<quantity>_<kernel>`` (``track_lin_vel_xy_exp``, ``gait_frequency_exp``), or
            ``""`` for a free-text item (``"reward forward speed"``): the synthesis backend picks the term.
        instruction: What to change, in words.
        params: Suggested numeric values (e.g. ``{"target_hz": 2.1, "weight": 0.5}``); may be empty.
    """

    name: str
    instruction: str
    params: dict[str, float] = field(default_factory=dict)


#: Gait classes a feedback's gait pattern may name (Hildebrand's, as :mod:`lm_reward_learning.gait.classify`).
GAIT_PATTERN_CLASSES: tuple[str, ...] = (
    "walk", "trot", "pace", "bound", "half-bound", "canter", "gallop", "transverse gallop", "rotary gallop", "pronk",
    "run", "hop", "skip",
)  # fmt: skip


@dataclass(frozen=True)
class GaitPattern:
    """The expert's footfall pattern as the upper level sees it (every field optional).

    Attributes:
        gait: A class of :data:`GAIT_PATTERN_CLASSES`, or None.
        phase_offsets: Touchdown lags after the first foot, stride fractions ``[0, 1)``: FR, RL, RR after
            FL (3 values), or the right foot after the left (1 value); None to use the class's textbook
            phases.
        duty_factor: Fraction of the stride each foot is on the ground, ``(0, 1)``.
        frequency_hz: Stride frequency, Hz (for the robot, at its size).
    """

    gait: str | None = None
    phase_offsets: tuple[float, ...] | None = None
    duty_factor: float | None = None
    frequency_hz: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "gait": self.gait,
            "phase_offsets": None if self.phase_offsets is None else list(self.phase_offsets),
            "duty_factor": self.duty_factor,
            "frequency_hz": self.frequency_hz,
        }


@dataclass(frozen=True)
class Feedback:
    """Upper-level output: the paper's four parts plus free text.

    Attributes:
        problems: What differs between the expert and the robot, one item each.
        rewrite: Components to rewrite.
        remove: Names of components to remove.
        add: Components to add.
        text: Free-text summary.
        backend: Which backend wrote it, labelled honestly (e.g. ``"motion (heuristic analyser, not a
            VLM)"``, ``"openai:gpt-4o"``, ``"human"``).
        raw: The raw response (model output, the person's text, or the analyser's report as JSON).
        measurements: Measured quantities behind the feedback (expert vs robot), if any.
        gait_pattern: The footfall pattern the robot should show, if the backend gave one (the rules
            editor applies it with the library's pattern, timing and flight terms).
    """

    problems: tuple[str, ...]
    rewrite: tuple[ComponentChange, ...] = ()
    remove: tuple[str, ...] = ()
    add: tuple[ComponentChange, ...] = ()
    text: str = ""
    backend: str = ""
    raw: str = ""
    measurements: dict[str, Any] = field(default_factory=dict)
    gait_pattern: GaitPattern | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``gait_pattern`` only when given)."""
        extra = {} if self.gait_pattern is None else {"gait_pattern": self.gait_pattern.to_dict()}
        return {
            "problems": list(self.problems),
            "rewrite": [vars(c) for c in self.rewrite],
            "remove": list(self.remove),
            "add": [vars(c) for c in self.add],
            "text": self.text,
            "backend": self.backend,
            "raw": self.raw,
            "measurements": self.measurements,
            **extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Feedback:
        """Inverse of :meth:`to_dict`."""
        return cls(
            problems=tuple(d.get("problems", ())),
            rewrite=tuple(ComponentChange(**c) for c in d.get("rewrite", ())),
            remove=tuple(d.get("remove", ())),
            add=tuple(ComponentChange(**c) for c in d.get("add", ())),
            text=d.get("text", ""),
            backend=d.get("backend", ""),
            raw=d.get("raw", ""),
            measurements=dict(d.get("measurements", {})),
            gait_pattern=None if not d.get("gait_pattern") else GaitPattern(
                gait=d["gait_pattern"].get("gait"),
                phase_offsets=None if d["gait_pattern"].get("phase_offsets") is None
                else tuple(d["gait_pattern"]["phase_offsets"]),
                duty_factor=d["gait_pattern"].get("duty_factor"),
                frequency_hz=d["gait_pattern"].get("frequency_hz"),
            ),
        )  # fmt: skip


@dataclass(frozen=True)
class FeedbackRequest:
    """Everything an upper-level backend may look at.

    Attributes:
        iteration: Loop iteration, from 1.
        robot: Robot name.
        task: Task description in words (e.g. "gallop forward like the horse in the video").
        expert_video: The (trimmed, speed-corrected) expert clip on disk.
        expert_frames: Sampled expert frames, uint8 RGB, shape ``(K, H, W, 3)``.
        expert_fps: Frame rate of the expert clip after the speed correction, Hz.
        rollout_video: The robot's rollout on disk (same camera side).
        rollout_frames: Sampled rollout frames, uint8 RGB, shape ``(K, H, W, 3)``.
        side_by_side_video: Expert | robot composition on disk (what a person or VLM watches).
        reward_source: The current reward program.
        rollout_arrays: ``rollout.npz`` of the rollout (simulator state; see ``lmrl play``), or None.
        expert_features: Gait features measured from the expert video, or None.
        evidence: Measured gait, contact timing, footfall diagram and hard facts of the rollout
            (:class:`~lm_reward_learning.bilevel.evidence.Evidence`), or None.
    """

    iteration: int
    robot: str
    task: str
    expert_video: Path
    expert_frames: Any
    expert_fps: float
    rollout_video: Path
    rollout_frames: Any
    side_by_side_video: Path
    reward_source: str
    rollout_arrays: Path | None = None
    expert_features: dict[str, Any] | None = None
    evidence: Any = None


@runtime_checkable
class FeedbackBackend(Protocol):
    """Upper level: compares the expert with the robot and writes :class:`Feedback`."""

    name: str

    def feedback(self, request: FeedbackRequest) -> Feedback:
        """Return feedback for one iteration.

        Raises:
            lm_reward_learning.errors.LmrlError: (a subclass) when the backend cannot answer; the loop
                keeps what is done and reports it.
        """
        ...


@dataclass(frozen=True)
class SynthesisRequest:
    """Everything a lower-level backend may use to write the next reward program.

    Attributes:
        iteration: Loop iteration, from 1.
        candidate: Candidate index within the iteration, from 0.
        robot: Robot name.
        task: Task description in words.
        current_source: The current reward program.
        env_description: The ``RewardState`` fields with shapes, units and frames, and the robot.
        feedback: Upper-level feedback, or None (Eureka mode: text task description only).
        reward_reflection: Per-term training statistics of the last run (``reward_stats.json``
            records, summarised), or None before the first training.
        previous_error: The validator's message for the last attempt, when retrying.
    """

    iteration: int
    candidate: int
    robot: str
    task: str
    current_source: str
    env_description: str
    feedback: Feedback | None = None
    reward_reflection: str | None = None
    previous_error: str | None = None


@dataclass(frozen=True)
class SynthesisResult:
    """Lower-level output.

    Attributes:
        source: The new reward program (not yet validated).
        backend: Which backend wrote it (``"rules (deterministic editor, not an LLM)"``, ``"openai:<model>"``).
        prompt: The messages sent (empty for offline backends).
        raw_response: The raw model output (or the editor's change log).
        usage: Token usage, ``{"prompt_tokens": .., "completion_tokens": ..}`` (zeros offline).
    """

    source: str
    backend: str
    prompt: list[dict[str, Any]] = field(default_factory=list)
    raw_response: str = ""
    usage: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class SynthesisBackend(Protocol):
    """Lower level: writes a reward program from feedback."""

    name: str

    def synthesize(self, request: SynthesisRequest) -> SynthesisResult:
        """Return a new reward program.

        Raises:
            lm_reward_learning.errors.LmrlError: (a subclass) when the backend cannot answer.
        """
        ...
