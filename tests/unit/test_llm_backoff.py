"""``baton.llm_backoff`` and ``@baton.llm_worker``'s options, without a database.

delay(attempt) = round(min(cap, base * 2 ** (attempt - 1)) * U(0.5, 1.5)), at least 1 s.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from typing import Any

import pytest
from oban import Job

import baton
from tests.support import event_steps as es

SAMPLES = 20_000


def nominal(attempt: int, base: float = 5.0, cap: float = 600.0) -> float:
    return min(cap, base * 2 ** (attempt - 1))


@pytest.mark.parametrize("attempt", range(1, 16))
def test_bounds_at_the_extremes_of_the_jitter(attempt: int) -> None:
    low = baton.llm_backoff(attempt, rng=lambda: 0.0)
    high = baton.llm_backoff(attempt, rng=lambda: 0.999_999_999)
    middle = baton.llm_backoff(attempt, rng=lambda: 0.5)
    c = nominal(attempt)
    assert low == max(1, round(c * 0.5))
    assert high == round(c * 1.499_999_999)
    assert middle == round(c)
    assert low <= middle <= high <= 900


def test_documented_examples() -> None:
    # 2.5-7.5 s after the first failure, 5-15 s after the second, 10-30 s after the third
    for attempt, (low, high) in {1: (2.5, 7.5), 2: (5, 15), 3: (10, 30)}.items():
        for _ in range(2_000):
            assert round(low) <= baton.llm_backoff(attempt) <= round(high)
    assert baton.llm_backoff(9, rng=lambda: 0.999_999) == 900


def test_the_cap_holds_for_every_attempt_even_absurd_ones() -> None:
    for attempt in [*range(1, 200), 1_023, 1_024, 1_025, 5_000, 32_767, 10**9]:
        delay = baton.llm_backoff(attempt)
        assert 1 <= delay <= 900
        if attempt >= 9:  # 5 * 2**8 > 600: capped from here on
            assert delay >= 300


def test_attempt_zero_or_negative_counts_as_the_first() -> None:
    assert baton.llm_backoff(0, rng=lambda: 0.5) == baton.llm_backoff(1, rng=lambda: 0.5) == 5
    assert baton.llm_backoff(-3, rng=lambda: 0.5) == 5


def test_never_less_than_one_second() -> None:
    assert baton.llm_backoff(1, base=0.1, rng=lambda: 0.0) == 1
    assert all(baton.llm_backoff(1, base=0.01) == 1 for _ in range(1_000))


def test_custom_base_and_cap() -> None:
    assert baton.llm_backoff(1, base=2, cap=1_000, rng=lambda: 0.5) == 2
    assert baton.llm_backoff(4, base=2, cap=1_000, rng=lambda: 0.5) == 16
    assert baton.llm_backoff(20, base=2, cap=30, rng=lambda: 0.5) == 30
    assert baton.llm_backoff(20, base=2, cap=30, rng=lambda: 0.999_999) == 45


def test_a_seeded_rng_makes_it_reproducible() -> None:
    first, again = random.Random(7), random.Random(7)  # noqa: S311 - not for security
    assert [baton.llm_backoff(5, rng=first.random) for _ in range(50)] == [
        baton.llm_backoff(5, rng=again.random) for _ in range(50)
    ]


def test_capped_delays_spread_uniformly_over_half_to_one_and_a_half_times_the_cap() -> None:
    samples = [baton.llm_backoff(12) for _ in range(SAMPLES)]  # nominal 600 s: the cap
    assert min(samples) >= 300
    assert max(samples) <= 900
    assert min(samples) < 310 and max(samples) > 890  # the whole range is used
    # U(300, 900): mean 600, standard deviation 600 / sqrt(12) ~ 173.2
    assert abs(statistics.fmean(samples) - 600) < 10  # ~8 standard errors
    assert abs(statistics.pstdev(samples) - 173.2) < 6
    quartiles = statistics.quantiles(samples, n=4)
    for got, expected in zip(quartiles, (450, 600, 750), strict=True):
        assert abs(got - expected) < 15
    # six equal bins each hold about a sixth
    bins = Counter(min(5, (sample - 300) // 100) for sample in samples)
    for count in bins.values():
        assert abs(count / SAMPLES - 1 / 6) < 0.02
    assert len(set(samples)) > 550  # hundreds of distinct delays, not a handful


def test_first_retry_delays_are_spread_over_whole_seconds() -> None:
    samples = Counter(baton.llm_backoff(1) for _ in range(SAMPLES))
    # 5 * U(0.5, 1.5) rounded: 3, 4, 5, 6, 7 each about a fifth (2 only at exactly 2.5)
    assert set(samples) <= {2, 3, 4, 5, 6, 7, 8}
    for value in (3, 4, 5, 6, 7):
        assert abs(samples[value] / SAMPLES - 0.2) < 0.02


def test_mean_doubles_per_attempt_until_the_cap() -> None:
    means = [statistics.fmean(baton.llm_backoff(a) for _ in range(4_000)) for a in range(1, 11)]
    for attempt, mean in enumerate(means, start=1):
        assert abs(mean - nominal(attempt)) < 0.05 * nominal(attempt) + 0.5


def job_at(attempt: int, worker: Any = es.LLMDefaults) -> Job:
    job = worker.new({})
    job.attempt = attempt
    return job


def test_the_worker_backoff_uses_the_job_attempt_and_its_own_base_and_cap() -> None:
    defaults = es.LLMDefaults()
    assert all(2 <= defaults.backoff(job_at(1)) <= 8 for _ in range(500))
    assert all(10 <= defaults.backoff(job_at(3)) <= 30 for _ in range(500))
    capped = es.CappedBackoff()
    assert all(50 <= capped.backoff(job_at(1, es.CappedBackoff)) <= 150 for _ in range(500))
    assert all(75 <= capped.backoff(job_at(9, es.CappedBackoff)) <= 225 for _ in range(500))


def test_a_class_backoff_and_timeout_win() -> None:
    assert es.OwnBackoff().backoff(job_at(1, es.OwnBackoff)) == 42
    job = es.PerJobTimeout.new({"limit": 2.5, "sleep": 0})
    assert es.PerJobTimeout().timeout(job) == 2.5
    assert es.SlowFirst().timeout(es.SlowFirst.new()) == 0.2
    assert es.LLMOverridden().timeout(es.LLMOverridden.new()) is None


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"timeout": -1},
        {"timeout": True},
        {"timeout": "30"},
        {"backoff_base": 0},
        {"backoff_base": None},
        {"backoff_max": -5},
    ],
)
def test_invalid_options_are_refused_at_decoration(options: dict[str, Any]) -> None:
    name = next(iter(options))
    with pytest.raises(
        baton.errors.InvalidOption, match=f"{name} must be a positive number of seconds"
    ):
        baton.llm_worker(**options)


def test_llm_worker_needs_perform_workflow() -> None:
    class NoPerform:
        pass

    with pytest.raises(TypeError, match="perform_workflow"):
        baton.llm_worker(NoPerform)
