"""A fake Gemini API server for tests (stdlib ``http.server`` in a thread, on 127.0.0.1).

Speaks the Gemini API's REST protocol as the ``google-genai`` SDK uses it, so the real SDK is driven:

* ``POST /v1beta/models/<model>:generateContent`` — scripted replies, one per request, in order;
* ``POST /upload/v1beta/files`` with ``X-Goog-Upload-Protocol: resumable`` and ``X-Goog-Upload-Command:
  start`` — answers an ``x-goog-upload-url``; ``POST`` of the bytes there with ``upload, finalize`` —
  answers ``x-goog-upload-status: final`` and the file (state ``PROCESSING``);
* ``GET /v1beta/files/<id>`` — the file, ``PROCESSING`` on the first poll, ``ACTIVE`` after.

Every request is recorded (method, path, headers, JSON body or raw bytes).

    with FakeGeminiServer() as server:
        server.script(gemini_reply('{"problems": []}'))
        ... GeminiChat(EndpointConfig(base_url=server.base_url, ...)) ...
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted ``generateContent`` reply: HTTP status and JSON body."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it (header names lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""


def gemini_reply(text: str, *, prompt_tokens: int = 11, completion_tokens: int = 7, thoughts: int = 0) -> Reply:
    """A 200 ``GenerateContentResponse`` whose single candidate says ``text``."""
    usage = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": completion_tokens,
        "totalTokenCount": prompt_tokens + completion_tokens + thoughts,
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return Reply(
        200,
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": usage,
            "modelVersion": "fake-gemini",
        },
    )


def gemini_error(status: int, message: str = "fake failure") -> Reply:
    """A Gemini API error body (``{"error": {"code", "message", "status"}}``)."""
    names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED"}
    return Reply(status, {"error": {"code": status, "message": message, "status": names.get(status, "INTERNAL")}})


class FakeGeminiServer:
    """Scripted fake Gemini API on 127.0.0.1 (an ephemeral port); a context manager."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.uploads: dict[str, bytes] = {}  # file name -> bytes received
        self._polls: dict[str, int] = {}
        self._replies: list[Reply] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-gemini", daemon=True
        )

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (the API root, as ``https://generativelanguage.googleapis.com``)."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def script(self, *replies: Reply) -> None:
        """Queue ``generateContent`` replies, answered one per request in order."""
        with self._lock:
            self._replies.extend(replies)

    def generate_requests(self) -> list[RecordedRequest]:
        """The ``generateContent`` requests, in order."""
        return [r for r in self.requests if r.path.endswith(":generateContent")]

    def __enter__(self) -> FakeGeminiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _file(self, name: str) -> dict[str, Any]:
        polls = self._polls.get(name, 0)
        return {
            "name": name,
            "mimeType": "video/mp4",
            "sizeBytes": str(len(self.uploads.get(name, b""))),
            "uri": f"{self.base_url}/v1beta/{name}",
            "state": "ACTIVE" if polls >= 1 else "PROCESSING",
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def _record(self, raw: bytes) -> RecordedRequest:
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    body = json.loads(raw) if raw and "json" in headers.get("content-type", "") else None
                except ValueError:
                    body = None
                request = RecordedRequest(self.command, self.path, headers, body, raw)
                with server._lock:
                    server.requests.append(request)
                return request

            def do_GET(self) -> None:
                self._record(b"")
                name = self.path.split("?")[0].removeprefix("/v1beta/")
                if name not in server.uploads:
                    self._send(404, {"error": {"code": 404, "message": f"no file {name}", "status": "NOT_FOUND"}})
                    return
                server._polls[name] = server._polls.get(name, 0) + 1
                self._send(200, server._file(name))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = self._record(raw)
                path = self.path.split("?")[0]
                command = request.headers.get("x-goog-upload-command", "")
                if path == "/upload/v1beta/files" and command == "start":
                    name = f"files/fake{len(server.uploads)}"
                    server.uploads[name] = b""
                    self._send(200, {}, {"x-goog-upload-url": f"{server.base_url}/upload/session/{name}"})
                elif path.startswith("/upload/session/"):
                    name = path.removeprefix("/upload/session/")
                    server.uploads[name] += raw
                    final = "finalize" in command
                    body = {"file": server._file(name)} if final else {}
                    self._send(200, body, {"x-goog-upload-status": "final" if final else "active"})
                elif path.endswith(":generateContent"):
                    with server._lock:
                        reply = server._replies.pop(0) if server._replies else gemini_error(500, "no scripted reply")
                    self._send(reply.status, reply.body)
                else:
                    self._send(404, {"error": {"code": 404, "message": f"no route {path}", "status": "NOT_FOUND"}})

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
