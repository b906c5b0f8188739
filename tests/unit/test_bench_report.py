"""The benchmark's table rows for issue 17's targets (``benchmarks.report``); no database."""

from __future__ import annotations

from typing import Any

from benchmarks import report


def scale_result(baton: dict[str, float], oban: dict[str, float]) -> dict[str, Any]:
    return {
        "count": 5_000,
        "workers": [1, 2, 3],
        "summary": {
            "per_second": {"baton": baton, "oban": oban},
            "growth": {"baton": baton["3"] / baton["1"], "oban": oban["3"] / oban["1"]},
            "growth_ratio": (baton["3"] / baton["1"]) / (oban["3"] / oban["1"]),
        },
    }


def test_scale_rows_show_every_process_count_and_judge_baton_growth_against_oban() -> None:
    rows = report.scale_rows(
        scale_result({"1": 800, "2": 1_200, "3": 1_400}, {"1": 1_500, "2": 2_000, "3": 2_400})
    )
    assert [r["scenario"] for r in rows[:3]] == [
        "throughput, 5,000 single-step wf, 1 worker process",
        "throughput, 5,000 single-step wf, 2 worker processes",
        "throughput, 5,000 single-step wf, 3 worker processes",
    ]
    growth = rows[-1]
    assert (growth["baton"], growth["baseline_value"]) == ("1.75x", "1.60x")
    assert (growth["ratio"], growth["target"], growth["met"]) == ("1.09x", "≥ 0.9x", "yes")

    flat = report.scale_rows(
        scale_result({"1": 800, "2": 820, "3": 830}, {"1": 1_500, "2": 2_000, "3": 2_400})
    )[-1]
    assert flat["met"] == "NO"  # 1.04 / 1.60 = 0.65


def test_subscribed_rows_judge_the_subscribed_run_against_plain_oban() -> None:
    result = {
        "count": 5_000,
        "summary": {
            "baton": {"per_second": 1_000.0},
            "baton_subscribed": {"per_second": 900.0},
            "oban": {"per_second": 1_500.0},
        },
    }
    against_oban, against_unsubscribed = report.subscribed_rows(result)
    assert (against_oban["ratio"], against_oban["target"], against_oban["met"]) == (
        "0.60x",
        "≥ 0.7x",
        "NO",
    )
    assert against_unsubscribed["ratio"] == "0.90x"
    assert against_unsubscribed["met"] == "info"


def test_the_one_process_throughput_target_is_issue_17s() -> None:
    result = {
        "count": 5_000,
        "summary": {
            name: {"per_second": rate, "cpu_worker_per_job": 0.0004, "cpu_postgres_per_job": 0.0004}
            for name, rate in (("baton", 1_250.0), ("oban", 1_500.0))
        },
    }
    [row, _cpu] = report.throughput_rows(result)
    assert (row["ratio"], row["target"], row["met"]) == ("0.83x", "≥ 0.8x", "yes")
