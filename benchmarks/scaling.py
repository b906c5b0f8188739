"""Throughput as worker processes are added, and with a ``workflow:all`` subscriber.

``scale``: the single-step throughput of ``throughput`` with 1, 2 and 3 worker processes
on one PostgreSQL (the processes not used in a run stay paused), Baton and plain Oban
alternated within every round, so each round gives both systems' growth on the same
machine. Reported: jobs/s at each count, each system's 3-process / 1-process ratio, and
Baton's ratio over plain Oban's.

``subscribed``: one worker process, Baton with nobody subscribed, Baton while a subscriber
process follows ``workflow:all`` (so every event is sent and received), and plain Oban,
alternated. The subscriber counts what it receives: every run must deliver all
two step events per workflow and one finished event each, or the scenario fails.
"""

from __future__ import annotations

from typing import Any

from benchmarks import stats
from benchmarks.common import Bench
from benchmarks.paused import insert_single_step, paused_run
from benchmarks.procs import Subscriber, Worker, start_workers, stop_all
from benchmarks.steps import Plain


async def _baton(b: Bench, workers: list[Worker], count: int) -> dict[str, Any]:
    return await paused_run(b, workers, count, lambda: insert_single_step(b, count))


async def _oban(b: Bench, workers: list[Worker], count: int) -> dict[str, Any]:
    async def fill() -> None:
        await b.client.enqueue_many([Plain.new() for _ in range(count)])

    return await paused_run(b, workers, count, fill)


def _rates(runs: list[dict[str, Any]]) -> float | None:
    return stats.median(r["per_second"] for r in runs)


async def scale(b: Bench) -> dict[str, Any]:
    most = b.sizes.scale_workers
    counts = list(range(1, most + 1))
    count = b.sizes.throughput
    workers = await start_workers(b.dsn, most, b.logs, "scale", paused=True)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        system: {str(n): [] for n in counts} for system in ("baton", "oban")
    }
    try:
        warm = max(count // 10, 50)
        await _baton(b, workers, warm)
        await _oban(b, workers, warm)
        for round_ in range(b.repeat):
            for n in counts:
                runs["baton"][str(n)].append(await _baton(b, workers[:n], count))
                runs["oban"][str(n)].append(await _oban(b, workers[:n], count))
            b.say(
                f"scale round {round_ + 1}/{b.repeat}: "
                + "; ".join(
                    f"{n} proc Baton {stats.fmt_rate(runs['baton'][str(n)][-1]['per_second'])}"
                    f" Oban {stats.fmt_rate(runs['oban'][str(n)][-1]['per_second'])}"
                    for n in counts
                )
            )
    finally:
        await stop_all(workers)
    per_second = {system: {str(n): _rates(runs[system][str(n)]) for n in counts} for system in runs}
    growth = {
        system: stats.ratio(per_second[system][str(most)], per_second[system]["1"])
        for system in runs
    }
    round_ratios = []  # Baton's growth over Oban's, round by round
    for i in range(b.repeat):
        baton_growth = stats.ratio(
            runs["baton"][str(most)][i]["per_second"], runs["baton"]["1"][i]["per_second"]
        )
        oban_growth = stats.ratio(
            runs["oban"][str(most)][i]["per_second"], runs["oban"]["1"][i]["per_second"]
        )
        round_ratios.append(stats.ratio(baton_growth, oban_growth))
    return {
        "count": count,
        "workers": counts,
        "runs": runs,
        "summary": {
            "per_second": per_second,
            "growth": growth,
            "growth_ratio": stats.ratio(growth["baton"], growth["oban"]),
            "growth_ratio_by_round": round_ratios,
        },
    }


async def subscribed(b: Bench) -> dict[str, Any]:
    count = b.sizes.throughput
    workers = await start_workers(b.dsn, 1, b.logs, "subscribed", paused=True)
    kinds = ("baton", "baton_subscribed", "oban")
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    received: list[dict[str, int]] = []
    try:
        warm = max(count // 10, 50)
        await _baton(b, workers, warm)
        await _oban(b, workers, warm)
        for round_ in range(b.repeat):
            runs["baton"].append(await _baton(b, workers, count))
            subscriber = await Subscriber.start_all(b.dsn, count, b.logs)
            try:
                runs["baton_subscribed"].append(await _baton(b, workers, count))
                got = await subscriber.counts(60 + count * 0.01)
            finally:
                await subscriber.stop()
            received.append(got)
            if got["step"] < 2 * count or got["workflow"] != count:
                raise RuntimeError(
                    f"the workflow:all subscriber received {got} in round {round_ + 1}; "
                    f"expected {2 * count} step events and {count} finished events"
                )
            runs["oban"].append(await _oban(b, workers, count))
            b.say(
                f"subscribed round {round_ + 1}/{b.repeat}: "
                + ", ".join(f"{k} {stats.fmt_rate(runs[k][-1]['per_second'])}" for k in kinds)
            )
    finally:
        await stop_all(workers)
    return {
        "count": count,
        "runs": runs,
        "received": received,
        "summary": {
            kind: {
                "per_second": _rates(rs),
                "cpu_worker_per_job": stats.median(r["cpu_worker_per_job"] for r in rs),
                "cpu_postgres_per_job": stats.median(r["cpu_postgres_per_job"] for r in rs),
            }
            for kind, rs in runs.items()
        },
    }
