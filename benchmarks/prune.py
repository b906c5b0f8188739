"""The ``prune`` scenario: running workflows' throughput while ``baton.prune`` deletes
100,000 finished steps, against their throughput just before and just after.

Each round: the tables are emptied, then filled with finished workflows
(``bench-prune-fill``: fan-outs of 100 steps, results stored, finished 10 days ago); the
live workload (3-step chains) is inserted with the worker's queue paused, and the queue
resumed. After a second's lead-in, three adjacent windows: ``W`` seconds without pruning,
``baton.prune(older_than=7 days)`` paced as ``baton.Pruner`` paces it (``PRUNER_PAUSE``
between batches; its duration ``D``), ``W`` seconds without again, where
``W`` is the median ``D`` of the rounds before (the warm-up's, scaled, for the first). The
throughput of a window is the live jobs acknowledged inside it (``completed_at``) per
second; the ratio is the pruning window's over the two around it, so that both sides see
the same machine (it is shared, and its load drifts over minutes). Then the rows are
counted: the fill's must be back to zero, and every row of the live workflows kept.

The fill's rows are made finished in one statement with triggers off
(``session_replication_role = replica``, which needs a superuser): they look as a run would
leave them, without spending minutes running 100,000 steps first.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import timedelta
from typing import Any

import baton
from baton import Workflow
from baton._prune import PRUNER_PAUSE
from benchmarks import db, stats
from benchmarks.common import INSERT_QUEUE, Bench
from benchmarks.procs import Worker, start_workers, stop_all
from benchmarks.steps import QUEUE, Step

FILL = "bench-prune-fill"
LIVE = "bench-prune-live"
FILL_WIDTH = 98  # 1 + 98 + 1 = 100 steps, 196 edges per workflow
RESULT = {"text": "x" * 200}
LEAD_IN = 1.0

# Parameters: fill (the fill's workflow name), parked (its queue), live (the live queue).
FINISH_FILL = [
    "SET LOCAL session_replication_role = replica",
    """UPDATE oban_jobs
           SET state = 'completed', attempt = 1, attempted_at = timezone('UTC', now()),
               completed_at = timezone('UTC', now())
         WHERE queue = %(parked)s""",
    """UPDATE baton_steps s
           SET outcome = 'completed', pending = 0, settled_at = timezone('UTC', now()),
               performed_at = timezone('UTC', now()), performed_attempt = 1,
               result = jsonb_build_object('value', %(result)s::jsonb)
          FROM baton_workflows w
         WHERE w.id = s.workflow_id AND w.name = %(fill)s""",
    """UPDATE baton_workflows
           SET unsettled = 0, outcome = 'completed',
               finished_at = timezone('UTC', now()) - interval '10 days'
         WHERE name = %(fill)s""",
]

ROWS = """
SELECT (SELECT count(*) FROM baton_workflows WHERE name = %(fill)s),
       (SELECT count(*) FROM baton_steps s JOIN baton_workflows w ON w.id = s.workflow_id
         WHERE w.name = %(fill)s),
       (SELECT count(*) FROM baton_edges e JOIN baton_workflows w ON w.id = e.workflow_id
         WHERE w.name = %(fill)s),
       (SELECT count(*) FROM oban_jobs WHERE queue = %(parked)s),
       (SELECT count(*) FROM baton_workflows),
       (SELECT count(*) FROM baton_steps),
       (SELECT count(*) FROM baton_edges),
       (SELECT count(*) FROM oban_jobs)
"""

ACKED = """
SELECT count(*) FROM oban_jobs
 WHERE queue = %(live)s AND state = 'completed'
   AND completed_at >= to_timestamp(%(start)s) AT TIME ZONE 'UTC'
   AND completed_at < to_timestamp(%(end)s) AT TIME ZONE 'UTC'
