"""LLM usage and cost: what a step spent, priced by a swappable ``Pricing``."""

from __future__ import annotations

import json
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from .errors import InvalidPrices

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

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PriceTable:
        """The table of a JSON or TOML price file, laid out as ``baton/data/prices.json``.

        Raises:
            InvalidPrices: the file cannot be read, is not JSON/TOML, or an entry is no price.
        """
        return load_prices(path)

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


#: The price file shipped with Baton; ``BATON_PRICES`` names one whose models are added to
#: it (or replace its entries of the same name).
PRICES_FILE = "data/prices.json"
PRICES_ENV = "BATON_PRICES"
RATE_FIELDS = ("input", "output", "cache_read", "cache_write")


def _price(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidPrices(f"{where} must be a number of USD per million tokens, got {value!r}")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise InvalidPrices(
            f"{where} must be a number of USD per million tokens, got {value!r}"
        ) from None
    if not price.is_finite() or price < 0:
        raise InvalidPrices(f"{where} must be a price >= 0, got {value!r}")
    return price


def _table(data: Any, source: str) -> PriceTable:
    """The ``PriceTable`` of a price file's parsed content, or InvalidPrices naming the entry."""
    models = data.get("models") if isinstance(data, Mapping) else None
    if not isinstance(models, Mapping):
        raise InvalidPrices(
            f'{source}: expected an object with a "models" table of model names to prices'
        )
    rates = {}
    for model, entry in models.items():
        where = f"{source}: model {model!r}"
        if not isinstance(entry, Mapping):
            raise InvalidPrices(f"{where} must be a table of prices, got {entry!r}")
        unknown = sorted(set(entry) - set(RATE_FIELDS))
        if unknown:
            raise InvalidPrices(
                f"{where} has unknown field {unknown[0]!r} (fields: {', '.join(RATE_FIELDS)})"
            )
        missing = [name for name in ("input", "output") if name not in entry]
        if missing:
            raise InvalidPrices(f"{where} needs an {missing[0]!r} price")
        prices = {
            name: _price(entry[name], f"{where} {name}") for name in RATE_FIELDS if name in entry
        }
        rates[str(model)] = Rates(**prices)
    return PriceTable(rates)


def load_prices(path: str | os.PathLike[str]) -> PriceTable:
    """The ``PriceTable`` of a JSON or TOML price file (see ``baton/data/prices.json``).

    Raises:
        InvalidPrices: the file cannot be read, is not JSON/TOML, or an entry is no price.
    """
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidPrices(f"cannot read price file {source!r}: {error}") from error
    try:
        data = tomllib.loads(text) if source.endswith(".toml") else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as error:
        kind = "TOML" if source.endswith(".toml") else "JSON"
        raise InvalidPrices(f"price file {source!r} is not valid {kind}: {error}") from error
    return _table(data, f"price file {source!r}")


def _shipped() -> PriceTable:
    text = resources.files("baton").joinpath(PRICES_FILE).read_text(encoding="utf-8")
    return _table(json.loads(text), f"baton/{PRICES_FILE}")


#: Published list prices (USD per million tokens) of common models, from the price file
#: shipped with Baton. Pass your own ``PriceTable`` (or any ``Pricing``) to the worker, or
#: set ``BATON_PRICES``, for negotiated or newer prices.
DEFAULT_PRICING = _shipped()


def default_pricing() -> PriceTable:
    """The pricing of workers given none: ``DEFAULT_PRICING`` with ``BATON_PRICES``'s models.

    Read when a worker class is decorated, so a bad file fails the import of the workers,
    before any step runs.

    Raises:
        InvalidPrices: ``BATON_PRICES`` names a file that is not a valid price file.
    """
    path = os.environ.get(PRICES_ENV)
    if not path:
        return DEFAULT_PRICING
    try:
        extra = load_prices(path)
    except InvalidPrices as error:
        raise InvalidPrices(f"{PRICES_ENV}: {error}") from error
    return PriceTable({**DEFAULT_PRICING.rates, **extra.rates})


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
