"""The ``prune`` scenario: running workflows' throughput while ``baton.prune`` deletes
100,000 finished steps, against the same workload with no pruning, round by round.

Each round, for each mode: the tables are emptied, then filled with finished workflows
(``bench-prune-fill``: fan-outs of 100 steps, results stored, finished 10 days ago), then
the live workload (3-step chains) is inserted with the worker's queue paused. The queue
is resumed at ``t0``; with pruning, ``baton.prune(older_than=7 days)`` starts at ``t0``
and its duration ``D`` is the window; without, the window is the last measured ``D``. The
throughput is the live jobs acknowledged inside the window (``completed_at``) per second.
Then the live workflows are run to the end, the fill is pruned (without: untimed), and
the rows are counted: the fill's must be back to zero, the live workflows' kept.

The fill's rows are made finished in one statement with triggers off
(``session_replication_role = replica``, which needs a superuser): they look as a run would
leave them, without spending minutes running 100,000 steps first.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import baton
from baton import Workflow
from benchmarks import db, stats
from benchmarks.common import INSERT_QUEUE, Bench, wait_for
from benchmarks.procs import Worker, start_workers, stop_all
from benchmarks.steps import QUEUE, Step

FILL = "bench-prune-fill"
LIVE = "bench-prune-live"
FILL_WIDTH = 98  # 1 + 98 + 1 = 100 steps, 196 edges per workflow
RESULT = {"text": "x" * 200}

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
    for i in range(count):
        wf = Workflow(name=LIVE)
        for k in range(3):
            deps = [f"s{k - 1}"] if k else []
            wf.add(f"s{k}", Step.new({"r": "live", "i": i * 3 + k}), deps=deps)
        await wf.insert(oban=b.client)


async def one_run(
    b: Bench, worker: Worker, *, pruning: bool, window: float, live: int, steps: int
) -> dict[str, Any]:
    """One measured run; ``window`` is the seconds to count over when not pruning."""
    await db.reset(b.conn)
    baseline = await counts(b)
    await fill(b, steps)
    filled = await counts(b)
    await insert_live(b, live)
    await asyncio.sleep(0.2)  # let the insert's notifications settle
    started = time.time()
    await worker.request("RESUME")
    report = None
    if pruning:
        report = await baton.prune(timedelta(days=7), oban=b.client)
        elapsed = time.time() - started
    else:
        await asyncio.sleep(window)
        elapsed = window
    left = await (await b.conn.execute(LIVE_LEFT, NAMES)).fetchone()
    await wait_for(
        b.conn,
        "SELECT count(*) FILTER (WHERE finished_at IS NOT NULL) = %s FROM baton_workflows "
        "WHERE name = %s",
        (live, LIVE),
        120 + live * 0.05,
    )
    await worker.request("PAUSE")
    window_of = {**NAMES, "start": started, "end": started + elapsed}
    acked = await (await b.conn.execute(ACKED, window_of)).fetchone()
    if report is None:
        report = await baton.prune(timedelta(days=7), oban=b.client)
    after = await counts(b)
    return {
        "pruning": pruning,
        "window": elapsed,
        "acked": acked[0] if acked else None,
        "per_second": (acked[0] / elapsed) if acked and elapsed > 0 else None,
        "live_left_at_window_end": left[0] if left else None,
        "report": {
            "workflows": report.workflows,
            "steps": report.steps,
            "edges": report.edges,
            "jobs": report.jobs,
            "batches": report.batches,
        },
        "rows_baseline": baseline,
        "rows_filled": filled,
        "rows_after": after,
    }


async def prune(b: Bench) -> dict[str, Any]:
    steps, live = b.sizes.prune_steps, b.sizes.prune_live
    workers = await start_workers(b.dsn, 1, b.logs, "prune", paused=True)
    worker = workers[0]
    try:
        warm = await one_run(b, worker, pruning=True, window=0, live=live // 10, steps=steps // 10)
        windows = [warm["window"]]
        runs: dict[str, list[dict[str, Any]]] = {"with": [], "without": []}
        for round_ in range(b.repeat):
            runs["with"].append(
                await one_run(b, worker, pruning=True, window=0, live=live, steps=steps)
            )
            windows.append(runs["with"][-1]["window"])
            window = stats.median(windows[1:]) or warm["window"]
            runs["without"].append(
                await one_run(b, worker, pruning=False, window=window, live=live, steps=steps)
            )
            b.say(
                f"prune round {round_ + 1}/{b.repeat}: live "
                f"{stats.fmt_rate(runs['with'][-1]['per_second'], ' steps/s')} while pruning "
                f"{runs['with'][-1]['report']['steps']:,} steps in "
                f"{runs['with'][-1]['window']:.1f} s, "
                f"{stats.fmt_rate(runs['without'][-1]['per_second'], ' steps/s')} without"
            )
    finally:
        await stop_all(workers)
    await db.reset(b.conn)
    exhausted = [r for rs in runs.values() for r in rs if not r["live_left_at_window_end"]]
    if exhausted:
        b.notes.append(
            f"prune: the live load ran out inside {len(exhausted)} window(s); raise prune_live"
        )
    return {
        "steps": steps,
        "live_workflows": live,
        "runs": runs,
        "summary": {
            mode: {
                "per_second": stats.median(r["per_second"] for r in rs),
                "window": stats.median(r["window"] for r in rs),
                "pruned_steps": stats.median(r["report"]["steps"] for r in rs),
                "fill_rows_after": max(
                    sum(v for k, v in r["rows_after"].items() if k.startswith("fill_")) for r in rs
                ),
                "rows_back_to_baseline": all(
                    r["rows_after"]["workflows"] == r["rows_baseline"]["workflows"] + live
                    and r["rows_after"]["steps"] == r["rows_baseline"]["steps"] + 3 * live
                    and r["rows_after"]["edges"] == r["rows_baseline"]["edges"] + 2 * live
                    and r["rows_after"]["jobs"] == r["rows_baseline"]["jobs"] + 3 * live
                    for r in rs
                ),
            }
            for mode, rs in runs.items()
        },
    }
