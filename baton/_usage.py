"""LLM usage and cost: what a step spent, priced by a swappable ``Pricing``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

logger = logging.getLogger("baton")

USAGE_KEY = "llm_usage"
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class LLMUsage:
    """What one LLM call (or one step's calls, summed) consumed.

    A step reports it by returning a dict with an ``llm_usage`` entry holding these keys;
    Baton strips the entry before storing the result.
    """

    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    latency_ms: float | None = None

    @classmethod
    def parse(cls, raw: Any) -> LLMUsage:
        """Read a step's ``llm_usage`` entry; fields of the wrong type are dropped (logged)."""
        if not isinstance(raw, Mapping):
            logger.warning("llm_usage should be a dict, got %s; ignored", type(raw).__name__)
            return cls()
        model = raw.get("model")
        if model is not None and not isinstance(model, str):
            logger.warning("llm_usage model should be a string, got %r; ignored", model)
            model = None
        tokens = {}
        for name in TOKEN_FIELDS:
            value = raw.get(name, 0)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                tokens[name] = value
            else:
                logger.warning("llm_usage %s should be a count, got %r; ignored", name, value)
        latency = raw.get("latency_ms")
        if latency is not None and (
            isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0
        ):
            logger.warning("llm_usage latency_ms should be milliseconds, got %r", latency)
            latency = None
        return cls(model=model, latency_ms=latency, **tokens)


class Pricing(Protocol):
    """Prices a step's usage; returns None when it does not know the model."""

    def cost(self, usage: LLMUsage) -> Decimal | None: ...


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens. Cache rates default to the input rate when not given."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceTable:
    """A ``Pricing`` from a table of model names to ``Rates``.

    A model matches its exact name, else the longest table name it starts with, so
    ``gpt-4o-2024-08-06`` is priced as ``gpt-4o`` and ``claude-sonnet-4-5-20250929`` as
    ``claude-sonnet-4-5``.
    """

    rates: Mapping[str, Rates] = field(default_factory=dict)

    def cost(self, usage: LLMUsage) -> Decimal | None:
        if not usage.model:
            return None
        rates = self.rates.get(usage.model)
        if rates is None:
            matches = [name for name in self.rates if usage.model.startswith(name)]
            if not matches:
                return None
            rates = self.rates[max(matches, key=len)]
        # "is None", not "or": a cache rate of 0 (free cache reads) is a price, not a gap.
        cache_read = rates.input if rates.cache_read is None else rates.cache_read
        cache_write = rates.input if rates.cache_write is None else rates.cache_write
        total = (
            usage.input_tokens * rates.input
            + usage.output_tokens * rates.output
            + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write
        )
        return total / MILLION


def _rates(inp: str, out: str, read: str | None = None, write: str | None = None) -> Rates:
    return Rates(
        Decimal(inp),
        Decimal(out),
        Decimal(read) if read else None,
        Decimal(write) if write else None,
    )


#: Published list prices (USD per million tokens) of common models, as of 2025. Pass your
#: own ``PriceTable`` (or any ``Pricing``) to the worker for negotiated or newer prices.
DEFAULT_PRICING = PriceTable(
    {
        "gpt-4o": _rates("2.50", "10.00", "1.25"),
        "gpt-4o-mini": _rates("0.15", "0.60", "0.075"),
        "gpt-4.1": _rates("2.00", "8.00", "0.50"),
        "gpt-4.1-mini": _rates("0.40", "1.60", "0.10"),
        "gpt-4.1-nano": _rates("0.10", "0.40", "0.025"),
        "o3-mini": _rates("1.10", "4.40", "0.55"),
        "claude-3-5-haiku": _rates("0.80", "4.00", "0.08", "1.00"),
        "claude-3-5-sonnet": _rates("3.00", "15.00", "0.30", "3.75"),
        "claude-3-7-sonnet": _rates("3.00", "15.00", "0.30", "3.75"),
        "claude-sonnet-4": _rates("3.00", "15.00", "0.30", "3.75"),
        "claude-opus-4": _rates("15.00", "75.00", "1.50", "18.75"),
        "gemini-1.5-flash": _rates("0.075", "0.30"),
        "gemini-1.5-pro": _rates("1.25", "5.00"),
    }
)


def split_usage(value: Any) -> tuple[Any, LLMUsage | None]:
    """``value`` without its ``llm_usage`` entry, and the parsed usage (None if absent)."""
    if isinstance(value, dict) and USAGE_KEY in value:
        rest = {key: item for key, item in value.items() if key != USAGE_KEY}
        return rest, LLMUsage.parse(value[USAGE_KEY])
    return value, None


def usage_record(usage: LLMUsage, pricing: Pricing) -> dict[str, Any]:
    """The JSON stored for a step's usage, cost included (None for an unknown model)."""
    cost = pricing.cost(usage)
    return {
        "model": usage.model,
        **{name: getattr(usage, name) for name in TOKEN_FIELDS},
        "latency_ms": usage.latency_ms,
        "cost_usd": None if cost is None else str(cost),
    }
