"""What the language-model calls of a learn run cost, and the budget that stops the loop.

Prices come from a user-editable table (``config/prices.yaml``: US dollars per million input and
output tokens, model names as shell-style patterns, first match wins). A :class:`Budget` of dollars
and/or tokens is checked before every call that would reach an endpoint: when what was spent plus the
call's estimate would pass a limit, :class:`BudgetExceededError` stops the loop before the call is
made, and ``lmrl learn --resume RUN`` with a higher limit goes on from there.

The estimate of a call is the largest call of the same level (feedback or synthesis) made so far in
the run; a level's first call is estimated from its request: 4 characters of text per token (OpenAI's
rule of thumb), 258 tokens per image and per second of video (Gemini's documented rate: video is
sampled at 1 frame/s, 258 tokens a frame), plus the endpoint's ``max_tokens`` for the answer.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lm_reward_learning.errors import ConfigError, LmrlError

#: Characters of English text per token (OpenAI's rule of thumb).
CHARS_PER_TOKEN = 4.0
#: Tokens per image, and per second of video at Gemini's 1 frame/s sampling (Gemini API docs).
TOKENS_PER_IMAGE = 258
#: Seconds assumed for a video part whose duration is not known.
DEFAULT_VIDEO_S = 10.0
#: Answer tokens assumed for a first call when the endpoint sets no ``max_tokens``.
DEFAULT_ANSWER_TOKENS = 1024


class BudgetExceededError(LmrlError):
    """The next language-model call would pass ``max_cost_usd`` or ``max_total_tokens``; nothing was sent."""


@dataclass(frozen=True)
class Price:
    """Price of one model, US dollars per million tokens.

    Attributes:
        input: Per million prompt (input) tokens, USD.
        output: Per million completion (output) tokens, USD.
    """

    input: float
    output: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Cost of one call, USD."""
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


@dataclass(frozen=True)
class PriceTable:
    """Model-name patterns and their prices, in file order (first match wins).

    Attributes:
        entries: ``(pattern, price)`` pairs.
        source: The file they came from.
    """

    entries: tuple[tuple[str, Price], ...]
    source: str = ""

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceTable:
        """Read a price table (``None``: the bundled ``config/prices.yaml``).

        Raises:
            ConfigError: missing file, bad YAML, an unknown key, or a price that is not a number >= 0.
        """
        from lm_reward_learning.config import config_dir

        file = Path(path) if path is not None else config_dir() / "prices.yaml"
        if not file.is_file():
            raise ConfigError(f"no price table {file}; pass an existing YAML file to --prices (as config/prices.yaml).")
        try:
            data = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file} is not valid YAML: {exc}") from exc
        if set(data) - {"models"} or not isinstance(data.get("models", {}), dict):
            raise ConfigError(f"{file}: expected one key 'models' mapping model patterns to {{input, output}}.")
        entries = []
        for pattern, price in (data.get("models") or {}).items():
            if not isinstance(price, dict) or set(price) != {"input", "output"}:
                raise ConfigError(f"{file}: {pattern!r} needs exactly 'input' and 'output' (USD per million tokens).")
            values = [price["input"], price["output"]]
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in values):
                raise ConfigError(f"{file}: the prices of {pattern!r} must be numbers >= 0, got {price}.")
            entries.append((str(pattern), Price(float(price["input"]), float(price["output"]))))
        return cls(tuple(entries), str(file))

    def price(self, model: str) -> Price | None:
        """The price of ``model``, or None when no pattern matches it."""
        for pattern, price in self.entries:
            if fnmatch.fnmatchcase(model, pattern):
                return price
        return None

    def cost(self, model: str, usage: dict[str, int]) -> float | None:
        """Cost of a call with ``usage`` (``prompt_tokens``, ``completion_tokens``), USD; None if unpriced."""
        price = self.price(model)
        if price is None:
            return None
        return price.cost(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))


@dataclass(frozen=True)
class Budget:
    """Limits of a learn run's language-model spending (None: no limit).

    Attributes:
        max_cost_usd: Dollars, summed over every call that reached an endpoint.
        max_total_tokens: Prompt plus completion tokens, summed likewise.
    """

    max_cost_usd: float | None = None
    max_total_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.max_cost_usd is not None and not (math.isfinite(self.max_cost_usd) and self.max_cost_usd >= 0):
            raise ConfigError(f"--max-cost (max_cost_usd) must be a number of dollars >= 0, got {self.max_cost_usd}.")
        if self.max_total_tokens is not None and self.max_total_tokens < 0:
            raise ConfigError(f"--max-tokens (max_total_tokens) must be >= 0, got {self.max_total_tokens}.")

    @property
    def limited(self) -> bool:
        """Whether any limit is set."""
        return self.max_cost_usd is not None or self.max_total_tokens is not None

    def describe(self) -> str:
        """``"$1.00 / 200,000 tokens"``, the limits in words."""
        parts = []
        if self.max_cost_usd is not None:
            parts.append(f"${self.max_cost_usd:.4g}")
        if self.max_total_tokens is not None:
            parts.append(f"{self.max_total_tokens:,} tokens")
        return " / ".join(parts) or "no limit"

    def check(self, spent: Spend, estimate: Spend, what: str, resume_hint: str) -> None:
        """Raise if ``spent + estimate`` passes a limit.

        Args:
            spent: What the run has spent so far.
            estimate: The next call's estimate.
            what: The call in words (``"feedback call of iteration 2"``).
            resume_hint: How to go on (the command).

        Raises:
            BudgetExceededError: naming the limit, what was spent, the estimate and how to go on.
        """
        over = []
        if self.max_total_tokens is not None and spent.tokens + estimate.tokens > self.max_total_tokens:
            limit = self.max_total_tokens
            over.append(f"{spent.tokens:,} tokens spent + {estimate.tokens:,} estimated > --max-tokens {limit:,}")
        if self.max_cost_usd is not None and spent.cost_usd + estimate.cost_usd > self.max_cost_usd:
            usd = self.max_cost_usd
            over.append(f"${spent.cost_usd:.4f} spent + ${estimate.cost_usd:.4f} estimated > --max-cost ${usd:.4g}")
        if over:
            raise BudgetExceededError(
                f"budget reached before the {what}: {'; '.join(over)} (estimate: {estimate.basis}). Nothing was "
                f"sent and everything completed is saved; {resume_hint}."
            )


@dataclass(frozen=True)
class Spend:
    """Tokens and dollars (spent, or estimated for one call).

    Attributes:
        tokens: Prompt plus completion tokens.
        cost_usd: Dollars (0 for unpriced models).
        basis: How an estimate was made (empty for what was spent).
    """

    tokens: int = 0
    cost_usd: float = 0.0
    basis: str = ""


def request_tokens(messages: list[dict[str, Any]]) -> int:
    """Rough prompt tokens of chat messages (see the module docstring)."""
    chars, media = 0, 0.0
    for message in messages:
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        for part in parts:
            kind = part.get("type")
            if kind == "text":
                chars += len(part.get("text") or "")
            elif kind == "image_url":
                media += TOKENS_PER_IMAGE
            elif kind == "video_url":
                media += TOKENS_PER_IMAGE * DEFAULT_VIDEO_S
    return math.ceil(chars / CHARS_PER_TOKEN + media)
