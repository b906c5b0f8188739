"""The price file: the one shipped with Baton, ``PriceTable.load``, and ``BATON_PRICES``."""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import baton
from baton import DEFAULT_PRICING, LLMUsage, PriceTable, Rates
from baton._usage import PRICES_ENV, default_pricing
from baton.errors import InvalidOption, InvalidPrices


def write(tmp_path: Path, content: Any, name: str = "prices.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_the_default_table_is_the_shipped_file() -> None:
    shipped = resources.files("baton").joinpath("data/prices.json")
    assert PriceTable.load(str(shipped)) == DEFAULT_PRICING
    models = json.loads(shipped.read_text())["models"]
    assert set(DEFAULT_PRICING.rates) == set(models)
    # cache prices are part of the file
    assert DEFAULT_PRICING.rates["claude-sonnet-4-5"] == Rates(
        Decimal("3.00"), Decimal("15.00"), Decimal("0.30"), Decimal("3.75")
    )


def test_load_reads_json_and_toml_with_cache_prices(tmp_path: Path) -> None:
    from_json = PriceTable.load(
        write(
            tmp_path,
            {"models": {"mine": {"input": "1", "output": 2, "cache_read": 0.5, "cache_write": 0}}},
        )
    )
    toml = '[models.mine]\ninput = "1"\noutput = 2\ncache_read = 0.5\ncache_write = 0\n'
    from_toml = PriceTable.load(write(tmp_path, toml, "prices.toml"))
    assert from_json == from_toml
    assert from_json.rates["mine"] == Rates(Decimal(1), Decimal(2), Decimal("0.5"), Decimal(0))
    spent = LLMUsage("mine-v2", 1_000_000, 1_000_000, 1_000_000, 1_000_000)
    assert from_json.cost(spent) == Decimal("3.5")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "is not valid JSON"),
        ([1, 2], 'expected an object with a "models" table'),
        ({"models": []}, 'expected an object with a "models" table'),
        ({"models": {"m": 3}}, "model 'm' must be a table of prices, got 3"),
        ({"models": {"m": {"input": 1}}}, "model 'm' needs an 'output' price"),
        ({"models": {"m": {"input": 1, "output": 2, "cached": 1}}}, "unknown field 'cached'"),
        ({"models": {"m": {"input": "cheap", "output": 2}}}, "model 'm' input must be a number"),
        ({"models": {"m": {"input": -1, "output": 2}}}, "model 'm' input must be a price >= 0"),
        ({"models": {"m": {"input": 1, "output": True}}}, "model 'm' output must be a number"),
        ({"models": {"m": {"input": "NaN", "output": 1}}}, "must be a price >= 0"),
    ],
)
def test_a_bad_file_is_refused_naming_the_entry(tmp_path: Path, content: Any, says: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(InvalidPrices, match=says) as caught:
        PriceTable.load(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, InvalidOption)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidPrices, match="cannot read price file"):
        PriceTable.load(tmp_path / "nope.json")


def test_bad_toml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidPrices, match="is not valid TOML"):
        PriceTable.load(write(tmp_path, "[models\n", "prices.toml"))


def test_baton_prices_adds_models_and_replaces_prices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        {
            "models": {
                "gpt-4o": {"input": "2", "output": "8"},
                "my-llama": {"input": 0.1, "output": 0.2},
            }
        },
    )
    monkeypatch.setenv(PRICES_ENV, str(path))
    table = default_pricing()
    assert table.rates["gpt-4o"] == Rates(Decimal(2), Decimal(8))
    assert table.rates["my-llama"] == Rates(Decimal("0.1"), Decimal("0.2"))
    assert table.rates["gpt-4o-mini"] == DEFAULT_PRICING.rates["gpt-4o-mini"]

    @baton.worker
    class Priced:
        async def perform_workflow(self, job: Any) -> None:
            return None

    assert Priced._baton.pricing == table  # type: ignore[attr-defined]


def test_without_baton_prices_the_default_is_the_shipped_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PRICES_ENV, raising=False)
    assert default_pricing() is DEFAULT_PRICING


def test_a_bad_baton_prices_fails_the_worker_at_decoration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PRICES_ENV, str(write(tmp_path, {"models": {"m": {"input": 1}}})))
    with pytest.raises(InvalidPrices, match=r"^BATON_PRICES: price file .* needs an 'output'"):

        @baton.llm_worker
        class Unpriced:
            async def perform_workflow(self, job: Any) -> None:
                return None
