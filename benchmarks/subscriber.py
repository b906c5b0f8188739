"""An event subscriber in its own process, for the event-latency run.

    python -m benchmarks.subscriber --dsn URL --workflows ID1,ID2,...
    python -m benchmarks.subscriber --dsn URL --count N

It subscribes to ``workflow:all`` with ``baton.subscribe(dsn=...)`` (no Oban instance),
prints ``READY`` once the LISTEN is in place, notes ``time.time()`` as each event arrives,
and once every listed workflow has sent its ``WorkflowFinished`` prints one JSON line —
a list of ``[received, kind, workflow_id, step, state, at]`` (``at``: the event's own
timestamp, taken by the database in the worker's transaction, as epoch seconds) — then
exits 0. With ``--count N`` it records nothing but counts the events it receives by kind
until ``N`` workflows have finished, then prints ``{"step": ..., "workflow": ...,
"reconnected": ...}``: the throughput run with a ``workflow:all`` subscriber attached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import baton


async def follow(dsn: str, workflows: set[str]) -> list[list[object]]:
    seen: list[list[object]] = []
    waiting = set(workflows)
    async with baton.subscribe(dsn=dsn) as events:
        print("READY", flush=True)
        async for event in events:
            received = time.time()
            match event:
                case baton.StepEvent():
                    seen.append(
                        [
                            received,
                            "step",
                            event.workflow_id,
                            event.step,
                            event.state,
                            event.at.timestamp(),
                        ]
                    )
                case baton.WorkflowFinished():
                    seen.append(
                        [
                            received,
                            "workflow",
                            event.workflow_id,
                            None,
                            event.outcome,
                            event.at.timestamp(),
                        ]
                    )
                    waiting.discard(event.workflow_id)
                    if not waiting:
                        return seen
                case _:
                    seen.append([received, "reconnected", None, None, None, None])
    return seen


async def count(dsn: str, finished: int) -> dict[str, int]:
    counts = {"step": 0, "workflow": 0, "reconnected": 0, "added": 0}
    # a buffer for every event of the run: a reader slowed by the machine must not drop any
    async with baton.subscribe(dsn=dsn, maxsize=3 * finished + 100) as events:
        print("READY", flush=True)
        async for event in events:
            match event:
                case baton.StepEvent():
                    counts["step"] += 1
                case baton.WorkflowFinished():
                    counts["workflow"] += 1
                    if counts["workflow"] >= finished:
                        return counts
                case baton.Reconnected():
                    counts["reconnected"] += 1
                case _:
                    counts["added"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.subscriber", description=__doc__)
    parser.add_argument("--dsn", required=True)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--workflows", help="comma-separated workflow ids")
    which.add_argument("--count", type=int, help="count events until N workflows finished")
    args = parser.parse_args(argv)
    if args.count is not None:
        result: object = asyncio.run(count(args.dsn, args.count))
    else:
        result = asyncio.run(follow(args.dsn, set(args.workflows.split(","))))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
