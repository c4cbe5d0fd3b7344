"""A Gemini endpoint through Google's ``google-genai`` SDK: the only place HTTP happens for Gemini.

:class:`GeminiChat` has the interface of :class:`~lm_reward_learning.bilevel.endpoint.OpenAIChat`
(``complete(messages, json_mode=...)`` on OpenAI chat-completions messages), so the prompts and
backends are shared. It turns the messages into Gemini ``contents``: the system message becomes the
``system_instruction``, ``assistant`` turns ``model`` turns, image parts ``inline_data`` and video
parts (``video_url`` data URLs) video ``Part``\\ s: inline bytes while the request's media stay under
:attr:`~lm_reward_learning.bilevel.endpoint.EndpointConfig.inline_media_max_bytes` (the Gemini API
takes inline data up to 20 MB a request; newer models more), otherwise uploaded with the Files API
(resumable upload) and referenced by URI once the file is ``ACTIVE`` (polled, bounded by
``timeout_s``). Errors become the :class:`~lm_reward_learning.bilevel.endpoint.EndpointError`
subclasses. Token counts come from ``usage_metadata`` (thinking tokens are billed as output and
counted as completion tokens).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import time
from typing import Any

from lm_reward_learning.bilevel.endpoint import (
    ChatAnswer,
    EndpointAuthError,
    EndpointConfig,
    EndpointConnectionError,
    EndpointError,
    EndpointRateLimitError,
    EndpointRequestError,
    EndpointResponseError,
    EndpointServerError,
    EndpointTimeoutError,
)
from lm_reward_learning.bilevel.extract import BackendResponseError, excerpt

log = logging.getLogger(__name__)

#: Gemini API root (the SDK's default).
GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
#: Seconds between polls of an uploaded file's state.
FILE_POLL_S = 0.5
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}


def _data_url(url: str) -> tuple[str, bytes]:
    """``(mime, bytes)`` of a ``data:<mime>;base64,...`` URL.

    Raises:
        EndpointRequestError: any other URL (Gemini takes media as bytes or uploaded files).
    """
    head, sep, payload = url.partition(",")
    if not (url.startswith("data:") and sep and head.endswith(";base64")):
        raise EndpointRequestError(f"Gemini media must be data URLs of the bytes, got {url[:60]!r}")
    return head[5:-7], base64.b64decode(payload)


class GeminiChat:
    """A ``generate_content`` client for one Gemini endpoint (``google.genai.Client``).

    Args:
        config: The endpoint (``base_url`` the API root, e.g. :data:`GEMINI_BASE_URL`).

    Raises:
        EndpointAuthError: if no API key is available.
    """

    def __init__(self, config: EndpointConfig) -> None:
        from google import genai
        from google.genai import types

        self.config = config
        self._key = config.resolve_api_key()
        self._client = genai.Client(
            api_key=self._key,
            http_options=types.HttpOptions(
                base_url=config.base_url,
                timeout=int(config.timeout_s * 1000),
                headers=dict(config.extra_headers) or None,
                retry_options=types.HttpRetryOptions(attempts=config.max_retries + 1, initial_delay=0.5),
            ),
        )
        self._uploaded: dict[str, Any] = {}  # sha256 of a video -> its ACTIVE file (uploaded once per process)

    def complete(self, messages: list[dict[str, Any]], *, json_mode: bool = False) -> ChatAnswer:
        """Send one request (OpenAI chat-completions messages; see the module docstring).

        Raises:
            EndpointError: (a subclass) when the request or an upload fails after the SDK's retries.
            BackendResponseError: when the answer has no text.
        """
        from google.genai import types

        cfg = self.config
        system, contents = self._contents(messages)
        gen = types.GenerateContentConfig(
            system_instruction=system or None,
            temperature=cfg.temperature,
            max_output_tokens=cfg.max_tokens,
            response_mime_type="application/json" if json_mode and cfg.json_mode else None,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        start = time.monotonic()
        generate = self._client.models.generate_content
        response = self._call(lambda: generate(model=cfg.model, contents=contents, config=gen))
        seconds = time.monotonic() - start
        candidates = getattr(response, "candidates", None) or []
        finish = str(getattr(getattr(candidates[0], "finish_reason", None), "value", "")) if candidates else ""
        parts = getattr(getattr(candidates[0], "content", None), "parts", None) or [] if candidates else []
        text = "".join(p.text for p in parts if getattr(p, "text", None) and not getattr(p, "thought", False))
        if not text:
            feedback = getattr(response, "prompt_feedback", None)
            raise BackendResponseError(
                f"{cfg.base_url} (model {cfg.model}) answered with no text (finish_reason={finish or 'none'}"
                + (f", prompt feedback {excerpt(str(feedback))}" if feedback else "")
                + ")."
            )
        meta = getattr(response, "usage_metadata", None)
        completion = int(getattr(meta, "candidates_token_count", 0) or 0) + int(
            getattr(meta, "thoughts_token_count", 0) or 0
        )
        usage = {"prompt_tokens": int(getattr(meta, "prompt_token_count", 0) or 0), "completion_tokens": completion}
        log.info(
            "%s answered in %.1f s: %d prompt + %d completion tokens, finish_reason=%s",
            cfg.model, seconds, usage["prompt_tokens"], usage["completion_tokens"], finish,
        )  # fmt: skip
        return ChatAnswer(text=text, usage=usage, finish_reason=_FINISH.get(finish, finish.lower()), seconds=seconds)

    # ----------------------------------------------------------------------------------------- messages
    def _contents(self, messages: list[dict[str, Any]]) -> tuple[str, list[Any]]:
        from google.genai import types

        media = sum(
            len(part[part["type"]]["url"]) * 3 // 4
            for m in messages
            if isinstance(m.get("content"), list)
            for part in m["content"]
            if part.get("type") in ("image_url", "video_url")
        )
        upload = media > self.config.inline_media_max_bytes
        system, contents = [], []
        for message in messages:
            content = message.get("content")
            if message["role"] == "system":
                system.append(content if isinstance(content, str) else " ".join(p.get("text", "") for p in content))
                continue
            parts = []
            for part in content if isinstance(content, list) else [{"type": "text", "text": content or ""}]:
                kind = part.get("type")
                if kind == "text":
                    parts.append(types.Part.from_text(text=part["text"]))
                elif kind in ("image_url", "video_url"):
                    mime, data = _data_url(part[kind]["url"])
                    if kind == "video_url" and upload:
                        file = self._upload(data, mime)
                        parts.append(types.Part.from_uri(file_uri=file.uri, mime_type=mime))
                    else:
                        parts.append(types.Part.from_bytes(data=data, mime_type=mime))
            contents.append(types.Content(role="model" if message["role"] == "assistant" else "user", parts=parts))
        return "\n\n".join(system), contents

    def _upload(self, data: bytes, mime: str) -> Any:
        """Upload a video with the Files API (once per content) and wait until it is ``ACTIVE``.

        Raises:
            EndpointTimeoutError: not ``ACTIVE`` within ``timeout_s``.
            EndpointRequestError: the service failed to process it (state ``FAILED``).
        """
        from google.genai import types

        key = hashlib.sha256(data).hexdigest()
        if key in self._uploaded:
            return self._uploaded[key]
        config = types.UploadFileConfig(mime_type=mime, display_name=f"lmrl-{key[:16]}")
        file = self._call(lambda: self._client.files.upload(file=io.BytesIO(data), config=config))
        deadline = time.monotonic() + self.config.timeout_s
        while str(getattr(file.state, "value", file.state)) != "ACTIVE":
            if str(getattr(file.state, "value", file.state)) == "FAILED":
                raise EndpointRequestError(
                    f"{self.config.base_url} could not process the uploaded video {file.name} ({len(data)} bytes, "
                    f"{mime}): {excerpt(str(getattr(file, 'error', '')))}. Check that it is a playable MP4."
                )
            if time.monotonic() > deadline:
                raise EndpointTimeoutError(
                    f"the uploaded video {file.name} was not ready (state {file.state}) within timeout_s="
                    f"{self.config.timeout_s:g} s; raise timeout_s in the endpoint config."
                )
            time.sleep(FILE_POLL_S)
            file = self._call(lambda name=file.name: self._client.files.get(name=name))
        log.info("uploaded %d bytes of %s as %s", len(data), mime, file.name)
        self._uploaded[key] = file
        return file

    # ----------------------------------------------------------------------------------------- errors
    def _call(self, fn):
        import httpx
        from google.genai import errors

        try:
            return fn()
        except errors.APIError as exc:
            raise self._map(exc) from None
        except httpx.TimeoutException:
            raise EndpointTimeoutError(
                f"no answer from {self.config.base_url} (model {self.config.model}) within timeout_s="
                f"{self.config.timeout_s:g} s; raise timeout_s (answers about videos can take minutes)."
            ) from None
        except httpx.TransportError as exc:
            raise EndpointConnectionError(
                f"cannot connect to {self.config.base_url}: {self._redact(str(exc))}. Check that base_url is the "
                f"Gemini API root ({GEMINI_BASE_URL}) or your proxy's."
            ) from None
        except ValueError as exc:  # a body that is not JSON, or JSON of another shape
            raise EndpointResponseError(
                f"{self.config.base_url} did not answer as the Gemini API does: {excerpt(self._redact(str(exc)))}. "
                "Check base_url (the API root, without /v1beta) and the server's logs."
            ) from None

    def _map(self, exc: Any) -> EndpointError:
        cfg = self.config
        where = f"{cfg.base_url} (model {cfg.model})"
        said = excerpt(self._redact(str(getattr(exc, "message", None) or exc)), 300)
        code = int(getattr(exc, "code", 0) or 0)
        if code in (401, 403):
            return EndpointAuthError(
                f"{where} rejected the API key (HTTP {code}): set the environment variable {cfg.api_key_env} to a "
                f"valid Gemini API key. Server said: {said}"
            )
        if code == 429:
            return EndpointRateLimitError(
                f"{where} is rate limiting (HTTP 429) through {cfg.max_retries + 1} attempts: retry later, use fewer "
                f"candidates, or check the project's quota. Server said: {said}"
            )
        if code >= 500:
            return EndpointServerError(f"{where} failed with HTTP {code}; retry later. Server said: {said}")
        if code == 404:
            return EndpointRequestError(f"{where}: not found (HTTP 404); check the model name. Server said: {said}")
        return EndpointRequestError(
            f"{where} rejected the request (HTTP {code}); check the model name and that it accepts video. "
            f"Server said: {said}"
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text
