"""The benchmark's scenarios. Each measures Baton and its baseline(s) in the same run,
alternating them round by round (A/B/A/B…), and returns raw samples plus a summary.

Timestamps: the steps record ``time.time()`` when their own code starts and ends (see
``benchmarks.steps``; Celery tasks return theirs as results), so a hand-off is "the dependency's
work is done → the dependent's work starts", whatever sits in between (Baton's result
write, Oban's ack and fetch, the plain chain's enqueue, Celery's result write and
message).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import psutil

from baton import Workflow
from benchmarks import db, llm_ops, stats
from benchmarks.analytics import analytics
from benchmarks.common import (
    INSERT_QUEUE,
    Bench,
    Sizes,
    chain_pairs,
    chain_summary,
    mine,
    wait_completed,
    wait_workflows,
    with_peers,
)
from benchmarks.fan import expand, fanout
from benchmarks.limits import limits
from benchmarks.paused import insert_single_step, paused_run
from benchmarks.procs import CeleryWorker, Subscriber, Worker, start_workers, stop_all
from benchmarks.prune import prune
from benchmarks.scaling import scale, subscribed
from benchmarks.signals import signal
from benchmarks.steps import Keep, Plain, Step

# -- hand-off -------------------------------------------------------------------------------


async def baton_chain(b: Bench, worker: Worker, length: int, label: str) -> dict[str, Any]:
    await db.reset(b.conn)
    wf = Workflow(name="bench-chain")
    for i in range(length):
        wf.add(f"s{i}", Step.new({"r": label, "i": i}), deps=[f"s{i - 1}"] if i else [])
    sent_at = time.time()
    await wf.insert(oban=b.client)
    await wait_workflows(b, 1, 60 + length * 0.1)
    snoozed = await (
        await b.conn.execute(
            "SELECT count(*) FROM oban_jobs WHERE attempt <> 1 OR errors <> '[]'::jsonb"
        )
    ).fetchone()
    pairs = chain_pairs(mine(await worker.dump(), label), length, "Baton chain")
    return {
        "sent_at": sent_at,
        "pairs": pairs,
        "handoffs": stats.diffs(pairs),
        "cycles": stats.starts_gaps(pairs),
        "total": pairs[-1][1] - pairs[0][0],
        "retried_or_snoozed": snoozed[0] if snoozed else None,
    }


async def oban_chain(b: Bench, worker: Worker, length: int, label: str) -> dict[str, Any]:
    await db.reset(b.conn)
    sent_at = time.time()
    await b.client.enqueue(Plain.new({"r": label, "i": 0, "n": length}))
    await wait_completed(b, length, 60 + length * 0.1)
    pairs = chain_pairs(mine(await worker.dump(), label), length, "plain Oban chain")
    return {
        "sent_at": sent_at,
        "pairs": pairs,
        "handoffs": stats.diffs(pairs),
        "cycles": stats.starts_gaps(pairs),
        "total": pairs[-1][1] - pairs[0][0],
    }


async def celery_chain(celery: CeleryWorker, length: int) -> dict[str, Any]:
    from benchmarks import celery_client

    sent_at, pairs = await celery_client.run_chain(celery.queue, length, 60 + length * 0.1)
    tuples = [(float(s), float(e)) for s, e in pairs]
    return {
        "sent_at": sent_at,
        "pairs": tuples,
        "handoffs": stats.diffs(tuples),
        "cycles": stats.starts_gaps(tuples),
        "total": tuples[-1][1] - tuples[0][0],
    }


async def handoff(b: Bench) -> dict[str, Any]:
    length = b.sizes.chain
    async with with_peers(b, "handoff") as (worker, celery):
        # warm-up: connections, prepared plans, imports in every process
        await baton_chain(b, worker, 10, "warm")
        await oban_chain(b, worker, 10, "warm")
        for cw in celery:
            await celery_chain(cw, 10)
        systems = ["baton", "oban", *(f"celery_{cw.pool}" for cw in celery)]
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in systems}
        floors: list[list[float]] = []
        for round_ in range(b.repeat):
            floors.append(await db.commit_floor(b.conn))
            runs["baton"].append(await baton_chain(b, worker, length, f"b{round_}"))
            runs["oban"].append(await oban_chain(b, worker, length, f"o{round_}"))
            for cw in celery:
                runs[f"celery_{cw.pool}"].append(await celery_chain(cw, length))
            b.say(
                f"hand-off round {round_ + 1}/{b.repeat}: "
                + ", ".join(
                    f"{name} p50 {stats.fmt_ms(stats.median(runs[name][-1]['handoffs']))}"
                    for name in systems
                )
            )
    summary = {
        name: chain_summary(
            [r["handoffs"] for r in rs], [r["cycles"] for r in rs], [r["total"] for r in rs]
        )
        for name, rs in runs.items()
    }
    summary["commit_floor"] = {
        "p50": stats.median(stats.median(f) for f in floors),
        "pooled": stats.summarize([x for f in floors for x in f]),
    }
    for run_list in runs.values():
        for run in run_list:
            run.pop("pairs")  # hand-offs and cycles keep the information that matters
    return {"length": length, "runs": runs, "commit_floor_samples": floors, "summary": summary}


# -- throughput and scale -------------------------------------------------------------------


async def throughput_pair(
    b: Bench, workers: list[Worker], count: int, tag: str
) -> dict[str, list[dict[str, Any]]]:
    def baton_fill(n: int) -> Callable[[], Awaitable[None]]:
        async def fill() -> None:
            await insert_single_step(b, n)

        return fill

    def oban_fill(n: int) -> Callable[[], Awaitable[None]]:
        async def fill() -> None:
            await b.client.enqueue_many([Plain.new() for _ in range(n)])

        return fill

    warm = max(count // 10, 50)  # warm-up with a tenth of the load
    await paused_run(b, workers, warm, baton_fill(warm))
    await paused_run(b, workers, warm, oban_fill(warm))
    runs: dict[str, list[dict[str, Any]]] = {"baton": [], "oban": []}
    for round_ in range(b.repeat):
        runs["baton"].append(await paused_run(b, workers, count, baton_fill(count)))
        runs["oban"].append(await paused_run(b, workers, count, oban_fill(count)))
        b.say(
            f"{tag} round {round_ + 1}/{b.repeat}: Baton "
            f"{stats.fmt_rate(runs['baton'][-1]['per_second'])}, plain Oban "
            f"{stats.fmt_rate(runs['oban'][-1]['per_second'])}"
        )
    return runs


def throughput_summary(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        name: {
            "per_second": stats.median(r["per_second"] for r in rs),
            "cpu_worker_per_job": stats.median(r["cpu_worker_per_job"] for r in rs),
            "cpu_postgres_per_job": stats.median(r["cpu_postgres_per_job"] for r in rs),
        }
        for name, rs in runs.items()
    }


async def throughput(b: Bench) -> dict[str, Any]:
    workers = await start_workers(b.dsn, 1, b.logs, "throughput", paused=True)
    try:
        runs = await throughput_pair(b, workers, b.sizes.throughput, "throughput, 1 worker")
    finally:
        await stop_all(workers)
    return {
        "count": b.sizes.throughput,
        "workers": 1,
        "runs": runs,
        "summary": throughput_summary(runs),
    }


# -- insert ---------------------------------------------------------------------------------


async def timed_insert(b: Bench, kind: str, count: int) -> float:
    await db.reset(b.conn)
    if kind == "oban":
        jobs = [Plain.new({"i": i}, queue=INSERT_QUEUE) for i in range(count)]
        started = time.perf_counter()
        await b.client.enqueue_many(jobs)
        return time.perf_counter() - started
    wf = Workflow(name=f"bench-insert-{kind}")
    for i in range(count):
        deps = [f"s{i - 1}"] if kind == "chain" and i else []
        wf.add(f"s{i}", Step.new({"i": i}, queue=INSERT_QUEUE), deps=deps)
    started = time.perf_counter()
    await wf.insert(oban=b.client)
    return time.perf_counter() - started


async def insert(b: Bench) -> dict[str, Any]:
    count = b.sizes.insert
    kinds = ["independent", "chain", "oban"]
    for kind in kinds:
        await timed_insert(b, kind, 200)  # warm-up
    runs: dict[str, list[float]] = {kind: [] for kind in kinds}
    for round_ in range(b.repeat):
        for kind in kinds:
            runs[kind].append(await timed_insert(b, kind, count))
        b.say(
            f"insert round {round_ + 1}/{b.repeat}: "
            + ", ".join(f"{k} {stats.fmt_rate(count / runs[k][-1])}" for k in kinds)
        )
    await db.reset(b.conn)
    summary = {
        kind: {"seconds": stats.median(secs), "per_second": count / stats.median(secs)}  # type: ignore[operator]
        for kind, secs in runs.items()
    }
    return {"count": count, "runs": runs, "summary": summary}


# -- events ---------------------------------------------------------------------------------


async def events(b: Bench) -> dict[str, Any]:
    length = b.sizes.events_chain
    ids = [str(uuid.uuid4()) for _ in range(b.repeat)]
    workers = await start_workers(b.dsn, 1, b.logs, "events")
    subscriber: Subscriber | None = None
    perform_ends: dict[tuple[str, str], float] = {}
    try:
        worker = workers[0]
        await baton_chain(b, worker, 10, "warm")
        subscriber = await Subscriber.start(b.dsn, ids, b.logs)
        for round_, wid in enumerate(ids):
            await db.reset(b.conn)
            wf = Workflow(name="bench-events", id=wid)
            for i in range(length):
                wf.add(f"s{i}", Step.new({"r": wid, "i": i}), deps=[f"s{i - 1}"] if i else [])
            await wf.insert(oban=b.client)
            await wait_workflows(b, 1, 60 + length * 0.1)
            for run, i, _start, end in await worker.dump():
                perform_ends[(run, f"s{i}")] = end
            b.say(f"events round {round_ + 1}/{b.repeat}: {length}-step chain done")
        seen = await subscriber.result(60)
    finally:
        if subscriber is not None:
            await subscriber.stop()
        await stop_all(workers)
    ours = [e for e in seen if e[2] in set(ids)]
    transition = [received - at for received, _kind, _wf, _step, _state, at in ours]
    by_state: dict[str, list[float]] = {}
    for received, kind, _wf, _step, state, at in ours:
        by_state.setdefault(state if kind == "step" else "workflow finished", []).append(
            received - at
        )
    from_perform = [
        received - perform_ends[(wf_id, step)]
        for received, kind, wf_id, step, state, _at in ours
        if kind == "step" and state == "completed" and (wf_id, step) in perform_ends
    ]
    return {
        "chain": length,
        "workflows": len(ids),
        "events": len(ours),
        "expected_events": len(ids) * (2 * length + 1),
        "transition_latency": transition,
        "perform_end_to_completed": from_perform,
        "summary": {
            "transition": stats.summarize(transition),
            "perform_end_to_completed": stats.summarize(from_perform),
            "by_state": {state: stats.summarize(v) for state, v in by_state.items()},
        },
    }


# -- memory ---------------------------------------------------------------------------------


def memory_workflow(steps: int) -> Workflow:
    width = steps - 2
    return (
        Workflow(name="bench-memory")
        .add("start", Keep.new())
        .add_many("fan", [Keep.new({"i": k}) for k in range(width)], deps=["start"])
        .add("join", Keep.new({"read": "fan"}), deps=["fan"])
    )


async def sample_rss(pid: int, into: list[int], stop: asyncio.Event) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        into.append(process.memory_info().rss)
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


async def measured(worker: Worker, body: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    before = await worker.rss()
    samples: list[int] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(worker.pid, samples, stop))
    started = time.time()
    try:
        await body()
    finally:
        stop.set()
        await sampler
    elapsed = time.time() - started
    after = await worker.rss()
    return {
        "rss_before": before,
        "rss_after": after,
        "rss_peak": max(samples, default=after),
        "growth": stats.growth(before, after),
        "elapsed": elapsed,
        "samples": samples,
    }


async def baton_memory(b: Bench) -> dict[str, Any]:
    s = b.sizes
    worker = (await start_workers(b.dsn, 1, b.logs, "memory-baton"))[0]
    try:

        async def run(workflows: int) -> None:
            await db.reset(b.conn)
            for _ in range(workflows):
                await memory_workflow(s.memory_steps).insert(oban=b.client)
            await wait_workflows(b, workflows, 300 + workflows * s.memory_steps * 0.01)

        await run(s.memory_warmup_workflows)
        result = await measured(worker, lambda: run(s.memory_workflows))
    finally:
        await stop_all([worker])
    await db.reset(b.conn)
    return {**result, "steps": s.memory_workflows * s.memory_steps}


async def oban_memory(b: Bench) -> dict[str, Any]:
    s = b.sizes
    worker = (await start_workers(b.dsn, 1, b.logs, "memory-oban"))[0]
    try:

        async def run(count: int) -> None:
            await db.reset(b.conn)
            for i in range(0, count, 5_000):
                await b.client.enqueue_many([Plain.new() for _ in range(min(5_000, count - i))])
            await wait_completed(b, count, 300 + count * 0.01)

        await run(s.memory_warmup_workflows * s.memory_steps)
        result = await measured(worker, lambda: run(s.memory_workflows * s.memory_steps))
    finally:
        await stop_all([worker])
    await db.reset(b.conn)
    return {**result, "steps": s.memory_workflows * s.memory_steps}


async def memory(b: Bench) -> dict[str, Any]:
    baton_run = await baton_memory(b)
    b.say(
        f"memory: Baton {stats.fmt_bytes(baton_run['rss_before'])} → "
        f"{stats.fmt_bytes(baton_run['rss_after'])} ({stats.fmt_pct(baton_run['growth'])})"
    )
    oban_run = await oban_memory(b)
    b.say(
        f"memory: plain Oban {stats.fmt_bytes(oban_run['rss_before'])} → "
        f"{stats.fmt_bytes(oban_run['rss_after'])} ({stats.fmt_pct(oban_run['growth'])})"
    )
    return {
        "runs": {"baton": baton_run, "oban": oban_run},
        "summary": {
            name: {k: run[k] for k in ("rss_before", "rss_after", "rss_peak", "growth", "steps")}
            for name, run in (("baton", baton_run), ("oban", oban_run))
        },
    }


async def signals(b: Bench) -> dict[str, Any]:
    """``baton.signal`` → the dependent starts, against the plain hand-off of a chain."""
    return await signal(b, baton_chain)


SCENARIOS: dict[str, Callable[[Bench], Awaitable[dict[str, Any]]]] = {
    "handoff": handoff,
    "throughput": throughput,
    "fanout": fanout,
    "expand": expand,
    "insert": insert,
    "events": events,
    "memory": memory,
    "scale": scale,
    "subscribed": subscribed,
    "prune": prune,
    "analytics": analytics,
    "signal": signals,
    "limits": limits,
    "captured_calls": llm_ops.captured_calls,
    "budget": llm_ops.budget,
}


def sizes_dict(sizes: Sizes) -> dict[str, Any]:
    return asdict(sizes)