"""

LIVE_LEFT = "SELECT count(*) FROM oban_jobs WHERE queue = %(live)s AND state <> 'completed'"

NAMES = {"fill": FILL, "parked": INSERT_QUEUE, "live": QUEUE}


async def counts(b: Bench) -> dict[str, int]:
    row = await (await b.conn.execute(ROWS, NAMES)).fetchone()
    if row is None:
        raise RuntimeError("counting rows returned nothing")
    names = ["fill_workflows", "fill_steps", "fill_edges", "fill_jobs"]
    names += ["workflows", "steps", "edges", "jobs"]
    return dict(zip(names, (int(x) for x in row), strict=True))


async def fill(b: Bench, steps: int) -> None:
    """Finished workflows holding ``steps`` steps in all, as a run leaves them."""
    width = FILL_WIDTH + 2
    workflows = [
        Workflow(name=FILL)
        .add("start", Step.new(queue=INSERT_QUEUE))
        .add_many(
            "fan",
            [Step.new({"i": k}, queue=INSERT_QUEUE) for k in range(FILL_WIDTH)],
            deps=["start"],
        )
        .add("join", Step.new(queue=INSERT_QUEUE), deps=["fan"])
        for _ in range(steps // width)
    ]

    async def insert(part: list[Workflow]) -> None:
        for wf in part:
            await wf.insert(oban=b.client)

    await asyncio.gather(*(insert(workflows[i::4]) for i in range(4)))
    async with b.conn.transaction():
        for statement in FINISH_FILL:
            await b.conn.execute(statement, {**NAMES, "result": json.dumps(RESULT)})
    await b.conn.execute("ANALYZE")


async def insert_live(b: Bench, count: int) -> None:
    def chain(i: int) -> Workflow:
        wf = Workflow(name=LIVE)
        for k in range(3):
            deps = [f"s{k - 1}"] if k else []
            wf.add(f"s{k}", Step.new({"r": "live", "i": i * 3 + k}), deps=deps)
        return wf

    async def insert(part: range) -> None:
        for i in part:
            await chain(i).insert(oban=b.client)

    await asyncio.gather(*(insert(range(i, count, 4)) for i in range(4)))


async def acked(b: Bench, start: float, end: float) -> int:
    """Live jobs acknowledged in ``[start, end)`` (epoch seconds)."""
    row = await (await b.conn.execute(ACKED, {**NAMES, "start": start, "end": end})).fetchone()
    return int(row[0]) if row else 0


async def one_round(
    b: Bench, worker: Worker, *, window: float, live: int, steps: int
) -> dict[str, Any]:
    """One round: live chains run through three adjacent windows: ``window`` seconds without
    pruning, then ``baton.prune`` deleting the fill, then ``window`` seconds without again.
    """
    await db.reset(b.conn)
    baseline = await counts(b)
    await fill(b, steps)
    filled = await counts(b)
    await insert_live(b, live)
    await asyncio.sleep(0.2)  # let the insert's notifications settle
    await worker.request("RESUME")
    await asyncio.sleep(LEAD_IN)  # past the first fetches: every window at full speed
    marks = [time.time()]
    await asyncio.sleep(window)
    marks.append(time.time())
    report = await baton.prune(timedelta(days=7), oban=b.client, pause=PRUNER_PAUSE)
    marks.append(time.time())
    await asyncio.sleep(window)
    marks.append(time.time())
    left = await (await b.conn.execute(LIVE_LEFT, NAMES)).fetchone()
    await worker.request("PAUSE")  # the rest of the live load is not needed
    before, during, after = [await acked(b, start, end) for start, end in itertools.pairwise(marks)]
    spans = [end - start for start, end in itertools.pairwise(marks)]
    alone = (before + after) / (spans[0] + spans[2])
    pruning = during / spans[1]
    return {
        "window": window,
        "prune_seconds": spans[1],
        "acked": {"before": before, "during": during, "after": after},
        "per_second_without": alone,
        "per_second_with": pruning,
        "ratio": stats.ratio(pruning, alone),
        "live_left_at_end": left[0] if left else None,
        "report": {
            "workflows": report.workflows,
            "steps": report.steps,
            "edges": report.edges,
            "jobs": report.jobs,
            "batches": report.batches,
        },
        "rows_baseline": baseline,
        "rows_filled": filled,
        "rows_after": await counts(b),
    }


def back_to_baseline(run: dict[str, Any], live: int) -> bool:
    """The fill's rows all gone; the live workflows' (finished or not) all kept."""
    base, after = run["rows_baseline"], run["rows_after"]
    return (
        all(v == 0 for k, v in after.items() if k.startswith("fill_"))
        and after["workflows"] == base["workflows"] + live
        and after["steps"] == base["steps"] + 3 * live
        and after["edges"] == base["edges"] + 2 * live
        and after["jobs"] == base["jobs"] + 3 * live
    )


async def prune(b: Bench) -> dict[str, Any]:
    steps, live = b.sizes.prune_steps, b.sizes.prune_live
    workers = await start_workers(b.dsn, 1, b.logs, "prune", paused=True)
    worker = workers[0]
    try:
        # warm-up, a tenth of the size: its prune time, times ten, is the first window
        warm = await one_round(b, worker, window=1.0, live=live // 10, steps=steps // 10)
        durations = [warm["prune_seconds"] * 10]
        runs: list[dict[str, Any]] = []
        for round_ in range(b.repeat):
            window = stats.median(durations) or 1.0
            runs.append(await one_round(b, worker, window=window, live=live, steps=steps))
            durations = [r["prune_seconds"] for r in runs]
            run = runs[-1]
            b.say(
                f"prune round {round_ + 1}/{b.repeat}: {run['report']['steps']:,} steps pruned "
                f"in {run['prune_seconds']:.1f} s; live "
                f"{stats.fmt_rate(run['per_second_with'], ' steps/s')} while pruning, "
                f"{stats.fmt_rate(run['per_second_without'], ' steps/s')} in the windows "
                f"around it ({stats.fmt_ratio(run['ratio'])})"
            )
    finally:
        await stop_all(workers)
    await db.reset(b.conn)
    ran_out = [r for r in runs if not r["live_left_at_end"]]
    if ran_out:
        b.notes.append(
            f"prune: the live load ran out before the last window ended in {len(ran_out)} "
            "round(s); raise Sizes.prune_live"
        )
    return {
        "steps": steps,
        "live_workflows": live,
        "runs": runs,
        "summary": {
            "ratio": stats.median(r["ratio"] for r in runs),
            "per_second_with": stats.median(r["per_second_with"] for r in runs),
            "per_second_without": stats.median(r["per_second_without"] for r in runs),
            "prune_seconds": stats.median(r["prune_seconds"] for r in runs),
            "pruned_steps": stats.median(r["report"]["steps"] for r in runs),
            "rows_back_to_baseline": all(back_to_baseline(r, live) for r in runs),
        },
    }
