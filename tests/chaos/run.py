"""The crash suite: random DAG workflows on worker processes that get SIGKILLed.

    python -m tests.chaos.run [--workers 3] [--workflows 20] [--kills 10] [--seed S]

Starts a fake LLM (a local HTTP server that records every call) and ``--workers`` worker
processes sharing one database, inserts ``--workflows`` random DAG workflows (seeded)
whose steps call the fake LLM, and meanwhile SIGKILLs a worker ``--kills`` times at random
moments — some while it waits for an LLM answer — restarting each one at once. Workers
also SIGKILL themselves now and then right after a step stored its result and before
Oban acked the job (``--crash-after-store``). Oban's lifeline (``rescue_after`` 2 s) puts
the jobs of dead processes back.

When every workflow has finished, it checks the run against the database and the LLM's
call log (see ``tests.chaos.check``), prints a summary, and exits 1 if an assertion failed.
Worker logs, the call log and the summary are kept in ``--logs`` (a temporary directory
by default).

Every run has a database of its own, created for it and dropped at the end: on the server
of ``--dsn`` (default ``$DATABASE_URL``), named after its database plus ``_<pid>_<random>``;
else ``baton_chaos_<pid>_<random>`` on 127.0.0.1:5432 when a server answers there; else an
embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from oban import Job, Oban

import baton
from baton import Workflow, WorkflowFinished
from baton._database import private_database
from tests.chaos.check import check
from tests.chaos.fake_llm import FakeLLM
from tests.chaos.steps import CRASH_ENV, LLM_URL_ENV, RUNS_TABLE, Think, Tool
from tests.chaos.workers import MAX_FAILED_STARTS, Fleet

logger = logging.getLogger("chaos")

CHAOS_DATABASE = "baton_chaos"

UNFINISHED = "SELECT count(*) FROM baton_workflows WHERE id = ANY(%s) AND finished_at IS NULL"


def span(text: str) -> tuple[float, float]:
    low, _, high = text.partition(":")
    return float(low), float(high or low)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.chaos.run", description=__doc__.split("\n\n")[2]
    )
    add = parser.add_argument
    add(
        "--dsn",
        default=os.environ.get("DATABASE_URL"),
        help="server to make the run's own database on (default: $DATABASE_URL, else "
        "127.0.0.1:5432, else an embedded PostgreSQL)",
    )
    add("--workers", type=int, default=3, help="worker processes (default 3)")
    add("--workflows", type=int, default=20, help="workflows to run (default 20)")
    add("--steps", type=span, default=(3, 12), metavar="MIN:MAX", help="steps per workflow")
    add("--kills", type=int, default=10, help="SIGKILLs the driver sends (default 10)")
    add("--kill-every", type=float, default=1.5, help="mean seconds between kills (default 1.5)")
    add(
        "--crash-after-store",
        type=float,
        default=0.05,
        metavar="P",
        help="chance a worker kills itself after a step stored its result (default 0.05)",
    )
    add("--seed", type=int, default=None, help="seeds the DAGs, the kills and the LLM")
    add("--llm-latency", type=span, default=(0.02, 0.25), metavar="MIN:MAX", help="seconds")
    add("--llm-errors", type=float, default=0.03, help="share of LLM calls answered 503")
    add("--concurrency", type=int, default=5, help="jobs per queue per worker (default 5)")
    add("--rescue-after", type=float, default=2.0, help="lifeline rescue_after (default 2 s)")
    add("--timeout", type=float, default=300.0, help="seconds to wait for the workflows")
    add("--logs", type=Path, default=None, help="directory for logs (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.kill_every < 0.2:
        parser.error("--kill-every must be at least 0.2 seconds")
    if args.workers < 1 or args.workflows < 1 or args.kills < 0:
        parser.error("--workers and --workflows must be positive, --kills at least 0")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1_000_000)
    return args


def random_workflow(rng: random.Random, name: str, sizes: tuple[float, float]) -> Workflow:
    """A random DAG: steps (and now and then a group) with 0-3 deps among recent ones."""
    wf = Workflow(name=name, id=f"{name}-{uuid.uuid4().hex[:8]}")
    size = rng.randint(int(sizes[0]), int(sizes[1]))
    names: list[str] = []

    def job() -> Job:
        worker: Any = Think if rng.random() < 0.6 else Tool  # Oban workers, once decorated
        new: Job = worker.new({"prompt": f"task {rng.randrange(10_000)}"})
        return new

    index = 0
    while len(wf.steps) < size:
        recent = names[-6:]
        deps = rng.sample(recent, min(len(recent), rng.randint(0 if index < 2 else 1, 3)))
        if names and size - len(wf.steps) >= 2 and rng.random() < 0.2:
            count = rng.randint(2, min(4, size - len(wf.steps)))
            wf.add_many(f"g{index}", [job() for _ in range(count)], deps=deps)
            names.append(f"g{index}")
        else:
            wf.add(f"s{index}", job(), deps=deps)
            names.append(f"s{index}")
        index += 1
    return wf


async def insert_spread(workflows: list[Workflow], over: float, rng: random.Random) -> None:
    """Insert the workflows at random moments within ``over`` seconds."""
    start = time.monotonic()
    moments = sorted(rng.uniform(0, over) for _ in workflows)
    for wf, moment in zip(workflows, moments, strict=True):
        await asyncio.sleep(max(0.0, start + moment - time.monotonic()))
        await wf.insert()


async def chaos(
    fleet: Fleet, llm: FakeLLM, args: argparse.Namespace, rng: random.Random, done: asyncio.Event
) -> None:
    """SIGKILL a random live worker ``args.kills`` times, half of them mid-LLM-call if possible."""
    kills = 0
    while kills < args.kills and not done.is_set():
        await asyncio.sleep(rng.uniform(0.2, 2 * args.kill_every - 0.2))
        live = fleet.live()
        if not live:
            continue
        busy = [worker for worker in live if worker.pid in llm.busy_pids()]
        if busy and rng.random() < 0.5:
            victim, kind = rng.choice(busy), "during an LLM call"
        else:
            victim, kind = rng.choice(live), "random"
        fleet.kill(victim, kind)
        kills += 1
        logger.info("kill %d/%d: %s (pid %d), %s", kills, args.kills, victim.node, victim.pid, kind)


async def count_finished(events: baton.Subscription, ids: set[str], counts: Counter[str]) -> None:
    async for event in events:
        if isinstance(event, WorkflowFinished) and event.workflow_id in ids:
            counts[event.workflow_id] += 1
        elif isinstance(event, baton.Reconnected):
            logger.warning("the event listener reconnected; finished events may be missed")


async def wait_for(predicate: Any, timeout: float, every: float = 0.25) -> bool:
    """Poll an async predicate until it is true; False after ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while not await predicate():
                await asyncio.sleep(every)
    except TimeoutError:
        return False
    return True


