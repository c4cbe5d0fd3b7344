"""Build the feedback and synthesis backends a :class:`LearnConfig` names."""

from __future__ import annotations

from lm_reward_learning.bilevel.config import EndpointSettings, LearnConfig
from lm_reward_learning.bilevel.protocols import FeedbackBackend, SynthesisBackend


def _endpoint(s: EndpointSettings, *, json_mode: bool):
    """The openai backend's ``EndpointConfig`` for configured settings (``json_mode`` for feedback only)."""
    import dataclasses

    from lm_reward_learning.bilevel.endpoint import EndpointConfig

    fields = dataclasses.asdict(s)
    fields["json_mode"] = json_mode and s.json_mode
    return EndpointConfig(**fields)


def make_feedback(cfg: LearnConfig) -> FeedbackBackend | None:
    """The upper-level backend of ``cfg`` (None in Eureka mode, which uses no video)."""
    if cfg.mode == "eureka":
        return None
    if cfg.feedback == "openai":
        from lm_reward_learning.bilevel.openai_backend import OpenAIFeedback

        return OpenAIFeedback(_endpoint(cfg.feedback_endpoint, json_mode=True))
    if cfg.feedback == "human":
        from lm_reward_learning.bilevel.human import HumanFeedback

        return HumanFeedback(cfg.human_feedback)
    from lm_reward_learning.bilevel.motion_feedback import MotionFeedback

    return MotionFeedback(expert_leg_length_m=cfg.expert_leg_length_m)


def make_synthesis(cfg: LearnConfig) -> SynthesisBackend:
    """The lower-level backend of ``cfg``."""
    if cfg.synthesis == "openai":
        from lm_reward_learning.bilevel.openai_backend import OpenAISynthesis

        return OpenAISynthesis(_endpoint(cfg.synthesis_endpoint, json_mode=False))
    if cfg.synthesis == "reflection":
        from lm_reward_learning.bilevel.reflection import ReflectionSynthesis

        return ReflectionSynthesis()
    from lm_reward_learning.bilevel.rules import RulesSynthesis

    return RulesSynthesis()
