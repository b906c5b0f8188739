"""Workers and an inserting process for the flow-control tests across processes
(``test_multiprocess_flow.py``); worker_proc imports this module with ``--import``.

Run as a module, it is one of several processes racing to insert workflows with the same
unique keys::

    python -m tests.support.flow_steps --dsn URL --rounds 8 --start-at EPOCH

Round ``r`` begins at ``EPOCH + r * ROUND_GAP`` in every process (one shared moment, so the
inserts collide); each inserts a workflow keyed ``race:<r>`` and prints one JSON line per
round: ``{"round": r, "won": id}`` or ``{"round": r, "duplicate": holder_id, "mine": id}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from typing import Any

from oban import Job, Oban

import baton
from baton import Workflow
from baton.errors import DuplicateWorkflow

#: Seconds between two rounds of inserts.
ROUND_GAP = 0.25
#: A queue no process serves: the winners stay unfinished, holding their keys.
UNSERVED = "flow-unserved"


@baton.worker(queue="default", max_attempts=1)
class Racer:
    """Works for a random 0-``spread`` seconds, then returns; raced against a deadline."""

    async def perform_workflow(self, job: Job) -> Any:
        await asyncio.sleep(random.uniform(0, float(job.args["spread"])))  # noqa: S311
        return {"done": job.args["n"]}


@baton.worker(queue="default", max_attempts=1, interruptible=False)
class RacerOptedOut:
    """As Racer, but not interrupted: it may complete after the deadline."""

    async def perform_workflow(self, job: Job) -> Any:
        await asyncio.sleep(random.uniform(0, float(job.args["spread"])))  # noqa: S311
        return {"done": job.args["n"]}


@baton.worker(queue=UNSERVED)
class Held:
    async def perform_workflow(self, job: Job) -> Any:
        return None


async def insert_rounds(dsn: str, rounds: int, start_at: float) -> None:
    pool = await Oban.create_pool(dsn, min_size=1, max_size=2)
    try:
        oban = Oban(pool=pool, leadership=False)
        for round_ in range(rounds):
            await asyncio.sleep(max(0.0, start_at + round_ * ROUND_GAP - time.time()))
            wf = Workflow(name="race", unique_key=f"race:{round_}").add("a", Held.new())
            try:
                await wf.insert(oban=oban)
                line: dict[str, Any] = {"round": round_, "won": wf.id}
            except DuplicateWorkflow as error:
                line = {"round": round_, "duplicate": error.workflow_id, "mine": wf.id}
            print(json.dumps(line), flush=True)
    finally:
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="flow_steps")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--start-at", type=float, required=True)
    args = parser.parse_args()
    asyncio.run(insert_rounds(args.dsn, args.rounds, args.start_at))