async def run(args: argparse.Namespace) -> int:
    logs = args.logs or Path(tempfile.mkdtemp(prefix="baton-chaos-"))
    logs.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible run, not a secret
    workflows = [random_workflow(rng, f"chaos-{n:04d}", args.steps) for n in range(args.workflows)]
    ids = [wf.id for wf in workflows]
    began = time.monotonic()

    await baton.install(args.dsn)
    conn = await psycopg.AsyncConnection.connect(args.dsn, autocommit=True)
    await conn.execute(RUNS_TABLE)

    llm = FakeLLM(seed=args.seed, latency=args.llm_latency, error_rate=args.llm_errors)
    queues = f"default:{args.concurrency},llm:{args.concurrency}"
    worker_args = ["--queues", queues, "--rescue-after", str(args.rescue_after)]
    worker_args += ["--lifeline-interval", "0.5", "--leader-interval", "1"]
    finished: Counter[str] = Counter()
    pool = await Oban.create_pool(args.dsn, min_size=1, max_size=4)
    async with llm, baton.subscribe(dsn=args.dsn, maxsize=1_000_000) as events:
        env = {LLM_URL_ENV: llm.url, CRASH_ENV: str(args.crash_after_store)}
        fleet = Fleet(args.dsn, args.workers, logs, worker_args, env)
        listener = asyncio.create_task(count_finished(events, set(ids), finished))
        Oban(pool=pool, leadership=False)  # the instance Workflow.insert uses; runs no queues
        all_done = asyncio.Event()
        chaos_task: asyncio.Task[None] | None = None
        try:
            await fleet.start()
            logger.info("%d workers ready; fake LLM at %s; logs in %s", args.workers, llm.url, logs)
            chaos_task = asyncio.create_task(chaos(fleet, llm, args, rng, all_done))
            # Inserts span the kill phase, so kills keep landing on running workflows.
            await insert_spread(workflows, args.kills * args.kill_every * 0.95, rng)

            async def none_unfinished() -> bool:
                if fleet.failed_starts > MAX_FAILED_STARTS:
                    return True  # no workers to wait for; reported as a failure below
                [(left,)] = await (await conn.execute(UNFINISHED, (ids,))).fetchall()
                return bool(left == 0)

            settled = await wait_for(none_unfinished, args.timeout)
            all_done.set()
            await chaos_task
            if settled:  # every finished event should follow within moments, and no second one
                await wait_for(lambda: all_counted(finished, ids), 10, every=0.05)
                await asyncio.sleep(1.0)
        finally:
            if chaos_task is not None:
                chaos_task.cancel()
            await fleet.stop()
            listener.cancel()
            await pool.close()
    elapsed = time.monotonic() - began

    report = await check(conn, workflows, llm.calls, finished)
    await conn.close()
    kills = fleet.kills
    driver = sum(n for cause, n in kills.items() if cause in ("random", "during an LLM call"))
    summary = [
        (
            "kills",
            driver + kills["self-kill"],
            f"{driver} by the driver ({kills['random']} random, "
            f"{kills['during an LLM call']} during an LLM call), {kills['self-kill']} self-kills "
            "after a result was stored",
        ),
        ("worker crashes", kills["crashed"] + fleet.failed_starts, "exits other than SIGKILL"),
    ]
    if not settled:
        report.fail(f"workflows still unfinished after {args.timeout:.0f} s")
    if kills["crashed"] or fleet.failed_starts:
        report.fail("worker processes crashed or failed to start", [str(logs)])
    report.figures[:0] = [(label, str(value), note) for label, value, note in summary]
    report.add("elapsed", f"{elapsed:.1f}", "seconds")

    header = (
        f"Baton crash suite: seed {args.seed}, {args.workers} workers, {args.workflows} "
        f"workflows, {args.kills} kills requested, crash-after-store {args.crash_after_store}"
    )
    text = f"{header}\n{report.render()}\nlogs: {logs}"
    print(text, flush=True)
    (logs / "summary.txt").write_text(text + "\n")
    with (logs / "llm_calls.jsonl").open("w") as log:
        for call in llm.calls:
            log.write(json.dumps(call.as_json()) + "\n")
    return 1 if report.failures else 0


async def all_counted(finished: Counter[str], ids: list[str]) -> bool:
    return all(finished[workflow_id] for workflow_id in ids)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    logging.getLogger("baton").setLevel(logging.WARNING)
    args = parse_args(argv)
    with private_database(CHAOS_DATABASE, args.dsn) as dsn:
        args.dsn = dsn
        code = asyncio.run(run(args))
    sys.exit(code)


if __name__ == "__main__":
    main()
