"""Configuration of ``lmrl compare``, loaded from ``config/compare/<preset>.yaml``.

A comparison runs every method with every seed on one task (a reference gait), each cell with the
same budget, and scores each cell's best policy with :func:`lm_reward_learning.evaluation.evaluate`.

Methods (the paper's comparison, Mahesheka et al., arXiv 2410.09286):

* ``ours``: the bi-level loop (``mode: bilevel``): an upper-level feedback backend watches the expert
  video and the rollout (``motion`` offline, ``openai`` a VLM), a lower-level backend rewrites the reward
  (``rules`` offline, ``openai`` an LLM).
* ``eureka``: Eureka (``mode: eureka``): text task description and reward reflection only, no video
  (``reflection`` offline, a reflection tuner that is not an LLM; ``openai`` an LLM).
* ``human``: the paper's Human-as-VLM baseline (``feedback: human``) with a person's feedback scripted in
  a file or folder (``human_feedback``), and the same lower level as ``ours``.
* ``initial``: the robot's bundled reward, no loop, trained for as many PPO iterations as one chain of
  the loop (``initial_train_iterations + iterations × train_iterations``): a floor.

Keys (unknown keys are errors): ``reference``, ``robot``, ``methods``, ``seeds``, ``eval_duration_s``,
``eval_command`` (``[v_x, v_y, yaw_rate]`` or null for the Froude-matched default), ``learn`` (keys of
:class:`~lm_reward_learning.bilevel.config.LearnConfig` for every method: the budget),
``method_settings`` (per method, LearnConfig keys over ``learn``). ``robot``, ``seed`` and the
LearnConfig ``reference`` are set per cell, not in ``learn``. In string values ``{reference}`` becomes the
reference name and ``{gait}`` its gait class; relative ``video``, ``human_feedback`` and
``initial_reward`` paths are relative to the config file's folder (a ``video`` that names a bundled
clip, ``human_walk``, stays a name).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lm_reward_learning.config import config_dir, from_dict
from lm_reward_learning.errors import ConfigError

METHODS = ("initial", "ours", "eureka", "human")
#: Settings each method must have (checked after merging, so a config cannot mislabel a method).
METHOD_REQUIRED: dict[str, dict[str, Any]] = {
    "initial": {},
    "ours": {"mode": "bilevel"},
    "eureka": {"mode": "eureka"},
    "human": {"mode": "bilevel", "feedback": "human"},
}
_PATH_KEYS = ("video", "human_feedback", "initial_reward")
_PER_CELL_KEYS = ("robot", "seed", "reference")


@dataclass(frozen=True)
class CompareConfig:
    """Everything ``lmrl compare`` needs (see the module docstring).

    Attributes:
        reference: Reference gait every cell is scored against (``dog_trot``, ...).
        robot: Robot name.
        methods: Methods to run, in table order (subset of :data:`METHODS`).
        seeds: Seeds; every method runs once per seed (the LearnConfig ``seed``).
        eval_duration_s: Evaluation rollout length, s.
        eval_command: Evaluation command ``(v_x m/s, v_y m/s, yaw rate rad/s)``; None: the
            reference's speed at equal Froude number, clipped to the trained range.
        select_by_reference: Let the loop pick its best candidate by the gait score against
            ``reference`` (LearnConfig ``reference``) instead of each method's own objective. Off by
            default: the evaluation yardstick stays held out of training.
        learn: LearnConfig keys shared by every method (the budget).
        method_settings: Per method, LearnConfig keys applied over ``learn``.
    """

    reference: str = "dog_trot"
    robot: str = "go2"
    methods: tuple[str, ...] = METHODS
    seeds: tuple[int, ...] = (1, 2, 3)
    eval_duration_s: float = 10.0
    eval_command: tuple[float, ...] | None = None
    select_by_reference: bool = False
    learn: dict[str, Any] = field(default_factory=dict)
    method_settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    def check(self) -> CompareConfig:
        """Validate choices and ranges, and every cell's LearnConfig; return self.

        Raises:
            ConfigError: naming the bad value and the allowed ones.
            lm_reward_learning.gait.UnknownReferenceError: unknown ``reference``.
        """
        from lm_reward_learning.gait import reference_features

        reference_features(self.reference)
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods or len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"methods must be distinct names from {', '.join(METHODS)}; got {list(self.methods)}.")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds) or any(not isinstance(s, int) for s in self.seeds):
            raise ConfigError(f"seeds must be distinct integers; got {list(self.seeds)}.")
        if not self.eval_duration_s > 0:
            raise ConfigError(f"eval_duration_s must be positive; got {self.eval_duration_s}.")
        if self.eval_command is not None and len(self.eval_command) != 3:
            raise ConfigError(f"eval_command must be [v_x, v_y, yaw_rate] or null; got {list(self.eval_command)}.")
        per_cell = sorted(set(self.learn) & set(_PER_CELL_KEYS))
        if per_cell:
            raise ConfigError(f"learn: {per_cell} are set per cell (robot, seeds, reference at the top level).")
        unknown = sorted(set(self.method_settings) - set(METHODS))
        if unknown:
            raise ConfigError(f"method_settings: unknown method(s) {unknown}; methods are {', '.join(METHODS)}.")
        for method in self.methods:
            cell_learn_config(self, method, self.seeds[0])
        return self


def cell_learn_config(cfg: CompareConfig, method: str, seed: int):
    """The :class:`~lm_reward_learning.bilevel.config.LearnConfig` of one cell (method, seed).

    ``learn``, then ``method_settings[method]``, then the per-cell robot, seed and (with
    ``select_by_reference``) reference; placeholders substituted. For ``initial`` the initial training
    gets the loop chain's whole budget (module docstring).

    Raises:
        ConfigError: unknown LearnConfig keys, bad values, or settings that contradict the method.
    """
    from lm_reward_learning.bilevel.config import LearnConfig
    from lm_reward_learning.gait.reference import reference_gait, reference_label

    gait = reference_gait(cfg.reference) or "unknown"
    data: dict[str, Any] = {**cfg.learn, **cfg.method_settings.get(method, {})}
    data.update(robot=cfg.robot, seed=seed, reference=cfg.reference if cfg.select_by_reference else None)
    data = {k: _fill(v, reference_label(cfg.reference), gait) for k, v in data.items()}
    learn_cfg = from_dict(LearnConfig, data, where=f"compare {method}").check()
    for key, value in METHOD_REQUIRED[method].items():
        if getattr(learn_cfg, key) != value:
            raise ConfigError(
                f"method {method!r} needs {key}: {value}, but its settings give {getattr(learn_cfg, key)!r}; "
                f"fix method_settings.{method} (methods: ours = bilevel loop, eureka = text only, human = "
                f"Human-as-VLM feedback, initial = no loop)."
            )
    if method == "ours" and learn_cfg.feedback == "human":
        raise ConfigError("method 'ours' uses a VLM or the motion analyser as feedback; 'human' is its own method.")
    if method == "initial":
        total = learn_cfg.initial_train_iterations + learn_cfg.iterations * learn_cfg.train_iterations
        learn_cfg = dataclasses.replace(learn_cfg, initial_train_iterations=total)
    return learn_cfg


def _fill(value: Any, reference: str, gait: str) -> Any:
    if isinstance(value, str):
        return value.replace("{reference}", reference).replace("{gait}", gait)
    if isinstance(value, dict):
        return {k: _fill(v, reference, gait) for k, v in value.items()}
    return value


def load_compare_config(
    preset: str = "default",
    path: Path | None = None,
    *,
    reference: str | None = None,
    methods: tuple[str, ...] | None = None,
    seeds: tuple[int, ...] | None = None,
    video: str | None = None,
    endpoint: dict[str, str] | None = None,
) -> CompareConfig:
    """Load a preset (``config/compare/<preset>.yaml``) or a file, apply the non-None overrides, validate.

    Args:
        preset: Preset name (``default``, ``smoke``, ``openai``).
        path: A YAML file instead of the preset.
        reference, methods, seeds: Override the file's values.
        video: Expert video for the methods that watch one (LearnConfig ``video``).
        endpoint: ``base_url``/``model``/``api_key_env`` for both levels' OpenAI-compatible endpoints.

    Raises:
        ConfigError: unknown preset or keys, bad values, contradictory method settings.
        lm_reward_learning.gait.UnknownReferenceError: unknown reference.
    """
    file = Path(path) if path is not None else config_dir() / "compare" / f"{preset}.yaml"
    if not file.is_file():
        presets = sorted(p.stem for p in (config_dir() / "compare").glob("*.yaml"))
        raise ConfigError(f"no compare config {file}; presets: {', '.join(presets)}; or pass --config FILE.")
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: top level must be a mapping of keys to values.")
    for key in ("learn", "method_settings"):
        if not isinstance(data.get(key, {}), dict):
            raise ConfigError(f"{file.name}: {key} must be a mapping.")
    learn = dict(data.get("learn") or {})
    settings = {m: dict(s or {}) for m, s in (data.get("method_settings") or {}).items()}
    from lm_reward_learning.video.bundled import is_bundled_name

    if video is not None:
        learn["video"] = video if is_bundled_name(video) else str(Path(video).resolve())
        for s in settings.values():
            s.pop("video", None)
    for d in (learn, *settings.values()):
        for key in _PATH_KEYS:
            if isinstance(d.get(key), str) and not Path(d[key]).is_absolute():
                if key == "video" and is_bundled_name(d[key]) and not (file.parent / d[key]).exists():
                    continue  # a bundled clip's name
                d[key] = str(file.parent.resolve() / d[key])
    if endpoint:
        for key in ("feedback_endpoint", "synthesis_endpoint"):
            learn[key] = {**(learn.get(key) or {}), **endpoint}
    data.update(learn=learn, method_settings=settings)
    overrides = {"reference": reference, "methods": methods, "seeds": seeds}
    data.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("methods", "seeds", "eval_command"):
        if data.get(key) is not None:
            if not isinstance(data[key], (list, tuple)):
                raise ConfigError(f"{file.name}: {key} must be a list; got {data[key]!r}.")
            data[key] = tuple(data[key])
    return from_dict(CompareConfig, data, where=file.name).check()
