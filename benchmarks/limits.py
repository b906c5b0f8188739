"""The ``limits`` scenario: the rate limiter's cost per step, against the same step without it.

Each round runs ``throughput`` single-step workflows of ``Limited`` (a step under a rate
limit set far above the run's rate, so no step waits: each pays one admission before its
call and one correction of its token estimate after) and as many of ``Reporting`` (the
same step, same ``llm_usage``, no limit), alternated, on one worker process with its queue
paused while they are inserted (``scenarios.paused_run``). The limiter's cost per step is
the difference of the two runs' time per step, and of their CPU per job (worker and
PostgreSQL), which depends less on the shared machine's load than wall time does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import baton
from baton import Workflow
from benchmarks import stats
from benchmarks.common import Bench
from benchmarks.paused import paused_run
from benchmarks.procs import start_workers, stop_all
from benchmarks.stats import fmt_rate, fmt_ratio, fmt_us
from benchmarks.steps import LIMIT_KEY, Limited, Reporting

FAR_REQUESTS = 1_000_000_000
FAR_TOKENS = 10**15


def _fill(b: Bench, worker: type[Any], count: int) -> Callable[[], Awaitable[None]]:
    async def fill() -> None:
        for i in range(count):
            await (
                Workflow(name="bench-limit").add("call", worker.new({"i": i})).insert(oban=b.client)
            )

    return fill


async def limits(b: Bench) -> dict[str, Any]:
    count = b.sizes.throughput
    await baton.set_limit(
        LIMIT_KEY,
        requests_per_minute=FAR_REQUESTS,
        tokens_per_minute=FAR_TOKENS,
        oban=b.client,
    )
    workers = await start_workers(b.dsn, 1, b.logs, "limits", paused=True)
    runs: dict[str, list[dict[str, Any]]] = {"limited": [], "plain": []}
    try:
        warm = max(count // 10, 50)
        await paused_run(b, workers, warm, _fill(b, Limited, warm))
        await paused_run(b, workers, warm, _fill(b, Reporting, warm))
        for round_ in range(b.repeat):
            runs["limited"].append(await paused_run(b, workers, count, _fill(b, Limited, count)))
            runs["plain"].append(await paused_run(b, workers, count, _fill(b, Reporting, count)))
            b.say(
                f"limits round {round_ + 1}/{b.repeat}: limited "
                f"{fmt_rate(runs['limited'][-1]['per_second'])}, plain "
                f"{fmt_rate(runs['plain'][-1]['per_second'])}"
            )
    finally:
        await stop_all(workers)
        await baton.remove_limit(LIMIT_KEY, oban=b.client)
    summary: dict[str, Any] = {
        name: {
            "per_second": _median(r["per_second"] for r in rs),
            "cpu_per_job": _median(r["cpu_worker_per_job"] + r["cpu_postgres_per_job"] for r in rs),
            "cpu_worker_per_job": _median(r["cpu_worker_per_job"] for r in rs),
            "cpu_postgres_per_job": _median(r["cpu_postgres_per_job"] for r in rs),
        }
        for name, rs in runs.items()
    }
    limited, plain = summary["limited"], summary["plain"]
    summary["cost_per_step"] = 1 / limited["per_second"] - 1 / plain["per_second"]
    summary["cpu_cost_per_step"] = limited["cpu_per_job"] - plain["cpu_per_job"]
    return {"count": count, "workers": 1, "runs": runs, "summary": summary}


def _median(values: Iterable[float]) -> float:
    found = stats.median(values)
    if found is None:
        raise ValueError("no samples")
    return found


def limits_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's rows: throughput with and without the limiter, and the cost per step."""
    s = result["summary"]
    limited, plain = s["limited"], s["plain"]

    def cpu(side: dict[str, Any]) -> str:
        return fmt_us(side["cpu_per_job"])

    row = {"target": "info", "met": "info"}
    return [
        {
            **row,
            "scenario": f"rate-limited step, {result['count']:,} single-step wf, 1 worker",
            "baton": fmt_rate(limited["per_second"]),
            "baseline": "same step, no limit",
            "baseline_value": fmt_rate(plain["per_second"]),
            "ratio": fmt_ratio(stats.ratio(limited["per_second"], plain["per_second"])),
        },
        {
            **row,
            "scenario": "  limiter's cost per step: wall; CPU (worker + Postgres)",
            "baton": f"{fmt_us(s['cost_per_step'])}; {fmt_us(s['cpu_cost_per_step'])}",
            "baseline": "CPU per job, limited vs not",
            "baseline_value": f"{cpu(limited)} vs {cpu(plain)}",
            "ratio": "",
        },
    ]
