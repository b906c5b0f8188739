"""The ``signal`` scenario: ``baton.signal`` → the dependent of the signal step starts.

Each sample is one workflow ``gate`` (a signal step, waiting from its insert) → ``after``
(a recording step): the driver takes ``time.time()``, calls ``baton.signal``, and the
worker records when ``after``'s own code starts. Between the two sit the signal's
transaction, the wake-up, the run of Baton's signal worker (its step read, the payload
taken under the workflow lock, the result write), its ack and settlement, and the fetch of
``after``. The baseline, measured in the same run, alternating round by round, is the plain
hand-off of a Baton chain on the same worker (a step's end → its dependent's start).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import baton
from baton import Workflow
from benchmarks import db, stats
from benchmarks.common import Bench, mine, wait_for
from benchmarks.procs import Worker, start_workers, stop_all
from benchmarks.stats import fmt_ms, fmt_ratio
from benchmarks.steps import Step

#: The target: signal → dependent starts, p50.
TARGET_P50 = 0.005

#: ``scenarios.baton_chain``, passed in (the scenarios import this module).
type Chain = Callable[[Bench, Worker, int, str], Awaitable[dict[str, Any]]]


async def signal_round(b: Bench, worker: Worker, count: int, label: str) -> list[float]:
    """``count`` signals, one at a time; each one's latency to its dependent's start."""
    await db.reset(b.conn)
    sent: dict[int, float] = {}
    for index in range(count):
        wf = (
            Workflow(name="bench-signal")
            .add_signal("gate")
            .add("after", Step.new({"r": label, "i": index}), deps="gate")
        )
        await wf.insert(oban=b.client)
        sent[index] = time.time()
        await baton.signal(wf.id, "gate", {"i": index}, oban=b.client)
        await wait_for(
            b.conn,
            "SELECT finished_at IS NOT NULL FROM baton_workflows WHERE id = %s",
            (wf.id,),
            30,
        )
    started = mine(await worker.dump(), label)
    missing = [index for index in sent if index not in started]
    if missing:
        raise RuntimeError(f"signal: {len(missing)} of {count} dependents left no record")
    return [started[index][0] - sent[index] for index in range(count)]


async def signal(b: Bench, baton_chain: Chain) -> dict[str, Any]:
    count = b.sizes.chain
    worker = (await start_workers(b.dsn, 1, b.logs, "signal"))[0]
    try:
        await signal_round(b, worker, 10, "warm")
        await baton_chain(b, worker, 10, "warm-chain")
        runs: dict[str, list[list[float]]] = {"signal": [], "handoff": []}
        for round_ in range(b.repeat):
            runs["signal"].append(await signal_round(b, worker, count, f"s{round_}"))
            chain = await baton_chain(b, worker, count, f"c{round_}")
            runs["handoff"].append(chain["handoffs"])
            b.say(
                f"signal round {round_ + 1}/{b.repeat}: signal → dependent p50 "
                f"{fmt_ms(stats.median(runs['signal'][-1]))}, plain hand-off p50 "
                f"{fmt_ms(stats.median(runs['handoff'][-1]))}"
            )
    finally:
        await stop_all([worker])
    summary = {
        name: {
            "p50": stats.median(stats.median(run) for run in samples),
            "p95": stats.median(stats.percentile(run, 95) for run in samples),
            "pooled": stats.summarize([x for run in samples for x in run]),
        }
        for name, samples in runs.items()
    }
    return {"count": count, "runs": runs, "summary": summary}


def signal_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's rows: p50 against the target and the plain hand-off, and p95."""
    s = result["summary"]
    mine_p50, base_p50 = s["signal"]["p50"], s["handoff"]["p50"]
    met = mine_p50 is not None and mine_p50 <= TARGET_P50
    return [
        {
            "scenario": f"signal → dependent starts, p50 ({result['count']} signals)",
            "baton": fmt_ms(mine_p50),
            "baseline": "plain Baton hand-off, same run",
            "baseline_value": fmt_ms(base_p50),
            "ratio": fmt_ratio(stats.ratio(mine_p50, base_p50)),
            "target": "≤ 5 ms",
            "met": stats.fmt_met(met),
        },
        {
            "scenario": "  signal → dependent starts, p95",
            "baton": fmt_ms(s["signal"]["p95"]),
            "baseline": "plain hand-off p95",
            "baseline_value": fmt_ms(s["handoff"]["p95"]),
            "ratio": fmt_ratio(stats.ratio(s["signal"]["p95"], s["handoff"]["p95"])),
            "target": "",
            "met": "",
        },
    ]
