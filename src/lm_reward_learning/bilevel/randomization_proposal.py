"""``lmrl learn --randomization propose``: domain-randomization ranges proposed by the lower level (DrEureka).

DrEureka (Ma et al., RSS 2024) after the reward is found: (1) sweep one physical parameter at a time on
the trained policy (:func:`~lm_reward_learning.evaluation.rapp.rapp_sweep`, the "RAPP" bounds in which
it still works); (2) ask the LLM for randomization ranges given those bounds and physical priors;
(3) train with them. Here, after the bi-level loop:

1. ``randomization/sweep.json``: the RAPP sweep of the best candidate's policy.
2. ``randomization/proposal.json``: the proposed ranges, from the lower level's backend: ``openai``
   (versioned prompts ``randomization_system_v1``, ``randomization_user_v1``, retry section) when the
   loop's synthesis backend is ``openai``, else :class:`RulesProposer` (offline rules, **not an
   LLM**). Every answer is checked against the schema (the ``randomization:`` dataclasses: unknown
   keys and wrong types are errors) and the physical bounds
   (:func:`lm_reward_learning.randomization.validate`, the robot's masses included); a rejected answer
   goes back with the error, up to ``max_synthesis_retries`` times; if none passes, the last good
   ranges (the preset's) are kept and the record says so.
3. ``randomization/train``: the best candidate's reward program trained with those ranges,
   warm-started from its weights (``randomization_train_iterations`` PPO iterations; full ranges from
   the first step: no ``curriculum_steps`` ramp for a policy that already walks).
4. ``robustness/``: the robustness battery, before (the best candidate) and after (the retrained
   policy) side by side; the learn report shows it.

Every step is stored and skipped on ``--resume``. The retrained policy is the one exported.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from lm_reward_learning.config import from_dict, to_dict
from lm_reward_learning.errors import ConfigError, LmrlError
from lm_reward_learning.io import atomic_write_json
from lm_reward_learning.randomization import PHYSICAL_BOUNDS, RandomizationConfig, describe, schema_text, validate

log = logging.getLogger(__name__)

PROMPT_VERSION = "v1"
"""Version of the ``randomization_*`` prompt templates."""

SHRINK = 0.8
""":class:`RulesProposer` keeps this fraction of the RAPP span on each side of the nominal value."""


@dataclass(frozen=True)
class ProposalRequest:
    """What a proposer is given.

    Attributes:
        robot: Robot name.
        task: The task in words.
        sweep: The RAPP sweep (:func:`~lm_reward_learning.evaluation.rapp.rapp_sweep`).
        current: The ranges the policy was trained with.
        error: The previous answer's rejection, on a retry ("" the first time).
    """

    robot: str
    task: str
    sweep: dict[str, Any]
    current: RandomizationConfig
    error: str = ""


@dataclass(frozen=True)
class ProposalAnswer:
    """A proposer's answer.

    Attributes:
        ranges: The proposed ``randomization:`` section, as a dict (checked by the caller).
        text: The raw answer (LLM) or the rules' explanation.
        messages: The prompt sent (LLM only).
        usage: Token counts (LLM only).
    """

    ranges: dict[str, Any]
    text: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)


class RandomizationProposer(Protocol):
    """Proposes randomization ranges. ``label`` says honestly what it is."""

    label: str

    def propose(self, request: ProposalRequest) -> ProposalAnswer:
        """Answer one request."""
        ...


def _set(d: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``dotted`` to the hull of ``value`` and the range already there (a trained range never shrinks)."""
    node = d
    *parents, leaf = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    old = node.get(leaf)
    if isinstance(old, (list, tuple)) and len(old) == 2:
        value = [min(value[0], old[0]), max(value[1], old[1])]
    node[leaf] = value


class RulesProposer:
    """Offline rules, **not an LLM**: each range is ``SHRINK`` of the RAPP span around the nominal value,
    clipped to the physical bounds, joined with the range the policy was already trained on (training
    further never narrows what it has seen); a parameter that works nowhere keeps its current range."""

    label = "rules (offline, not an LLM)"

    def propose(self, request: ProposalRequest) -> ProposalAnswer:
        ranges = to_dict(request.current)
        ranges["enabled"] = True
        notes = []
        for p in request.sweep["params"]:
            if p["rapp"] is None:
                notes.append(f"{p['key']}: works nowhere in the sweep; kept the current range")
                continue
            n = float(p["nominal"])
            lo, hi = (n + SHRINK * (float(x) - n) for x in p["rapp"])
            key = p["key"]
            term = key.split(".")[0]
            bound = PHYSICAL_BOUNDS.get(".".join(key.split(".")[:2]))
            if bound is not None:
                lo, hi = max(lo, bound[0]), min(hi, bound[1])
            lo, hi = round(lo, 4), round(hi, 4)
            if key == "base_com.com_range.x":  # the sweep moved x; y gets the same, z keeps the current one
                _set(ranges, "base_com.com_range.x", [lo, hi])
                _set(ranges, "base_com.com_range.y", [lo, hi])
            elif key == "push_robot.velocity_range.y":  # pushes of either sign, in x and y
                _set(ranges, "push_robot.velocity_range.x", [-hi, hi])
                _set(ranges, "push_robot.velocity_range.y", [-hi, hi])
                ranges["push_robot"].setdefault("interval_range_s", [5.0, 10.0])
            elif key == "joint_calibration.offset_range_rad":  # symmetric
                m = min(abs(lo), abs(hi))
                _set(ranges, key, [-m, m])
            elif key == "action_latency.latency_range_s":
                _set(ranges, key, [0.0, hi])
            else:
                _set(ranges, key, [lo, hi])
            if term == "actuator_gains":
                g = ranges["actuator_gains"]
                g.setdefault("stiffness_distribution_params", [1.0, 1.0])
                g.setdefault("damping_distribution_params", [1.0, 1.0])
            notes.append(f"{key}: RAPP {p['rapp']} -> {SHRINK:g} of the span around {n:g}")
        return ProposalAnswer(ranges=ranges, text="\n".join(notes))


