"""The benchmark's pure helpers (``benchmarks.stats``, the fan-out record check); no database."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks import fan, stats

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def test_median_of_odd_and_even_samples() -> None:
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_median_ignores_none_and_nan_and_is_none_when_empty() -> None:
    assert stats.median([None, 5.0, math.nan, 1.0]) == 3.0
    assert stats.median([]) is None
    assert stats.median([None, math.nan]) is None


def test_median_accepts_a_generator() -> None:
    assert stats.median(x for x in (1.0, 2.0, 10.0)) == 2.0


def test_percentile_interpolates_linearly_between_ranks() -> None:
    data = [1.0, 2.0, 3.0, 4.0]
    assert stats.percentile(data, 0) == 1.0
    assert stats.percentile(data, 100) == 4.0
    assert stats.percentile(data, 50) == 2.5
    assert stats.percentile(data, 90) == pytest.approx(3.7)
    assert stats.percentile([7.0], 99) == 7.0


def test_percentile_matches_numpy_linear_definition() -> None:
    # numpy.percentile(range(1, 101), 99) == 99.01
    assert stats.percentile([float(x) for x in range(1, 101)], 99) == pytest.approx(99.01)
    assert stats.percentile([float(x) for x in range(1, 101)], 50) == pytest.approx(50.5)


@pytest.mark.parametrize("p", [-1, 100.5])
def test_percentile_rejects_out_of_range(p: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        stats.percentile([1.0], p)


@given(st.lists(finite, min_size=1, max_size=50))
def test_median_agrees_with_the_standard_library(values: list[float]) -> None:
    assert stats.median(values) == pytest.approx(statistics.median(values))


@given(st.lists(finite, min_size=1, max_size=50), st.floats(0, 100), st.floats(0, 100))
def test_percentiles_are_monotonic_and_bounded(values: list[float], p: float, q: float) -> None:
    low, high = sorted((p, q))
    a, b = stats.percentile(values, low), stats.percentile(values, high)
    assert a is not None and b is not None
    slack = 1e-9 * max(1.0, *(abs(v) for v in values))
    assert min(values) - slack <= a <= b + slack
    assert b <= max(values) + slack


def test_summarize_reports_every_figure() -> None:
    summary = stats.summarize([0.001 * x for x in range(1, 101)])
    assert summary["n"] == 100
    assert summary["min"] == pytest.approx(0.001)
    assert summary["max"] == pytest.approx(0.1)
    assert summary["p50"] == pytest.approx(0.0505)
    assert summary["p99"] == pytest.approx(0.09901)
    assert summary["mean"] == pytest.approx(0.0505)


def test_summarize_of_nothing() -> None:
    assert stats.summarize([]) == {
        "n": 0,
        "min": None,
        "p50": None,
        "p90": None,
        "p99": None,
        "max": None,
        "mean": None,
    }


def test_ratio_and_its_missing_cases() -> None:
    assert stats.ratio(1.0, 4.0) == 0.25
    assert stats.ratio(None, 4.0) is None
    assert stats.ratio(1.0, None) is None
    assert stats.ratio(1.0, 0.0) is None


def test_chain_handoffs_and_cycles() -> None:
    pairs = [(0.0, 0.001), (0.003, 0.004), (0.010, 0.012)]
    assert stats.diffs(pairs) == pytest.approx([0.002, 0.006])
    assert stats.starts_gaps(pairs) == pytest.approx([0.003, 0.007])
    assert stats.diffs(pairs[:1]) == []


def test_growth() -> None:
    assert stats.growth(100.0, 110.0) == pytest.approx(0.10)
    assert stats.growth(100.0, 90.0) == pytest.approx(-0.10)
    assert stats.growth(0.0, 1.0) is None
    assert stats.growth(None, 1.0) is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.18, "0.18x"),
        (1.0, "1.00x"),
        (12.3456, "12.35x"),
        (0.0456, "0.046x"),
        (0.0, "0.00x"),
        (None, "n/a"),
        (math.nan, "n/a"),
    ],
)
def test_fmt_ratio(value: float | None, shown: str) -> None:
    assert stats.fmt_ratio(value) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.00108, "1.08 ms"),
        (0.0456, "45.6 ms"),
        (0.4567, "457 ms"),
        (12.5, "12.50 s"),
        (None, "n/a"),
    ],
)
def test_fmt_ms(seconds: float | None, shown: str) -> None:
    assert stats.fmt_ms(seconds) == shown


def test_other_formats() -> None:
    assert stats.fmt_us(0.000182) == "182 µs"
    assert stats.fmt_us(0.0013621) == "1,362 µs"
    assert stats.fmt_rate(3126.4) == "3,126/s"
    assert stats.fmt_rate(27000, " steps/s") == "27,000 steps/s"
    assert stats.fmt_pct(0.032) == "+3.2%"
    assert stats.fmt_pct(-0.5) == "-50.0%"
    assert stats.fmt_bytes(48.25 * 2**20) == "48.2 MiB"
    for fmt in (stats.fmt_us, stats.fmt_rate, stats.fmt_pct, stats.fmt_bytes):
        assert fmt(None) == "n/a"


def test_met_compares_against_the_target() -> None:
    assert stats.met(0.4, 0.5) is True
    assert stats.met(0.5, 0.5) is True
    assert stats.met(0.6, 0.5) is False
    assert stats.met(0.7, 0.7, below=False) is True
    assert stats.met(0.69, 0.7, below=False) is False
    assert stats.met(None, 0.5) is None
    assert [stats.fmt_met(x) for x in (True, False, None)] == ["yes", "NO", "n/a"]


def test_table_pads_columns() -> None:
    text = stats.table(["a", "long header"], [["wide cell", "x"], ["b", "yy"]])
    lines = text.splitlines()
    assert lines[0] == "a          long header"
    assert lines[1] == "---------  -----------"
    assert lines[2] == "wide cell  x"
    assert lines[3] == "b          yy"


def _fan(width: int, label: str = "x") -> list[tuple[str, int, float, float]]:
    """Records of a clean 1 → width → 1 run: start, the members, then join."""
    members = [(label, k, 1.0 + k, 1.5 + k) for k in range(width)]
    return [(label, -1, 0.0, 0.5), *members, (label, width, width + 1.0, width + 1.5)]


def test_checked_fan_returns_each_step_by_index() -> None:
    records = [*_fan(3), ("other-run", 0, 9.0, 9.5)]
    by_index = fan.checked_fan(records, "x", 3, "static fan-out 3")
    assert sorted(by_index) == [-1, 0, 1, 2, 3]
    assert by_index[3] == (4.0, 4.5)


def test_checked_fan_names_missing_and_repeated_steps() -> None:
    records = [r for r in _fan(3) if r[1] != 1]
    with pytest.raises(
        RuntimeError, match=r"run-time fan-out 3: 1 of 5 steps left no record \(fan\[1\]\)"
    ):
        fan.checked_fan(records, "x", 3, "run-time fan-out 3")
    records = [*_fan(3), ("x", 2, 3.0, 3.5), ("x", -1, 0.0, 0.5)]
    with pytest.raises(RuntimeError, match=r"2 steps ran more than once \(start x2, fan\[2\] x2\)"):
        fan.checked_fan(records, "x", 3, "w")
    with pytest.raises(RuntimeError, match="unknown indices"):
        fan.checked_fan([*_fan(3), ("x", 7, 0.0, 0.1)], "x", 3, "w")


def test_checked_fan_rejects_a_join_that_started_before_the_last_member_ended() -> None:
    records = _fan(3)
    records[-1] = ("x", 3, 3.2, 4.0)  # fan[2] ends at 3.5
    with pytest.raises(RuntimeError, match=r"join started 300\.0 ms before fan\[2\]"):
        fan.checked_fan(records, "x", 3, "w")


def test_signal_rows_judge_the_p50_against_5_ms_and_show_the_hand_off() -> None:
    from benchmarks.signals import signal_rows

    def result(p50: float) -> dict[str, object]:
        figures = {"p50": p50, "p95": p50 * 2, "pooled": {}}
        hand_off = {"p50": 0.002, "p95": 0.004, "pooled": {}}
        return {"count": 50, "summary": {"signal": figures, "handoff": hand_off}}

    fast, slow = signal_rows(result(0.003)), signal_rows(result(0.006))
    assert fast[0]["met"] == "yes" and slow[0]["met"] == "NO"
    assert fast[0]["ratio"] == "1.50x"
    assert fast[1]["baton"] == "6.00 ms" and fast[1]["baseline_value"] == "4.00 ms"
