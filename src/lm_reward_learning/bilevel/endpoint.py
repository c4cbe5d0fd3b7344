"""An OpenAI-compatible chat-completions endpoint: its configuration, its errors and the client.

:class:`OpenAIChat` is the one place HTTP happens for the language models (the ``openai`` SDK:
retries with backoff, timeouts). SDK errors, and answers that are not chat completions, become
:class:`EndpointError` subclasses whose messages say what to do. The API key is read from the
environment variable named in :class:`EndpointConfig` (or given explicitly); it is never logged,
never part of a repr, and never written into a returned record. The backends built on it are in
:mod:`lm_reward_learning.bilevel.openai_backend`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lm_reward_learning.bilevel.extract import BackendResponseError, excerpt
from lm_reward_learning.errors import ConfigError, LmrlError

if TYPE_CHECKING:
    import openai

__all__ = [
    "ChatAnswer",
    "EndpointAuthError",
    "EndpointConfig",
    "EndpointConnectionError",
    "EndpointError",
    "EndpointRateLimitError",
    "EndpointRequestError",
    "EndpointResponseError",
    "EndpointServerError",
    "EndpointTimeoutError",
    "OpenAIChat",
]

log = logging.getLogger(__name__)

_SERVER_TEXT_CHARS = 300
#: First wait before repeating a request whose answer was not a chat completion, s (doubles each time).
MALFORMED_RETRY_DELAY_S = 0.5
_MALFORMED_RETRY_DELAY_MAX_S = 8.0


class EndpointError(LmrlError):
    """A chat-completions request failed (the base class of the endpoint errors)."""


class EndpointAuthError(EndpointError):
    """No API key, or the endpoint rejected it (HTTP 401/403)."""


class EndpointRateLimitError(EndpointError):
    """The endpoint kept answering HTTP 429 (rate limit or quota) through all retries."""


class EndpointTimeoutError(EndpointError):
    """No answer within ``timeout_s`` in any attempt."""


class EndpointConnectionError(EndpointError):
    """The endpoint cannot be reached (connection refused, DNS failure, TLS error)."""


class EndpointServerError(EndpointError):
    """The endpoint kept answering HTTP 5xx through all retries."""


class EndpointRequestError(EndpointError):
    """The endpoint rejected the request itself (HTTP 400/404/422: model name, parameters, images)."""


class EndpointResponseError(EndpointError):
    """The endpoint kept answering with something that is not a chat completion (malformed JSON, an
    HTML error page, JSON of another shape) through all retries."""


@dataclass(frozen=True)
class EndpointConfig:
    """Where and how to reach an OpenAI-compatible chat-completions endpoint.

    Attributes:
        base_url: API root, e.g. ``"https://api.openai.com/v1"`` or ``"http://localhost:8000/v1"``.
        model: Model name as the endpoint knows it (``"gpt-4o"``).
        api_key_env: Environment variable holding the API key.
        api_key: The key itself, overriding ``api_key_env`` (kept out of ``repr``; prefer the variable).
        require_api_key: False for local servers that need no key (a placeholder is sent).
        timeout_s: Seconds per attempt before giving up on it.
        max_retries: Extra attempts after a timeout, connection error, HTTP 408/409/429 or 5xx (the SDK
            waits with exponential backoff, or as the server's ``Retry-After`` says).
        temperature: Sampling temperature; None leaves it to the endpoint (required by models that
            accept only their default).
        max_tokens: Limit on the answer's tokens; None leaves it to the endpoint.
        token_limit_param: Name under which ``max_tokens`` is sent: ``"max_tokens"`` (most servers) or
            ``"max_completion_tokens"`` (newer OpenAI models).
        json_mode: Whether the endpoint supports ``response_format={"type": "json_object"}`` (used for
            feedback; answers are parsed robustly either way).
        extra_headers: Headers added to every request (e.g. an organisation or routing header).
        video: Send the expert and robot clips to the feedback model as video parts (OpenAI-compatible
            servers that accept ``video_url`` content, e.g. vLLM with a video model; Gemini always takes
            video). False sends sampled frames as images. A server that rejects the video part gets the
            frames instead.
        inline_media_max_bytes: Gemini only: media up to this many bytes per request go inline, larger
            videos through the Files API (the Gemini API's inline limit is 20 MB per request).
    """

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    api_key: str | None = field(default=None, repr=False)
    require_api_key: bool = True
    timeout_s: float = 120.0
    max_retries: int = 2
    temperature: float | None = 0.2
    max_tokens: int | None = 4096
    token_limit_param: str = "max_tokens"
    json_mode: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)
    video: bool = False
    inline_media_max_bytes: int = 20_000_000

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoint base_url must start with http:// or https://, got {self.base_url!r}.")
        if not self.model:
            raise ConfigError("endpoint model is empty; set it to the model name the endpoint serves.")
        if not self.timeout_s > 0 or self.max_retries < 0:
            raise ConfigError(
                f"endpoint needs timeout_s > 0 and max_retries >= 0, got {self.timeout_s} and {self.max_retries}."
            )
        if self.token_limit_param not in ("max_tokens", "max_completion_tokens"):
            raise ConfigError(
                f"token_limit_param must be 'max_tokens' or 'max_completion_tokens', got {self.token_limit_param!r}."
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "endpoint") -> EndpointConfig:
        """Build from a YAML mapping.

        Raises:
            ConfigError: on an unknown key or a value of the wrong type.
        """
        from lm_reward_learning.config import from_dict

        return from_dict(cls, data, where)

    def to_record(self) -> dict[str, Any]:
        """The settings for the run directory, without ``api_key`` (the variable's name is kept)."""
        return {k: v for k, v in vars(self).items() if k != "api_key"}

    def resolve_api_key(self) -> str:
        """Return the API key: ``api_key`` if set, else the environment variable ``api_key_env``.

        Raises:
            EndpointAuthError: if there is none and ``require_api_key`` is true.
        """
        key = self.api_key or os.environ.get(self.api_key_env, "")
        if key:
            return key
        if self.require_api_key:
            raise EndpointAuthError(
                f"no API key for {self.base_url}: set the environment variable {self.api_key_env} "
                "(or name another variable with api_key_env; for a local server that needs no key set "
                "require_api_key: false)."
            )
        return "no-key"


@dataclass(frozen=True)
class ChatAnswer:
    """One chat-completions answer.

    Attributes:
        text: The message content.
        usage: ``{"prompt_tokens": .., "completion_tokens": ..}`` (zeros if the endpoint omits usage).
        finish_reason: ``"stop"``, ``"length"`` (cut off at max_tokens), ...
        seconds: Wall time of the request, retries included, s.
    """

    text: str
    usage: dict[str, int]
    finish_reason: str
    seconds: float


class OpenAIChat:
    """A chat-completions client for one endpoint (the ``openai`` SDK's ``OpenAI`` client).

    Args:
        config: The endpoint.

    Raises:
        EndpointAuthError: if no API key is available.
    """

    def __init__(self, config: EndpointConfig) -> None:
        import openai

        self.config = config
        self._key = config.resolve_api_key()
        self._client = openai.OpenAI(
            api_key=self._key,
            base_url=config.base_url,
            timeout=config.timeout_s,
            max_retries=config.max_retries,
            default_headers=dict(config.extra_headers),
        )

    def complete(self, messages: list[dict[str, Any]], *, json_mode: bool = False) -> ChatAnswer:
        """Send one chat-completions request.

        Args:
            messages: The messages.
            json_mode: Ask for ``response_format={"type": "json_object"}`` (only if the config allows it).

        Raises:
            EndpointError: (a subclass) when the request fails after the SDK's retries, or the answers
                were not chat completions (:class:`EndpointResponseError`).
            BackendResponseError: when the answer has no message content.
        """
        cfg = self.config
        kwargs: dict[str, Any] = {"model": cfg.model, "messages": messages}
        if cfg.temperature is not None:
            kwargs["temperature"] = cfg.temperature
        if cfg.max_tokens is not None:
            kwargs[cfg.token_limit_param] = cfg.max_tokens
        if json_mode and cfg.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        start = time.monotonic()
        response = self._create(kwargs)
        seconds = time.monotonic() - start
        choice = response.choices[0]
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None)
        finish = str(getattr(choice, "finish_reason", None))
        if not text:
            raise BackendResponseError(
                f"{cfg.base_url} (model {cfg.model}) answered with no message content (finish_reason={finish})."
            )
        usage = {
            "prompt_tokens": int(getattr(response.usage, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(response.usage, "completion_tokens", 0) or 0),
        }
        log.info(
            "%s answered in %.1f s: %d prompt + %d completion tokens, finish_reason=%s",
            cfg.model, seconds, usage["prompt_tokens"], usage["completion_tokens"], finish,
        )  # fmt: skip
        return ChatAnswer(text=text, usage=usage, finish_reason=finish, seconds=seconds)

    def _create(self, kwargs: dict[str, Any]) -> Any:
        """``chat.completions.create`` with the SDK's retries, plus retries of answers that are not a
        chat completion (the SDK raises ``JSONDecodeError`` on a malformed JSON body and returns the text
        of a non-JSON one; neither is retried by it).

        Raises:
            EndpointError: (a subclass) when the request fails; :class:`EndpointResponseError` when
                every one of ``max_retries + 1`` answers was malformed.
        """
        import openai
        from openai.types.chat import ChatCompletion
        from openai.types.chat.chat_completion import Choice

        cfg = self.config
        problem = ""
        for attempt in range(cfg.max_retries + 1):
            if attempt:
                delay = min(MALFORMED_RETRY_DELAY_S * 2 ** (attempt - 1), _MALFORMED_RETRY_DELAY_MAX_S)
                log.warning("%s; asking again in %.1f s (retry %d of %d)", problem, delay, attempt, cfg.max_retries)
                time.sleep(delay)
            try:
                response = self._client.chat.completions.create(**kwargs)
            except openai.OpenAIError as exc:
                mapped = self._map_error(exc)
                raise mapped from (None if self._key in str(exc) else exc)
            except json.JSONDecodeError as exc:  # the body is not JSON (the SDK does not wrap this)
                body = excerpt(self._redact(exc.doc), _SERVER_TEXT_CHARS)
                problem = f"the answer is not valid JSON ({exc}); it begins: {body}"
                continue
            if not isinstance(response, ChatCompletion):
                what = excerpt(self._redact(str(response)), _SERVER_TEXT_CHARS)
                problem = f"the answer is {type(response).__name__} {what}, not a chat-completion object"
                continue
            if not isinstance(response.choices, list) or not response.choices:
                problem = "the answer is JSON without a 'choices' list (not a chat completion)"
                continue
            if not isinstance(response.choices[0], Choice):
                problem = f"the answer's choices[0] is not a choice object: {excerpt(str(response.choices[0]))}"
                continue
            return response
        where = f"{cfg.base_url} (model {cfg.model})"
        tries = f"{cfg.max_retries + 1} attempt{'s' if cfg.max_retries else ''}"
        raise EndpointResponseError(
            f"{where} did not answer with a chat completion in {tries}: {problem}. The server (or a proxy in "
            "front of it) is failing or is not an OpenAI-compatible chat-completions endpoint: check base_url "
            "(usually ending in /v1) and the server's logs, retry later, or raise max_retries."
        )

    def _map_error(self, exc: openai.OpenAIError) -> EndpointError:
        import openai

        cfg = self.config
        where = f"{cfg.base_url} (model {cfg.model})"
        tries = f"{cfg.max_retries + 1} attempt{'s' if cfg.max_retries else ''}"
        said = self._server_text(exc)
        if isinstance(exc, openai.APITimeoutError):
            return EndpointTimeoutError(
                f"no answer from {where} within timeout_s={cfg.timeout_s:g} s ({tries}); raise timeout_s in the "
                "endpoint config (answers to long prompts with images can take minutes) or check the server's load."
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            return EndpointConnectionError(
                f"cannot connect to {cfg.base_url} ({tries}): {self._redact(str(cause or exc))}. Check that the "
                "server is running and that base_url is right (OpenAI-compatible servers usually end in /v1)."
            )
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            source = "the api_key in the endpoint config" if cfg.api_key else f"${cfg.api_key_env}"
            return EndpointAuthError(
                f"{where} rejected the API key (HTTP {exc.status_code}; the key came from {source}): set the "
                f"environment variable {cfg.api_key_env} to a valid key for this endpoint. Server said: {said}"
            )
        if isinstance(exc, openai.RateLimitError):
            return EndpointRateLimitError(
                f"{where} is rate limiting (HTTP 429) through {tries}: lower the request rate (fewer candidates "
                "per iteration, no parallel runs on the same key), retry later, or raise max_retries; if it "
                f"says the quota is exhausted, check the account. Server said: {said}"
            )
        if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
            return EndpointServerError(
                f"{where} failed with HTTP {exc.status_code} through {tries}; the endpoint is failing, retry "
                f"later or raise max_retries. Server said: {said}"
            )
        if isinstance(exc, openai.NotFoundError):
            return EndpointRequestError(
                f"{where}: not found (HTTP 404); check the model name and that base_url is the API root "
                f"(usually ending in /v1). Server said: {said}"
            )
        if isinstance(exc, openai.APIStatusError):
            return EndpointRequestError(
                f"{where} rejected the request (HTTP {exc.status_code}). If the server mentions response_format, "
                "set json_mode: false; max_tokens, set token_limit_param: max_completion_tokens; temperature, "
                f"set temperature: null; images, use a model that accepts image input. Server said: {said}"
            )
        return EndpointError(f"request to {where} failed: {self._redact(str(exc))}")

    def _server_text(self, exc: openai.OpenAIError) -> str:
        body = getattr(exc, "body", None)
        if isinstance(body, dict):
            error = body.get("error", body)
            text = error.get("message", str(error)) if isinstance(error, dict) else str(error)
        else:
            text = str(getattr(exc, "message", exc))
        return excerpt(self._redact(text), _SERVER_TEXT_CHARS)

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text
