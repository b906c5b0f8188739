"""Usage parsing and pricing: ``LLMUsage``, ``Rates``, ``PriceTable``, ``DEFAULT_PRICING``."""

from __future__ import annotations

import dataclasses
import json
import logging
from decimal import Decimal
from typing import Any

import pytest

import baton
from baton import DEFAULT_PRICING, LLMUsage, PriceTable, Rates
from baton._usage import split_usage, usage_record

MILLION = 1_000_000


def usage(model: str | None, **tokens: int) -> LLMUsage:
    return LLMUsage(model=model, **tokens)


def test_cost_is_exact_decimal_per_million_tokens() -> None:
    cost = DEFAULT_PRICING.cost(usage("gpt-4o-mini", input_tokens=1200, output_tokens=80))
    assert cost == Decimal("0.000228")
    assert isinstance(cost, Decimal)
    # a million tokens of each kind costs exactly the listed rates
    million = usage(
        "claude-sonnet-4",
        input_tokens=MILLION,
        output_tokens=MILLION,
        cache_read_tokens=MILLION,
        cache_write_tokens=MILLION,
    )
    assert DEFAULT_PRICING.cost(million) == Decimal("3.00") + Decimal("15.00") + Decimal(
        "0.30"
    ) + Decimal("3.75")


def test_every_token_kind_is_priced_at_its_rate() -> None:
    table = PriceTable({"m": Rates(Decimal(1), Decimal(2), Decimal("0.1"), Decimal(5))})
    assert table.cost(usage("m", input_tokens=MILLION)) == 1
    assert table.cost(usage("m", output_tokens=MILLION)) == 2
    assert table.cost(usage("m", cache_read_tokens=MILLION)) == Decimal("0.1")
    assert table.cost(usage("m", cache_write_tokens=MILLION)) == 5
    assert table.cost(usage("m")) == 0


def test_cache_rates_default_to_the_input_rate() -> None:
    table = PriceTable({"m": Rates(input=Decimal(4), output=Decimal(8))})
    assert table.cost(usage("m", cache_read_tokens=MILLION, cache_write_tokens=MILLION)) == 8


def test_a_free_cache_rate_is_free_not_the_input_rate() -> None:
    free = Decimal(0)
    table = PriceTable({"m": Rates(Decimal(4), Decimal(8), cache_read=free, cache_write=free)})
    assert table.cost(usage("m", cache_read_tokens=MILLION, cache_write_tokens=MILLION)) == 0


@pytest.mark.parametrize(
    ("model", "priced_as"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # the longest listed prefix wins
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("claude-opus-4-1", "claude-opus-4"),
    ],
)
def test_model_names_match_exactly_or_by_longest_prefix(model: str, priced_as: str) -> None:
    spent = usage(model, input_tokens=1000, output_tokens=100, cache_read_tokens=10)
    listed = dataclasses.replace(spent, model=priced_as)
    assert DEFAULT_PRICING.cost(spent) == DEFAULT_PRICING.cost(listed)
    assert DEFAULT_PRICING.rates[priced_as] is not None


@pytest.mark.parametrize("model", ["my-local-llama", "gpt-3.5-turbo", "o3", "", None])
def test_unknown_or_missing_models_have_no_cost(model: str | None) -> None:
    assert DEFAULT_PRICING.cost(usage(model, input_tokens=10, output_tokens=10)) is None


def test_default_prices_are_sane() -> None:
    assert isinstance(DEFAULT_PRICING, PriceTable)
    for name, rates in DEFAULT_PRICING.rates.items():
        assert rates.input > 0 and rates.output >= rates.input, name
        for rate in (rates.cache_read, rates.cache_write):
            assert rate is None or isinstance(rate, Decimal)
    assert DEFAULT_PRICING.cost(usage("gpt-4o", input_tokens=MILLION)) == Decimal("2.50")


def test_values_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        LLMUsage().model = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Rates(Decimal(1), Decimal(1)).input = Decimal(2)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        PriceTable().rates = {}  # type: ignore[misc]


def test_any_object_with_cost_is_a_pricing() -> None:
    class Flat:
        def cost(self, spent: LLMUsage) -> Decimal | None:
            return Decimal("0.5") if spent.model else None

    pricing: baton.Pricing = Flat()
    assert usage_record(usage("anything"), pricing)["cost_usd"] == "0.5"
    assert usage_record(usage(None), pricing)["cost_usd"] is None


def test_parse_reads_every_field() -> None:
    raw = {
        "model": "gpt-4o",
        "input_tokens": 10,
        "output_tokens": 20,
        "cache_read_tokens": 30,
        "cache_write_tokens": 40,
        "latency_ms": 850.5,
        "request_id": "ignored",
    }
    assert LLMUsage.parse(raw) == LLMUsage("gpt-4o", 10, 20, 30, 40, 850.5)
    assert LLMUsage.parse({}) == LLMUsage()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"model": 4, "input_tokens": 1}, LLMUsage(None, 1)),
        ({"model": "m", "input_tokens": "12"}, LLMUsage("m")),
        ({"model": "m", "output_tokens": -1}, LLMUsage("m")),
        ({"model": "m", "cache_read_tokens": True}, LLMUsage("m")),
        ({"model": "m", "cache_write_tokens": 1.5}, LLMUsage("m")),
        ({"model": "m", "latency_ms": -3}, LLMUsage("m")),
        ({"model": "m", "latency_ms": "fast"}, LLMUsage("m")),
        ({"model": "m", "input_tokens": None}, LLMUsage("m")),
        (["not", "a", "dict"], LLMUsage()),
        ("gpt-4o", LLMUsage()),
    ],
)
def test_parse_drops_wrong_fields_with_a_warning(
    raw: Any, expected: LLMUsage, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="baton"):
        assert LLMUsage.parse(raw) == expected
    assert any(record.name == "baton" for record in caplog.records)
    assert "llm_usage" in caplog.text


def test_split_usage_strips_the_entry_without_touching_the_original() -> None:
    value = {"summary": "s", "llm_usage": {"model": "gpt-4o", "input_tokens": 3}}
    rest, spent = split_usage(value)
    assert rest == {"summary": "s"}
    assert spent == LLMUsage("gpt-4o", 3)
    assert "llm_usage" in value  # the caller's dict is left alone


@pytest.mark.parametrize(
    "value",
    [None, 3, "llm_usage", [{"llm_usage": {}}], {"nested": {"llm_usage": {"model": "x"}}}],
)
def test_split_usage_leaves_other_values_alone(value: Any) -> None:
    assert split_usage(value) == (value, None)


def test_usage_record_is_json_with_the_cost_as_a_string() -> None:
    record = usage_record(LLMUsage("gpt-4o-mini", 1200, 80, latency_ms=850), DEFAULT_PRICING)
    assert json.loads(json.dumps(record)) == {
        "model": "gpt-4o-mini",
        "input_tokens": 1200,
        "output_tokens": 80,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "latency_ms": 850,
        "cost_usd": "0.000228",
    }
    unknown = usage_record(LLMUsage("mystery", 5), DEFAULT_PRICING)
    assert unknown["cost_usd"] is None
    assert unknown["input_tokens"] == 5
