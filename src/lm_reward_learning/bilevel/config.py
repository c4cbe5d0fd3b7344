"""Configuration of ``lmrl learn`` (the bi-level loop), loaded from ``config/learn/<preset>.yaml``.

Unknown keys are errors; CLI flags override the preset file. Presets: ``default`` (the offline run,
≤ 30 minutes on a 2-core laptop) and ``smoke`` (≤ 5 minutes, to check an installation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lm_reward_learning.config import config_dir, from_dict
from lm_reward_learning.errors import ConfigError

FEEDBACK_BACKENDS = ("motion", "openai", "gemini", "human")
SYNTHESIS_BACKENDS = ("rules", "openai", "gemini", "reflection")
MODES = ("bilevel", "eureka")
FRAME_SAMPLING = ("uniform", "motion", "grid")
TRAIN_BACKENDS = ("mujoco", "isaaclab")
PARALLEL = ("none", "local", "ray")
RANDOMIZATION = ("preset", "propose")
BUNDLED_SPEED = 3.0
"""Speed correction of the bundled Muybridge clip: 0.67 Hz playback stride × 3 ≈ 2 Hz, a galloping
horse's real stride frequency (``data/expert/PROVENANCE.md``; the clip's ``BundledVideo.speed``)."""


@dataclass(frozen=True)
class EndpointSettings:
    """An OpenAI-compatible endpoint as configured in a learn YAML (the key itself is never stored:
    only the name of the variable holding it). Turned into
    :class:`~lm_reward_learning.bilevel.openai_backend.EndpointConfig` by
    :func:`~lm_reward_learning.bilevel.backends.make_feedback` / ``make_synthesis``; fields mean the same.

    Attributes:
        base_url: API base URL, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``.
        model: Model name.
        api_key_env: Environment variable holding the API key.
        require_api_key: False for local servers that need no key.
        timeout_s: Per-request timeout, s.
        max_retries: Retries of failed requests (the openai SDK's backoff).
        temperature: Sampling temperature; None leaves it to the endpoint.
        max_tokens: Completion token limit; None leaves it to the endpoint.
        token_limit_param: ``max_tokens`` or ``max_completion_tokens`` (newer OpenAI models).
        json_mode: Ask for ``response_format={"type": "json_object"}`` (feedback only).
        extra_headers: Headers added to every request.
        video: Send the clips as video parts to an OpenAI-compatible server that accepts them
            (feedback only; ``gemini`` always sends video).
        inline_media_max_bytes: ``gemini``: larger media go through the Files API.
    """

    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o"
    api_key_env: str = "OPENAI_API_KEY"
    require_api_key: bool = True
    timeout_s: float = 120.0
    max_retries: int = 2
    temperature: float | None = 0.7
    max_tokens: int | None = 4096
    token_limit_param: str = "max_tokens"
    json_mode: bool = True
    extra_headers: dict[str, str] = field(default_factory=dict)
    video: bool = False
    inline_media_max_bytes: int = 20_000_000


#: Endpoint values of a ``gemini`` backend whose settings were left at the OpenAI defaults.
GEMINI_DEFAULTS = {
    "base_url": ("https://api.openai.com/v1", "https://generativelanguage.googleapis.com"),
    "model": ("gpt-4o", "gemini-2.5-pro"),
    "api_key_env": ("OPENAI_API_KEY", "GEMINI_API_KEY"),
}


def level_endpoint(cfg: LearnConfig, level: str) -> EndpointSettings:
    """The endpoint settings of ``level`` (``feedback`` or ``synthesis``) as its backend uses them: for a
    ``gemini`` backend, base URL, model and key variable left at the OpenAI defaults become Gemini's
    (:data:`GEMINI_DEFAULTS`)."""
    import dataclasses

    settings = getattr(cfg, f"{level}_endpoint")
    if getattr(cfg, level) != "gemini":
        return settings
    changes = {k: new for k, (old, new) in GEMINI_DEFAULTS.items() if getattr(settings, k) == old}
    return dataclasses.replace(settings, **changes)


@dataclass(frozen=True)
class LearnConfig:
    """Everything ``lmrl learn`` needs.

    Attributes:
        video: Expert video: a file or folder of frames, or the name of a bundled clip (``horse_gallop``,
            ``human_walk``; an existing file of that name is a file). None = the bundled clip for the robot's
            kind (:data:`~lm_reward_learning.video.bundled.DEFAULT_EXPERT_BY_KIND`: the horse gallop for a
            quadruped, the human walk for a humanoid).
        video_start_s, video_end_s: Trim window in the video's own time, s (None = whole clip).
        video_speed: Playback-rate correction: a clip slowed down 4× has ``video_speed: 4`` (real time
            = video time / speed). None: 1 for a user's video; the bundled clip's own correction for a
            bundled one (:data:`BUNDLED_SPEED` for the Muybridge clip, an animation of photographs whose
            playback stride (0.67 Hz) is not a real horse's cadence, about 2 strides/s; 1 for the human walk).
        robot: Robot name.
        mode: ``bilevel`` (the paper's method) or ``eureka`` (text task description only, reward
            reflection, no video).
        task: Task description in words (both modes).
        feedback: Upper-level backend: ``motion`` (offline heuristic analyser, not a VLM), ``openai``
            (any OpenAI-compatible endpoint), ``gemini`` (Google's Gemini API, clips sent as video),
            ``human``.
        synthesis: Lower-level backend: ``rules`` (offline deterministic editor, not an LLM),
            ``reflection`` (offline Eureka-style reflection tuner, not an LLM), ``openai`` or ``gemini``.
        iterations: Loop iterations K (the paper uses 5).
        candidates: Reward candidates M per iteration (Eureka-style sampling); the best is kept.
        initial_train_iterations: PPO iterations for the initial reward program.
        train_iterations: PPO iterations per loop iteration (warm-started from the previous policy).
        num_envs: Parallel simulations during training.
        seed: Random seed.
        warm_start: Start each iteration's training from the previous policy's weights.
        rollout_s: Length of each rollout video, s.
        view: Camera side of the rollout video (``side``, ``three_quarter``, ``front``, ``back``).
        num_frames: Frames sampled from each video for the feedback backend.
        frame_sampling: ``uniform``, ``motion`` (optical-flow peaks, MA-ROESL) or ``grid`` (SDS).
        max_synthesis_retries: Retries when a synthesised program fails validation (the validator's
            message goes back to the backend); if all fail, the previous program is kept.
        expert_leg_length_m: The expert's leg length, m, for dynamic-similarity scaling of the target
            stride frequency (``motion`` feedback) and step length and speed in m (human pose); None: the
            bundled clip's (0.87 m for the human walk, none for the horse), else frequencies compared directly.
        reference: Optional gait reference (``dog_trot``, ..., or a reference file) to pick the best
            candidate by the objective gait score instead of the stride-frequency match.
        feedback_endpoint, synthesis_endpoint: Endpoints of the ``openai`` backends.
        human_feedback: File or folder of scripted "Human as VLM" feedback (``human`` backend).
        initial_reward: Initial reward program file; None = the robot's bundled one.
        backend: Simulator of every training: ``mujoco`` or ``isaaclab`` (Isaac Lab 3, own venv).
        device: Isaac Lab device (``cpu``, ``cuda:0``).
        parallel: How the M candidates of an iteration train: ``none`` (one after the other, in this
            process), ``local`` (process pool) or ``ray`` (Ray tasks).
        ray_address: Ray cluster address (``auto``, ``ray://head:10001``); None starts a local instance.
        candidate_cpus: CPUs per candidate training (Ray scheduling; local pool size = CPUs / this).
        candidate_gpus: GPUs per candidate training (Ray only).
        candidate_timeout_s: Wall-clock limit of one candidate's training, rollout and scoring in
            iterations 1..K, s, counted from when its worker starts it; a candidate past it is stopped and
            recorded as failed (``failed.json``: ``failure: timeout``, the limit, the worker) and the
            iteration goes on with the others. None: no limit. With ``parallel: none`` a limit makes the
            candidates train one at a time in a worker process (a process can be stopped, this one
            cannot). The initial program (iteration 0) trains in this process without a limit.
        max_cost_usd: Stop the loop before a language-model call would take the run's spending past
            this many US dollars (prices from ``prices``); None: no limit. ``--resume`` with a higher
            limit goes on (:mod:`~lm_reward_learning.bilevel.budget`).
        max_total_tokens: The same limit in prompt plus completion tokens; None: no limit.
        prices: Price table (YAML, USD per million tokens per model pattern); None: the bundled
            ``config/prices.yaml``.
        evidence: Give the language-model judge the rollout's measured gait, per-leg contact timing,
            footfall diagram and hard facts (fell, did not move, speed far from command), and overrule
            answers that contradict the facts (:mod:`~lm_reward_learning.bilevel.evidence`).
        randomization: ``preset`` (every training uses the ``randomization:`` section of
            ``config/train/<robot>.yaml``) or ``propose`` (after the loop, DrEureka: sweep the best
            policy, let the lower level propose ranges, retrain warm-started, measure robustness
            before and after; :mod:`lm_reward_learning.bilevel.randomization_proposal`).
        randomization_train_iterations: PPO iterations of that retraining.
        randomization_episodes: Episodes per value of the sweep and per condition of the before/after
            robustness battery.
    """

    video: str | None = None
    video_start_s: float | None = None
    video_end_s: float | None = None
    video_speed: float | None = None
    robot: str = "go2"
    mode: str = "bilevel"
    task: str = "Move forward with the same gait as the animal or person in the expert video."
    feedback: str = "motion"
    synthesis: str = "rules"
    iterations: int = 5
    candidates: int = 1
    initial_train_iterations: int = 200
    train_iterations: int = 80
    num_envs: int = 256
    seed: int = 1
    warm_start: bool = True
    rollout_s: float = 10.0
    view: str = "side"
    num_frames: int = 8
    frame_sampling: str = "uniform"
    max_synthesis_retries: int = 3
    expert_leg_length_m: float | None = None
    reference: str | None = None
    feedback_endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    synthesis_endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    human_feedback: str | None = None
    initial_reward: str | None = None
    backend: str = "mujoco"
    device: str = "cpu"
    parallel: str = "none"
    ray_address: str | None = None
    candidate_cpus: float = 1.0
    candidate_gpus: float = 0.0
    candidate_timeout_s: float | None = None
    max_cost_usd: float | None = None
    max_total_tokens: int | None = None
    prices: str | None = None
    evidence: bool = True
    randomization: str = "preset"
    randomization_train_iterations: int = 200
    randomization_episodes: int = 8

    def check(self) -> LearnConfig:
        """Validate choices and ranges; return self.

        Raises:
            ConfigError: naming the bad value and the allowed ones.
        """
        for key, allowed in (
            ("feedback", FEEDBACK_BACKENDS),
            ("synthesis", SYNTHESIS_BACKENDS),
            ("mode", MODES),
            ("frame_sampling", FRAME_SAMPLING),
            ("backend", TRAIN_BACKENDS),
            ("parallel", PARALLEL),
            ("randomization", RANDOMIZATION),
        ):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"unknown {key} {getattr(self, key)!r}; choose one of {', '.join(allowed)}.")
        if self.mode == "eureka" and self.synthesis == "rules":
            raise ConfigError(
                "Eureka mode writes rewards from the text task description and reward reflection alone: use "
                "--synthesis openai (with an endpoint), or --synthesis reflection (offline Eureka-style reflection "
                "tuner, not an LLM), or --mode bilevel for the offline rules editor."
            )
        for key in ("iterations", "candidates", "initial_train_iterations", "num_envs", "num_frames",
                    "randomization_train_iterations", "randomization_episodes"):  # fmt: skip
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be at least 1, got {getattr(self, key)}.")
        if self.train_iterations < 1:
            raise ConfigError(f"train_iterations must be at least 1, got {self.train_iterations}.")
        if not (math.isfinite(self.rollout_s) and self.rollout_s > 0):
            raise ConfigError(f"rollout_s (seconds of each rollout video) must be positive, got {self.rollout_s}.")
        self._check_video_window()
        limit = self.candidate_timeout_s
        if limit is not None and not (math.isfinite(limit) and limit > 0):
            raise ConfigError(
                f"candidate_timeout_s must be a positive number of seconds (or null for no limit), got {limit}."
            )
        from lm_reward_learning.bilevel.budget import Budget

        Budget(self.max_cost_usd, self.max_total_tokens)  # raises on a negative or non-finite limit
        return self

    def _check_video_window(self) -> None:
        speed, start, end = self.video_speed, self.video_start_s, self.video_end_s
        if speed is not None and not (math.isfinite(speed) and speed > 0):
            raise ConfigError(
                f"--video-speed (video_speed) must be a positive number, got {speed}: it is the slow-motion "
                "factor, real time = video time / speed (4 for a clip slowed down 4x, 1 for real time)."
            )
        if start is not None and not (math.isfinite(start) and start >= 0):
            raise ConfigError(f"--start (video_start_s) must be a time >= 0 s on the video's timeline, got {start}.")
        if end is not None and not (math.isfinite(end) and end > (start or 0.0)):
            raise ConfigError(
                f"the trim window is empty: --end (video_end_s) {end} s must be later than --start "
                f"(video_start_s) {start or 0.0} s; give an --end after --start, or leave --end out for the "
                "rest of the clip."
            )

    @property
    def bundled_video_name(self) -> str | None:
        """Name of the bundled clip this config uses (``video`` unset: the robot kind's default; ``video`` a
        bundled name that is not an existing path), or None for a user's video."""
        from lm_reward_learning.robots import get_robot
        from lm_reward_learning.video.bundled import DEFAULT_EXPERT_BY_KIND, is_bundled_name

        if self.video is None:
            return DEFAULT_EXPERT_BY_KIND.get(get_robot(self.robot).kind, "horse_gallop")
        return self.video if is_bundled_name(self.video) else None

    @property
    def bundled_video(self):
        """The :class:`~lm_reward_learning.video.bundled.BundledVideo` used, or None for a user's video."""
        from lm_reward_learning.video.bundled import BUNDLED_EXPERT_VIDEOS

        name = self.bundled_video_name
        return None if name is None else BUNDLED_EXPERT_VIDEOS[name]

    @property
    def expert_subject(self) -> str:
        """``"human"`` or ``"animal"``: the bundled clip's subject; for a user's video, ``"human"`` when the
        robot is a humanoid (its expert is a person) and ``"animal"`` otherwise. A human subject is also
        measured with MediaPipe Pose (:mod:`lm_reward_learning.video.human_pose`)."""
        from lm_reward_learning.robots import get_robot

        bundled = self.bundled_video
        if bundled is not None:
            return bundled.subject
        return "human" if get_robot(self.robot).kind == "humanoid" else "animal"

    @property
    def effective_expert_leg_length_m(self) -> float | None:
        """``expert_leg_length_m``, or the bundled clip's subject's leg length (None if neither is known)."""
        if self.expert_leg_length_m is not None:
            return self.expert_leg_length_m
        bundled = self.bundled_video
        return None if bundled is None else bundled.leg_length_m

    @property
    def effective_video_speed(self) -> float:
        """``video_speed``, or its default for the chosen video (see the attribute's docs)."""
        if self.video_speed is not None:
            return self.video_speed
        bundled = self.bundled_video
        return 1.0 if bundled is None else bundled.speed

    def video_source(self) -> Path:
        """The expert video's path: the bundled clip's file, or ``video`` as given.

        Raises:
            lm_reward_learning.video.errors.VideoNotFoundError: a bundled clip missing from the installation.
        """
        from lm_reward_learning.video.bundled import bundled_expert_video

        name = self.bundled_video_name
        return bundled_expert_video(name) if name is not None else Path(self.video).expanduser()


def load_learn_config(preset: str = "default", path: Path | None = None, **overrides: Any) -> LearnConfig:
    """Load a preset (``config/learn/<preset>.yaml``) or a file, apply non-None overrides, validate.

    Raises:
        ConfigError: unknown preset, unknown keys, bad values.
    """
    file = Path(path) if path is not None else config_dir() / "learn" / f"{preset}.yaml"
    if not file.is_file():
        presets = sorted(p.stem for p in (config_dir() / "learn").glob("*.yaml"))
        raise ConfigError(f"no learn config {file}; presets: {', '.join(presets)}; or pass --config FILE.")
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from exc
    data.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(LearnConfig, data, where=file.name).check()
