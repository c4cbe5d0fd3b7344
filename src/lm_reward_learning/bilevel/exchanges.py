"""Every language-model exchange of a learn run, stored content-addressed; the cache; replay; the budget.

A backend's chat client is wrapped in a :class:`MeteredChat` (by :mod:`~.backends`). While a step of
the loop runs inside :func:`at` (the store and the position: level, iteration, candidate, attempt),
each call is:

1. described as a request record: provider, model, base URL, parameters and the messages with every
   image and video replaced by its SHA-256 digest, MIME type and size (:func:`request_record`); its
   hash is the request key;
2. answered from the first source that has it: ``--replay RUN`` (the stored run's answer at the same
   position), this run's own log (an identical request at the same position, e.g. after
   ``--resume``), the ``--cache DIR`` (any identical request), or the endpoint, after the
   :class:`~.budget.Budget` check;
3. stored: ``<run>/exchanges/<sha256>.json`` (request record, answer, usage; the file name is the hash
   of its content) and one line of ``<run>/exchanges/log.jsonl`` (position, source, tokens, cost).

Layout::

    <run>/exchanges/log.jsonl         one line per call, in order
    <run>/exchanges/<sha256>.json     one exchange (request record + answer)
    <cache>/<kk>/<request key>.json   the cache: an answer per request key

Replay (:class:`ReplaySource`) answers by position (the last call stored at each position, so a step
redone after ``--resume`` counts once) and reports when the request differs from the stored one
(e.g. rollout frames of a training that is not bit-reproducible on this machine).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import contextvars
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lm_reward_learning.bilevel.budget import (
    DEFAULT_ANSWER_TOKENS,
    Budget,
    PriceTable,
    Spend,
    request_tokens,
)
from lm_reward_learning.bilevel.endpoint import ChatAnswer, EndpointConfig
from lm_reward_learning.errors import LmrlError
from lm_reward_learning.io import atomic_write_json

if TYPE_CHECKING:
    from lm_reward_learning.bilevel.store import LearnStore

log = logging.getLogger(__name__)

LEVELS = ("feedback", "synthesis")


class ReplayError(LmrlError):
    """The stored run has no answer for a call of the replay (the replay went another way)."""


class ChatClient(Protocol):
    """What a backend calls: :class:`~.endpoint.OpenAIChat`, :class:`~.gemini_endpoint.GeminiChat`."""

    def complete(self, messages: list[dict[str, Any]], *, json_mode: bool = False) -> ChatAnswer:
        """Send one request (OpenAI chat-completions messages) and return the answer."""
        ...


@dataclass(frozen=True)
class Position:
    """Where in the loop a call is made.

    Attributes:
        level: ``feedback`` or ``synthesis``.
        iteration: Loop iteration.
        candidate: Candidate index (0 for feedback).
        attempt: Synthesis attempt (0 for feedback).
    """

    level: str
    iteration: int
    candidate: int = 0
    attempt: int = 0

    def describe(self) -> str:
        """``"synthesis call of iteration 2 candidate 0 (attempt 1)"``."""
        if self.level == "feedback":
            return f"feedback call of iteration {self.iteration}"
        return f"synthesis call of iteration {self.iteration} candidate {self.candidate} (attempt {self.attempt})"


@dataclass
class _Step:
    store: LearnStore
    position: Position
    calls: int = 0


_STEP: contextvars.ContextVar[_Step | None] = contextvars.ContextVar("lmrl_exchange_step", default=None)


@contextlib.contextmanager
def at(store: LearnStore, level: str, iteration: int, candidate: int = 0, attempt: int = 0) -> Iterator[None]:
    """Record the calls made inside the block into ``store`` at this position (see the module docstring)."""
    token = _STEP.set(_Step(store, Position(level, iteration, candidate, attempt)))
    try:
        yield
    finally:
        _STEP.reset(token)


# --------------------------------------------------------------------------------------------- records
def digest(data: bytes) -> str:
    """SHA-256 of ``data``, hex."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> str:
    """The JSON text that is hashed: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def media_record(url: str) -> dict[str, Any] | str:
    """A ``data:<mime>;base64,...`` URL as ``{"sha256", "mime", "bytes"}``; any other URL unchanged."""
    head, sep, payload = url.partition(",")
    if not (url.startswith("data:") and sep and head.endswith(";base64")):
        return url
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return {"sha256": digest(payload.encode()), "mime": head[5:-7], "bytes": None}
    return {"sha256": digest(data), "mime": head[5:-7], "bytes": len(data)}


def canonical_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages with every embedded image or video replaced by its :func:`media_record`."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            parts = []
            for part in content:
                kind = part.get("type")
                if kind in ("image_url", "video_url") and isinstance(part.get(kind), dict):
                    inner = dict(part[kind])
                    inner["url"] = media_record(str(inner.get("url", "")))
                    part = {**part, kind: inner}
                parts.append(part)
            content = parts
        out.append({**message, "content": content})
    return out


def request_record(
    provider: str, config: EndpointConfig, messages: list[dict[str, Any]], json_mode: bool
) -> dict[str, Any]:
    """What identifies a request: provider, model, base URL, parameters, messages (media as digests).

    Header values are left out (they may hold credentials); their names are kept.
    """
    return {
        "provider": provider,
        "model": config.model,
        "base_url": config.base_url,
        "parameters": {
            "temperature": config.temperature,
            config.token_limit_param: config.max_tokens,
            "json_mode": bool(json_mode and config.json_mode),
            "headers": sorted(config.extra_headers),
        },
        "messages": canonical_messages(messages),
    }


def _answer_dict(answer: ChatAnswer) -> dict[str, Any]:
    return {"text": answer.text, "finish_reason": answer.finish_reason, "usage": dict(answer.usage)}


def _answer(d: dict[str, Any]) -> ChatAnswer:
    usage = {k: int(d.get("usage", {}).get(k, 0)) for k in ("prompt_tokens", "completion_tokens")}
    return ChatAnswer(text=d["text"], usage=usage, finish_reason=d.get("finish_reason", "stop"), seconds=0.0)


def exchanges_dir(store: LearnStore) -> Path:
    """``<run>/exchanges``."""
    d = store.path / "exchanges"
    d.mkdir(exist_ok=True)
    return d


def read_log(run: Path) -> list[dict[str, Any]]:
    """The lines of ``<run>/exchanges/log.jsonl`` (empty when the run made no call); a torn last line
    (the process was killed while writing it) is skipped."""
    f = Path(run) / "exchanges" / "log.jsonl"
    if not f.is_file():
        return []
    out = []
    for line in f.read_text().splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def read_exchange(run: Path, address: str) -> dict[str, Any]:
    """One stored exchange by its address."""
    return json.loads((Path(run) / "exchanges" / f"{address}.json").read_text())


# --------------------------------------------------------------------------------------------- replay, cache
class ReplaySource:
    """The answers of a stored learn run, by position (see the module docstring).

    Args:
        run: The stored learn run (``lmrl learn --replay RUN``).

    Raises:
        ReplayError: if the run has no exchange log (it made no language-model call).
    """

    def __init__(self, run: Path) -> None:
        self.run = Path(run)
        self._by_position: dict[tuple, dict[str, Any]] = {}
        for line in read_log(self.run):
            self._by_position[_slot(line)] = line  # the last call at each position wins

    def answer(self, position: Position, call: int, request_key: str) -> tuple[ChatAnswer, dict[str, Any], bool]:
        """The stored answer of call ``call`` at ``position``, its log line, and whether the request matched.

        Raises:
            ReplayError: the stored run made no such call.
        """
        line = self._by_position.get((position.level, position.iteration, position.candidate, position.attempt, call))
        if line is None:
            raise ReplayError(
                f"{self.run} has no stored answer for the {position.describe()} (call {call + 1}): the replay went "
                "another way than the stored run (a different config, or the stored run stopped before this call). "
                "Replay a run with the learn.yaml it was made with; everything replayed so far is saved."
            )
        exchange = read_exchange(self.run, line["exchange"])
        return _answer(exchange["answer"]), line, line["request_key"] == request_key


def _slot(line: dict[str, Any]) -> tuple:
    return (line["level"], line["iteration"], line["candidate"], line["attempt"], line["call"])


@dataclass(frozen=True)
class AnswerCache:
    """``--cache DIR``: answers by request key, shared between runs.

    Attributes:
        root: The cache folder.
    """

    root: Path

    def _file(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> ChatAnswer | None:
        """The cached answer of request ``key``, or None."""
        f = self._file(key)
        if not f.is_file():
            return None
        try:
            return _answer(json.loads(f.read_text())["answer"])
        except (ValueError, KeyError):
            log.warning("ignoring an unreadable cache entry %s", f)
            return None

    def put(self, key: str, record: dict[str, Any], answer: ChatAnswer) -> None:
        """Store ``answer`` of request ``key`` (the first answer of a key is kept)."""
        f = self._file(key)
        if not f.is_file():
            atomic_write_json(f, {"request_key": key, "request": record, "answer": _answer_dict(answer)})


# --------------------------------------------------------------------------------------------- metering
@dataclass
class CallSession:
    """How a learn run's calls are answered and accounted (one per ``lmrl learn`` process).

    Attributes:
        prices: The price table.
        budget: The spending limits.
        cache: ``--cache DIR``, or None.
        replay: ``--replay RUN``, or None (then no call reaches an endpoint).
    """

    prices: PriceTable = field(default_factory=PriceTable.load)
    budget: Budget = field(default_factory=Budget)
    cache: AnswerCache | None = None
    replay: ReplaySource | None = None

    def chat(self, level: str, provider: str, config: EndpointConfig, build: Callable[[], ChatClient]) -> MeteredChat:
        """The metered client of one level; ``build()`` makes the real client (not called when replaying,
        so a replay needs no API key)."""
        if self.budget.max_cost_usd is not None and self.replay is None and self.prices.price(config.model) is None:
            raise LmrlError(
                f"--max-cost needs the price of model {config.model!r}, which {self.prices.source} does not list: "
                "add it (USD per million input and output tokens; 0 for a local server), pass --prices FILE, or "
                "limit tokens with --max-tokens instead."
            )
        return MeteredChat(self, level, provider, config, None if self.replay is not None else build())


class MeteredChat:
    """A chat client that answers from replay, the run's log or the cache when it can, checks the budget
    before reaching the endpoint, and stores every exchange (see the module docstring).

    Args:
        session: The run's :class:`CallSession`.
        level: ``feedback`` or ``synthesis``.
        provider: ``openai`` or ``gemini``.
        config: The endpoint.
        inner: The real client (None when replaying).
    """

    def __init__(
        self, session: CallSession, level: str, provider: str, config: EndpointConfig, inner: ChatClient | None
    ) -> None:
        self.session, self.level, self.provider, self.config, self.inner = session, level, provider, config, inner

    def complete(self, messages: list[dict[str, Any]], *, json_mode: bool = False) -> ChatAnswer:
        """Answer one request (see the class docstring).

        Raises:
            BudgetExceededError: the call would pass the budget; nothing was sent.
            ReplayError: replaying, and the stored run has no answer for this call.
            EndpointError: (a subclass) from the endpoint.
        """
        record = request_record(self.provider, self.config, messages, json_mode)
        key = digest(canonical_json(record).encode())
        step = _STEP.get()
        if step is None:  # outside the loop (a direct call): no store, no budget
            return self._fetch(messages, json_mode, key, record)
        call = step.calls  # counted once answered: a refused request (e.g. video, then frames) is not a call
        line: dict[str, Any] = {}
        if self.session.replay is not None:
            answer, stored, matched = self.session.replay.answer(step.position, call, key)
            source = "replay"
            line = {"replayed_from": stored["exchange"], "request_matched": matched}
            if not matched:
                log.warning(
                    "replay: the %s differs from the stored request (answered with the stored answer)",
                    step.position.describe(),
                )
        elif (earlier := self._earlier(step, call, key)) is not None:
            answer, source = earlier, "store"
        elif self.session.cache is not None and (cached := self.session.cache.get(key)) is not None:
            answer, source = cached, "cache"
        else:
            self._check_budget(step, messages)
            answer, source = self._fetch(messages, json_mode, key, record), "endpoint"
        self._record(step, call, key, record, answer, source, line)
        return answer

    def _fetch(self, messages: list[dict[str, Any]], json_mode: bool, key: str, record: dict[str, Any]) -> ChatAnswer:
        if self.inner is None:
            raise ReplayError("this client replays a stored run and cannot call an endpoint")
        answer = self.inner.complete(messages, json_mode=json_mode)
        if self.session.cache is not None:
            self.session.cache.put(key, record, answer)
        return answer

    def _earlier(self, step: _Step, call: int, key: str) -> ChatAnswer | None:
        """The answer of an identical request at the same position already stored in this run."""
        p = step.position
        for line in reversed(read_log(step.store.path)):
            if _slot(line) == (p.level, p.iteration, p.candidate, p.attempt, call) and line["request_key"] == key:
                return _answer(read_exchange(step.store.path, line["exchange"])["answer"])
        return None

    def _check_budget(self, step: _Step, messages: list[dict[str, Any]]) -> None:
        budget = self.session.budget
        if not budget.limited:
            return
        spent = totals(read_log(step.store.path))
        same = [x for x in read_log(step.store.path) if x["source"] == "endpoint" and x["level"] == self.level]
        if same:
            biggest = max(same, key=lambda x: x["tokens"])
            estimate = Spend(
                biggest["tokens"],
                max(x["cost_usd"] or 0.0 for x in same),
                f"the largest {self.level} call so far, {biggest['tokens']:,} tokens",
            )
        else:
            prompt = request_tokens(messages)
            answer = self.config.max_tokens or DEFAULT_ANSWER_TOKENS
            usage = {"prompt_tokens": prompt, "completion_tokens": answer}
            cost = self.session.prices.cost(self.config.model, usage) or 0.0
            estimate = Spend(prompt + answer, cost, f"~{prompt:,} prompt tokens from the request + {answer:,} answer")
        hint = f"continue with: lmrl learn --resume {step.store.path} and a higher --max-cost / --max-tokens"
        budget.check(Spend(spent["tokens"], spent["cost_usd"]), estimate, step.position.describe(), hint)

    def _record(
        self,
        step: _Step,
        call: int,
        key: str,
        record: dict[str, Any],
        answer: ChatAnswer,
        source: str,
        extra: dict[str, Any],
    ) -> None:
        step.calls = call + 1
        exchange = {"request_key": key, "request": record, "answer": _answer_dict(answer)}
        address = digest(canonical_json(exchange).encode())
        d = exchanges_dir(step.store)
        if not (d / f"{address}.json").is_file():
            atomic_write_json(d / f"{address}.json", exchange)
        tokens = int(answer.usage.get("prompt_tokens", 0)) + int(answer.usage.get("completion_tokens", 0))
        cost = self.session.prices.cost(self.config.model, answer.usage)
        p = step.position
        line = {
            "level": p.level,
            "iteration": p.iteration,
            "candidate": p.candidate,
            "attempt": p.attempt,
            "call": call,
            "source": source,
            "model": self.config.model,
            "provider": self.provider,
            "request_key": key,
            "exchange": address,
            "usage": dict(answer.usage),
            "tokens": tokens,
            "cost_usd": cost if source == "endpoint" else 0.0,
            "seconds": round(answer.seconds, 3),
            **extra,
        }
        with (d / "log.jsonl").open("a") as f:  # one short line per call, appended
            f.write(json.dumps(line, sort_keys=True) + "\n")


# --------------------------------------------------------------------------------------------- accounting
def totals(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Spending of log lines: ``calls`` (all), ``endpoint_calls``, ``prompt_tokens``, ``completion_tokens``,
    ``tokens`` and ``cost_usd`` of the calls that reached an endpoint, ``unpriced_calls`` among them."""
    paid = [x for x in lines if x["source"] == "endpoint"]
    return {
        "calls": len(lines),
        "endpoint_calls": len(paid),
        "prompt_tokens": sum(int(x["usage"].get("prompt_tokens", 0)) for x in paid),
        "completion_tokens": sum(int(x["usage"].get("completion_tokens", 0)) for x in paid),
        "tokens": sum(int(x["tokens"]) for x in paid),
        "cost_usd": sum(float(x["cost_usd"] or 0.0) for x in paid),
        "unpriced_calls": sum(1 for x in paid if x["cost_usd"] is None),
    }


