"""Build the feedback and synthesis backends a :class:`LearnConfig` names.

The language-model backends get their chat clients through a
:class:`~lm_reward_learning.bilevel.exchanges.CallSession` (:func:`call_session`), which stores
every exchange, answers from ``--replay``/``--cache`` and keeps the budget.
"""

from __future__ import annotations

from pathlib import Path

from lm_reward_learning.bilevel.config import EndpointSettings, LearnConfig, level_endpoint
from lm_reward_learning.bilevel.exchanges import CallSession
from lm_reward_learning.bilevel.protocols import FeedbackBackend, SynthesisBackend


def call_session(cfg: LearnConfig, *, cache_dir: Path | None = None, replay: Path | None = None) -> CallSession:
    """The :class:`CallSession` of a run of ``cfg``: its price table and budget, ``--cache DIR``,
    ``--replay RUN``.

    Raises:
        lm_reward_learning.errors.ConfigError: an unreadable price table.
    """
    from lm_reward_learning.bilevel.budget import Budget, PriceTable
    from lm_reward_learning.bilevel.exchanges import AnswerCache, ReplaySource

    return CallSession(
        prices=PriceTable.load(cfg.prices),
        budget=Budget(cfg.max_cost_usd, cfg.max_total_tokens),
        cache=AnswerCache(Path(cache_dir)) if cache_dir is not None else None,
        replay=ReplaySource(replay) if replay is not None else None,
    )


def endpoint_config(s: EndpointSettings, *, json_mode: bool):
    """The ``EndpointConfig`` of configured settings (``json_mode`` for feedback only)."""
    import dataclasses

    from lm_reward_learning.bilevel.endpoint import EndpointConfig

    fields = dataclasses.asdict(s)
    fields["json_mode"] = json_mode and s.json_mode
    return EndpointConfig(**fields)


def _chat(session: CallSession, cfg: LearnConfig, level: str, *, json_mode: bool):
    """The metered client of ``level``: an ``OpenAIChat`` or a ``GeminiChat`` on its endpoint."""
    config = endpoint_config(level_endpoint(cfg, level), json_mode=json_mode)
    if getattr(cfg, level) == "gemini":
        from lm_reward_learning.bilevel.gemini_endpoint import GeminiChat

        return session.chat(level, "gemini", config, lambda: GeminiChat(config))
    from lm_reward_learning.bilevel.endpoint import OpenAIChat

    return session.chat(level, "openai", config, lambda: OpenAIChat(config))


def make_feedback(cfg: LearnConfig, session: CallSession | None = None) -> FeedbackBackend | None:
    """The upper-level backend of ``cfg`` (None in Eureka mode, which uses no video).

    ``openai`` sends frames, or video parts with ``video: true`` in the endpoint settings; ``gemini``
    sends the clips as video.

    Raises:
        lm_reward_learning.bilevel.endpoint.EndpointAuthError: no API key (not when replaying).
    """
    if cfg.mode == "eureka":
        return None
    if cfg.feedback in ("openai", "gemini"):
        from lm_reward_learning.bilevel.openai_backend import OpenAIFeedback

        session = session if session is not None else call_session(cfg)
        chat = _chat(session, cfg, "feedback", json_mode=True)
        video = cfg.feedback == "gemini" or chat.config.video
        return OpenAIFeedback(chat.config, chat=chat, video=video, name=f"{cfg.feedback}:{chat.config.model}")
    if cfg.feedback == "human":
        from lm_reward_learning.bilevel.human import HumanFeedback

        return HumanFeedback(cfg.human_feedback)
    from lm_reward_learning.bilevel.motion_feedback import MotionFeedback

    return MotionFeedback(expert_leg_length_m=cfg.effective_expert_leg_length_m)


def make_synthesis(cfg: LearnConfig, session: CallSession | None = None) -> SynthesisBackend:
    """The lower-level backend of ``cfg``.

    Raises:
        lm_reward_learning.bilevel.endpoint.EndpointAuthError: no API key (not when replaying).
    """
    if cfg.synthesis in ("openai", "gemini"):
        from lm_reward_learning.bilevel.openai_backend import OpenAISynthesis

        session = session if session is not None else call_session(cfg)
        chat = _chat(session, cfg, "synthesis", json_mode=False)
        backend = OpenAISynthesis(chat.config, chat=chat)
        backend.name = f"{cfg.synthesis}:{chat.config.model}"
        return backend
    if cfg.synthesis == "reflection":
        from lm_reward_learning.bilevel.reflection import ReflectionSynthesis

        return ReflectionSynthesis()
    from lm_reward_learning.bilevel.rules import RulesSynthesis

    return RulesSynthesis()
