"""Feedback (VLM) and synthesis (LLM) backends for any OpenAI-compatible chat-completions endpoint.

:class:`OpenAIFeedback` is the paper's upper level: it sends the task, the current reward program and
sampled expert and rollout frames (base64 data URLs) and parses the four-part feedback JSON.
:class:`OpenAISynthesis` is the lower level: it sends the contract, the validator's rules and the
feedback and extracts the new reward program. Prompts are the versioned templates of
:mod:`lm_reward_learning.prompts`.

Both talk to the endpoint through :class:`~lm_reward_learning.bilevel.endpoint.OpenAIChat` (the
endpoint's configuration, errors and HTTP client live in :mod:`lm_reward_learning.bilevel.endpoint`,
).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import TYPE_CHECKING, Any

from lm_reward_learning.bilevel.endpoint import (
    EndpointConfig,
    EndpointRequestError,
    OpenAIChat,
)
from lm_reward_learning.bilevel.extract import (
    BackendResponseError,
    FeedbackFormatError,
    excerpt,
    extract_code,
    extract_json_object,
    parse_feedback,
)
from lm_reward_learning.bilevel.protocols import Feedback, FeedbackRequest, SynthesisRequest, SynthesisResult
from lm_reward_learning.errors import ConfigError
from lm_reward_learning.prompts import PROMPT_VERSION
from lm_reward_learning.prompts.messages import (
    ImageOptions,
    Prompt,
    build_feedback_messages,
    build_synthesis_messages,
    facts_fix_message,
    feedback_fix_message,
)

if TYPE_CHECKING:
    pass

__all__ = ["OpenAIFeedback", "OpenAISynthesis"]

log = logging.getLogger(__name__)


class OpenAIFeedback:
    """Upper level: a vision-language model compares the expert video with the robot's rollout.

    Args:
        endpoint: The endpoint (a VLM: it must accept image parts).
        images: Frame count, size and format; default :class:`ImageOptions`.
        prompt_version: Version of the ``feedback_*`` templates.
        format_retries: Follow-up requests when an answer is not usable feedback JSON; each quotes the
            problem back to the model.
        chat: A client to use instead of one built from ``endpoint`` (tests, sharing).
        fact_retries: Follow-up requests when an answer contradicts a hard fact of the request's
            evidence; after them the answer is overruled.
        video: Send the expert and robot clips as video parts instead of frames; if the endpoint
            rejects them (HTTP 4xx), frames are sent instead, for this call and the later ones.
        name: The backend's label (default ``"openai:<model>"``; ``"gemini:<model>"`` on Gemini).

    Attributes:
        name: ``"openai:<model>"``.
        last_exchange: What the last call sent and got (messages with images described, not embedded;
            template ids; prompt version; raw answers; token usage summed over attempts), for the run
            directory. :class:`Feedback` has no fields for these.

    Raises:
        EndpointAuthError: if no API key is available.
    """

    def __init__(
        self,
        endpoint: EndpointConfig,
        images: ImageOptions | None = None,
        prompt_version: str = PROMPT_VERSION,
        format_retries: int = 1,
        chat: OpenAIChat | None = None,
        fact_retries: int = 1,
        video: bool = False,
        name: str | None = None,
    ) -> None:
        if format_retries < 0 or fact_retries < 0:
            raise ConfigError(f"format_retries and fact_retries must be >= 0, got {format_retries}, {fact_retries}.")
        self.endpoint = endpoint
        self.images = images if images is not None else ImageOptions()
        self.prompt_version = prompt_version
        self.format_retries = format_retries
        self.fact_retries = fact_retries
        self.name = name or f"openai:{endpoint.model}"
        self.video = video
        self._chat = chat if chat is not None else OpenAIChat(endpoint)
        self.last_exchange: dict[str, Any] = {}

    def feedback(self, request: FeedbackRequest) -> Feedback:
        """Ask the model for feedback on one iteration.

        An answer that is not usable feedback JSON is sent back with the problem (``format_retries``
        times); one that contradicts a hard fact of ``request.evidence`` is sent back with the facts
        (``fact_retries`` times) and then overruled (:func:`~lm_reward_learning.bilevel.evidence.overrule`).

        Raises:
            EndpointError: (a subclass) when the request fails.
            BackendResponseError: when no usable feedback came back after ``format_retries`` follow-ups;
                the message says what was wrong and quotes the answer.
        """
        from lm_reward_learning.bilevel import evidence as ev

        prompt = build_feedback_messages(request, self.images, self.prompt_version, video=self.video)
        messages = list(prompt.messages)
        recorded = prompt.record()
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        answers: list[str] = []
        checks: list[list[dict[str, Any]]] = []
        format_left, facts_left = self.format_retries, self.fact_retries
        self.last_exchange = {}
        while True:
            try:
                answer = self._chat.complete(messages, json_mode=True)
            except EndpointRequestError as exc:
                if not (self.video and "video" in json.dumps(prompt.templates) and not answers):
                    raise
                log.warning("%s rejected the video parts (%s); sending frames instead from now on", self.name, exc)
                self.video = False
                prompt = build_feedback_messages(request, self.images, self.prompt_version)
                messages, recorded = list(prompt.messages), prompt.record()
                continue
            answers.append(answer.text)
            for key in usage:
                usage[key] += answer.usage[key]
            self.last_exchange = {
                "prompt_version": self.prompt_version,
                "templates": prompt.templates,
                "messages": recorded,
                "answers": answers,
                "usage": usage,
                "fact_checks": checks,
            }
            try:
                data = extract_json_object(answer.text)
                feedback = parse_feedback(data, backend=self.name, raw=answer.text)
            except (BackendResponseError, FeedbackFormatError) as exc:
                problem = str(exc)
                if isinstance(exc, FeedbackFormatError):
                    problem = f"the feedback JSON is malformed: {exc}. The answer begins: {excerpt(answer.text)}"
                if answer.finish_reason == "length":
                    problem += " (the answer was cut off at max_tokens; raise max_tokens in the endpoint config)"
                error = BackendResponseError(f"{self.name} feedback, iteration {request.iteration}: {problem}")
                if not format_left:
                    raise error from None
                format_left -= 1
                log.warning("%s; asking again (%d left)", error, format_left)
                fix = feedback_fix_message(problem, self.prompt_version)
            else:
                if request.evidence is None:
                    return feedback
                wrong = ev.contradictions(request.evidence, data, feedback)
                checks.append(wrong)
                if not wrong:
                    measurements = {**feedback.measurements, "evidence": request.evidence.to_dict()}
                    return dataclasses.replace(feedback, measurements=measurements)
                if not facts_left:
                    log.warning("%s feedback contradicts measured facts; overruled: %s", self.name, ev.fix_text(wrong))
                    return ev.overrule(feedback, wrong, request.evidence)
                facts_left -= 1
                log.warning("%s feedback contradicts measured facts (%s); asking again", self.name, ev.fix_text(wrong))
                fix = facts_fix_message(ev.fix_text(wrong), self.prompt_version)
            messages += [{"role": "assistant", "content": answer.text}, fix]
            recorded = [*recorded, {"role": "assistant", "content": answer.text}, fix]


class OpenAISynthesis:
    """Lower level: a language model writes the next reward program.

    Args:
        endpoint: The endpoint.
        prompt_version: Version of the ``synthesis_*``/``eureka_*`` templates.
        chat: A client to use instead of one built from ``endpoint`` (tests, sharing).

    Attributes:
        name: ``"openai:<model>"``.

    Raises:
        EndpointAuthError: if no API key is available.
    """

    def __init__(
        self, endpoint: EndpointConfig, prompt_version: str = PROMPT_VERSION, chat: OpenAIChat | None = None
    ) -> None:
        self.endpoint = endpoint
        self.prompt_version = prompt_version
        self.name = f"openai:{endpoint.model}"
        self._chat = chat if chat is not None else OpenAIChat(endpoint)

    def synthesize(self, request: SynthesisRequest) -> SynthesisResult:
        """Ask the model for a new reward program.

        Returns:
            The program (not yet validated); ``prompt`` holds the messages sent, each with its
            ``"template"`` id (e.g. ``"synthesis_system_v1"``); ``usage`` the token counts.

        Raises:
            EndpointError: (a subclass) when the request fails.
            BackendResponseError: when the answer holds no program ("the model answered without code").
        """
        prompt: Prompt = build_synthesis_messages(request, self.prompt_version)
        answer = self._chat.complete(prompt.messages)
        try:
            source = extract_code(answer.text)
        except BackendResponseError as exc:
            hint = " (cut off at max_tokens; raise max_tokens)" if answer.finish_reason == "length" else ""
            raise BackendResponseError(
                f"{self.name} synthesis, iteration {request.iteration} candidate {request.candidate}{hint}: {exc}"
            ) from None
        return SynthesisResult(
            source=source,
            backend=self.name,
            prompt=prompt.record(),
            raw_response=answer.text,
            usage=dict(answer.usage),
        )
