"""A fake OpenAI-compatible chat-completions server for tests (stdlib ``http.server`` in a thread).

Serves ``POST /v1/chat/completions`` on 127.0.0.1 with scripted replies, one per request, in order,
and records every request (path, headers, JSON body). The real ``openai`` client talks to it, so
retries, timeouts and error mapping are exercised as in production.

    with FakeOpenAIServer() as server:
        server.script(error_reply(500), chat_reply('{"problems": []}'))
        ... EndpointConfig(base_url=server.base_url, ...) ...
        assert len(server.requests) == 2
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted reply.

    Attributes:
        status: HTTP status.
        body: JSON-ready body (dict) or raw text.
        delay_s: Seconds to wait before answering (cut short when the server stops).
        headers: Extra response headers (e.g. ``retry-after-ms``).
        content_type: The ``content-type`` header (a failing proxy answers ``text/html``).
    """

    status: int = 200
    body: dict[str, Any] | str = ""
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it (header names lower case)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def chat_reply(
    content: str,
    *,
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
    finish_reason: str = "stop",
    model: str = "fake-model",
    delay_s: float = 0.0,
) -> Reply:
    """A 200 chat-completions reply whose single choice says ``content``."""
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return Reply(200, body, delay_s)


def error_reply(status: int, message: str = "fake failure", *, retry_after_ms: int | None = 1) -> Reply:
    """An OpenAI-style error reply; ``retry-after-ms`` keeps the SDK's retry backoff short in tests."""
    headers = {} if retry_after_ms is None else {"retry-after-ms": str(retry_after_ms)}
    body = {"error": {"message": message, "type": "fake_error", "param": None, "code": str(status)}}
    return Reply(status, body, headers=headers)


class FakeOpenAIServer:
    """Scripted OpenAI-compatible server on 127.0.0.1 (an ephemeral port); a context manager."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._replies: list[Reply] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai", daemon=True
        )

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered one per request in order."""
        with self._lock:
            self._replies.extend(replies)

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._replies:
                return self._replies.pop(0)
        return Reply(
            500, {"error": {"message": "fake server: no scripted reply left"}}, headers={"x-should-retry": "false"}
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_unparsed": raw.decode("utf-8", "replace")}
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path.rstrip("/") != "/v1/chat/completions":
                    reply = Reply(404, {"error": {"message": f"fake server: no route {self.path}"}})
                    server.requests.append(RecordedRequest(self.path, headers, body))
                else:
                    reply = server._next(RecordedRequest(self.path, headers, body))
                if reply.delay_s and server._stopping.wait(reply.delay_s):
                    return
                data = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                payload = data.encode("utf-8")
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", reply.content_type)
                    self.send_header("content-length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
