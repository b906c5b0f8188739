"""Statistics and formatting for the benchmark: medians, percentiles, ratios.

Pure functions, no I/O, so they are unit-tested without a database
(``tests/unit/test_bench_stats.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any


def _clean(values: Iterable[float | None]) -> list[float]:
    return sorted(float(v) for v in values if v is not None and not math.isnan(float(v)))


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values (None and NaN ignored), or None when there are none."""
    return percentile(values, 50)


def percentile(values: Iterable[float | None], p: float) -> float | None:
    """The ``p``-th percentile (0-100), interpolated linearly between closest ranks.

    The same definition as NumPy's default (``method="linear"``): the 0th percentile is
    the minimum, the 100th the maximum, the 50th the median. None and NaN are ignored;
    an empty input gives None.
    """
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {p}")
    data = _clean(values)
    if not data:
        return None
    rank = (len(data) - 1) * p / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return data[low]
    return data[low] + (data[high] - data[low]) * (rank - low)


def summarize(values: Iterable[float | None]) -> dict[str, Any]:
    """Count, min, p50, p90, p99, max and mean of a sample (all None when it is empty)."""
    data = _clean(values)
    return {
        "n": len(data),
        "min": data[0] if data else None,
        "p50": percentile(data, 50),
        "p90": percentile(data, 90),
        "p99": percentile(data, 99),
        "max": data[-1] if data else None,
        "mean": sum(data) / len(data) if data else None,
    }


def ratio(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline``, or None when either is missing or the baseline is zero."""
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def diffs(pairs: Sequence[tuple[float, float]]) -> list[float]:
    """Hand-offs along a chain: each step's start minus the previous step's end.

    ``pairs`` are ``(start, end)`` of consecutive steps, in chain order.
    """
    return [pairs[i][0] - pairs[i - 1][1] for i in range(1, len(pairs))]


def starts_gaps(pairs: Sequence[tuple[float, float]]) -> list[float]:
    """Start-to-start cycle times along a chain."""
    return [pairs[i][0] - pairs[i - 1][0] for i in range(1, len(pairs))]


def growth(before: float | None, after: float | None) -> float | None:
    """Relative growth from ``before`` to ``after`` (0.1 = 10 %), or None."""
    if before is None or after is None or before == 0:
        return None
    return (after - before) / before


# -- formatting ---------------------------------------------------------------------------


def fmt_ratio(value: float | None) -> str:
    """A ratio as ``0.18x``; two significant decimals, more below 0.1; ``n/a`` when None."""
    if value is None or math.isnan(value):
        return "n/a"
    if value != 0 and abs(value) < 0.1:
        return f"{value:.3f}x"
    return f"{value:.2f}x"


def fmt_ms(seconds: float | None) -> str:
    """A duration given in seconds, shown in milliseconds (``1.08 ms``) or seconds."""
    if seconds is None:
        return "n/a"
    ms = seconds * 1000
    if abs(ms) >= 10_000:
        return f"{seconds:.2f} s"
    if abs(ms) >= 100:
        return f"{ms:.0f} ms"
    if abs(ms) >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def fmt_us(seconds: float | None) -> str:
    """A duration given in seconds, shown in microseconds (``182 µs``)."""
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e6:,.0f} µs"


def fmt_rate(per_second: float | None, unit: str = "/s") -> str:
    """A rate with thousands separators: ``3,126/s``."""
    if per_second is None:
        return "n/a"
    return f"{per_second:,.0f}{unit}"


def fmt_pct(fraction: float | None) -> str:
    """A fraction as a signed percentage: ``+3.2%``."""
    if fraction is None:
        return "n/a"
    return f"{fraction * 100:+.1f}%"


def fmt_bytes(count: float | None) -> str:
    """A size in MiB: ``48.3 MiB``."""
    if count is None:
        return "n/a"
    return f"{count / 2**20:.1f} MiB"


def met(value: float | None, limit: float, *, below: bool = True) -> bool | None:
    """Whether ``value`` meets a target: ``<= limit`` (``below``) or ``>= limit``."""
    if value is None:
        return None
    return value <= limit if below else value >= limit


def fmt_met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with columns padded to their widest cell."""
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])