def usage_summary(run: Path) -> dict[str, Any]:
    """Spending of a learn run: ``run`` (:func:`totals` of every call), ``iterations`` (per iteration),
    ``levels`` (per level), ``sources`` (calls per source)."""
    lines = read_log(run)
    iterations = sorted({x["iteration"] for x in lines})
    sources: dict[str, int] = {}
    for x in lines:
        sources[x["source"]] = sources.get(x["source"], 0) + 1
    return {
        "run": totals(lines),
        "iterations": {k: totals([x for x in lines if x["iteration"] == k]) for k in iterations},
        "levels": {lv: totals([x for x in lines if x["level"] == lv]) for lv in LEVELS},
        "sources": sources,
    }


def spend_text(run: Path, budget: Budget | None = None) -> str:
    """``"language models: 4 calls, 12,345 tokens, $0.0123 (budget $1 / 20,000 tokens)"``."""
    t = usage_summary(run)["run"]
    text = f"language models: {t['endpoint_calls']} paid call(s), {t['tokens']:,} tokens, ${t['cost_usd']:.4f}"
    if t["calls"] > t["endpoint_calls"]:
        text += f" ({t['calls'] - t['endpoint_calls']} answered from replay/cache/store)"
    if t["unpriced_calls"]:
        text += f", {t['unpriced_calls']} call(s) of unpriced models"
    if budget is not None and budget.limited:
        text += f"; budget {budget.describe()}"
    return text