class OpenAIProposer:
    """The lower level's LLM (an OpenAI-compatible endpoint) with the ``randomization_*`` prompts."""

    def __init__(self, endpoint: Any) -> None:
        from lm_reward_learning.bilevel.openai_backend import OpenAIChat

        self.chat = OpenAIChat(endpoint)
        self.label = f"openai ({endpoint.model} at {endpoint.base_url})"

    def propose(self, request: ProposalRequest) -> ProposalAnswer:
        from lm_reward_learning.bilevel.extract import extract_json_object

        messages = build_messages(request)
        answer = self.chat.complete(messages, json_mode=True)
        obj = extract_json_object(answer.text)
        ranges = obj.get("randomization", obj) if isinstance(obj, dict) else obj
        if not isinstance(ranges, dict):
            raise ConfigError("the answer has no randomization object")
        return ProposalAnswer(ranges=ranges, text=answer.text, messages=messages, usage=answer.usage)


def build_messages(request: ProposalRequest) -> list[dict[str, Any]]:
    """The chat messages of the versioned prompts for ``request``."""
    from lm_reward_learning.evaluation.rapp import rapp_table
    from lm_reward_learning.prompts import render

    bounds = "\n".join(f"  {k}: [{lo}, {hi}] ({why})" for k, (lo, hi, why) in PHYSICAL_BOUNDS.items())
    system = render("randomization_system", PROMPT_VERSION, schema=schema_text(), physical_bounds=bounds)
    user = render(
        "randomization_user",
        PROMPT_VERSION,
        robot=request.robot,
        task=request.task,
        current_ranges=yaml.safe_dump(describe(request.current), sort_keys=False).strip(),
        success_min_pct=round(100 * request.sweep["success_min"]),
        rms_max_mps=request.sweep["rms_max_mps"],
        rapp_table=rapp_table(request.sweep),
    )
    if request.error:
        user += "\n\n" + render("randomization_retry_section", PROMPT_VERSION, error=request.error)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def check_proposal(ranges: dict[str, Any], spec: Any) -> RandomizationConfig:
    """Parse and check a proposed section: schema, then physical bounds (the robot's masses included).

    Raises:
        ConfigError: naming the first problem.
    """
    from lm_reward_learning.envs.randomization import build_model

    if not isinstance(ranges, dict):
        raise ConfigError(f"the randomization section must be a mapping, got {type(ranges).__name__}")
    cfg = from_dict(RandomizationConfig, ranges, "randomization")
    validate(cfg)
    build_model(spec, cfg)  # the robot-dependent bounds (payload against the base and total mass)
    return cfg


def propose(proposer: RandomizationProposer, request: ProposalRequest, spec: Any, retries: int) -> dict[str, Any]:
    """Ask, check, retry with the error; the record written to ``proposal.json``.

    Returns:
        ``{"backend", "prompt_version", "accepted", "kept_previous", "ranges", "attempts": [...]}``;
        ``ranges`` is :func:`~lm_reward_learning.randomization.describe` of the accepted section, or of
        the current one when every attempt was rejected.
    """
    attempts = []
    error = ""
    for _ in range(retries + 1):
        try:
            answer = proposer.propose(dataclasses.replace(request, error=error))
        except LmrlError as exc:  # an unparseable answer counts as a rejected one
            error = str(exc)
            attempts.append({"error": error})
            continue
        try:
            cfg = check_proposal(answer.ranges, spec)
        except ConfigError as exc:
            error = str(exc)
            attempts.append({"answer": answer.text, "ranges": answer.ranges, "error": error, "usage": answer.usage})
            continue
        attempts.append({"answer": answer.text, "ranges": answer.ranges, "error": "", "usage": answer.usage,
                         "messages": answer.messages})  # fmt: skip
        return {"backend": proposer.label, "prompt_version": PROMPT_VERSION, "accepted": True, "kept_previous": False,
                "ranges": describe(cfg), "config": to_dict(cfg), "attempts": attempts}  # fmt: skip
    log.warning("every proposed randomization was rejected; keeping the current ranges (%s)", error)
    return {"backend": proposer.label, "prompt_version": PROMPT_VERSION, "accepted": False, "kept_previous": True,
            "ranges": describe(request.current), "config": to_dict(request.current), "attempts": attempts}  # fmt: skip


def make_proposer(cfg: Any) -> RandomizationProposer:
    """The lower level's proposer: ``openai`` when the loop synthesises with ``openai``, else the rules."""
    if cfg.synthesis == "openai":
        from lm_reward_learning.bilevel.backends import _endpoint

        return OpenAIProposer(_endpoint(cfg.synthesis_endpoint, json_mode=True))
    return RulesProposer()


def propose_and_retrain(cfg: Any, store: Any, best: Any, *, progress: bool = True) -> Any:
    """Steps 1-4 of the module docstring for the loop's ``best`` candidate; return the retrained candidate.

    Raises:
        RewardRuntimeError: the reward program failed in the retraining.
        LmrlError: a step cannot go on (a failed worker, an endpoint that refuses); what is done stays.
    """
    from lm_reward_learning.bilevel.steps import train_config
    from lm_reward_learning.evaluation.rapp import rapp_sweep
    from lm_reward_learning.evaluation.robustness import robustness
    from lm_reward_learning.evaluation.targets import resolve_target
    from lm_reward_learning.reward.program import RewardProgram
    from lm_reward_learning.robots import get_robot
    from lm_reward_learning.training.run_dir import RunDir
    from lm_reward_learning.training.trainer import prepare_run, train

    d = Path(store.path) / "randomization"
    d.mkdir(parents=True, exist_ok=True)
    spec = get_robot(cfg.robot)
    base = train_config(cfg, cfg.randomization_train_iterations)
    sweep_file, proposal_file, run_path = d / "sweep.json", d / "proposal.json", d / "train"
    if sweep_file.is_file():
        sweep = json.loads(sweep_file.read_text())
    else:
        log.info("RAPP sweep of %s", best.run)
        sweep = rapp_sweep(resolve_target(best.run), episodes=cfg.randomization_episodes)
        atomic_write_json(sweep_file, sweep)
    if proposal_file.is_file():
        record = json.loads(proposal_file.read_text())
    else:
        request = ProposalRequest(cfg.robot, cfg.task, sweep, base.randomization)
        record = propose(make_proposer(cfg), request, spec, cfg.max_synthesis_retries)
        atomic_write_json(proposal_file, record)
    proposed = from_dict(RandomizationConfig, record["config"], "proposal")
    # the policy already walks: the retraining uses the full ranges from its first step (no curriculum)
    tcfg = dataclasses.replace(base, randomization=dataclasses.replace(proposed, curriculum_steps=0))
    meta = RunDir.open(run_path).meta() if (run_path / "run.yaml").is_file() else {}
    if meta.get("status") != "done":
        resume = (run_path / "checkpoints" / "latest.pt").is_file()
        if not resume:
            program = RewardProgram(source=best.source, name="randomization", origin=f"learn:{store.path.name}")
            prepare_run(cfg.robot, program, tcfg, d, run_path=run_path)
        warm = None if resume else Path(best.run) / "checkpoints" / "latest.pt"
        train(RunDir.open(run_path), tcfg, resume=resume, warm_start=warm, progress=progress)
    out = Path(store.path) / "robustness"
    if not (out / "robustness.json").is_file():
        robustness([best.run, run_path], out_dir=out, episodes=cfg.randomization_episodes, cross_engine=False,
                   labels=["before (loop's best)", "after (proposed ranges)"])  # fmt: skip
    return dataclasses.replace(best, run=run_path)


def proposal_html(folder: Path) -> str:
    """HTML of ``randomization/proposal.json`` and the RAPP sweep for the learn report (``""`` if none)."""
    import html

    path = Path(folder) / "proposal.json"
    if not path.is_file():
        return ""
    record = json.loads(path.read_text())
    sweep_file = Path(folder) / "sweep.json"
    rapp = ""
    if sweep_file.is_file():
        from lm_reward_learning.evaluation.rapp import rapp_table

        table = html.escape(rapp_table(json.loads(sweep_file.read_text())))
        rapp = f"<p>RAPP sweep (where the loop's best policy still walks):</p><pre>{table}</pre>"
    verdict = "accepted" if record["accepted"] else "every answer was rejected; the previous ranges were kept"
    errors = "".join(f"<li>{html.escape(a['error'])}</li>" for a in record["attempts"] if a.get("error"))
    return (
        f"<h2>Randomization proposed by the lower level (DrEureka)</h2>"
        f"<p>Backend: <span class='label'>{html.escape(record['backend'])}</span>, prompts "
        f"{html.escape(record['prompt_version'])}, {len(record['attempts'])} attempt(s): {verdict}.</p>"
        + (f"<ul>{errors}</ul>" if errors else "")
        + rapp
        + f"<pre>{html.escape(yaml.safe_dump(record['ranges'], sort_keys=False))}</pre>"
    )
