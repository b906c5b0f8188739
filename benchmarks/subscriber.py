"""An event subscriber in its own process, for the event-latency run.

    python -m benchmarks.subscriber --dsn URL --workflows ID1,ID2,...

It subscribes to ``workflow:all`` with ``baton.subscribe(dsn=...)`` (no Oban instance),
prints ``READY`` once the LISTEN is in place, notes ``time.time()`` as each event arrives,
and once every listed workflow has sent its ``WorkflowFinished`` prints one JSON line —
a list of ``[received, kind, workflow_id, step, state, at]`` (``at``: the event's own
timestamp, taken by the database in the worker's transaction, as epoch seconds) — then
exits 0.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.subscriber", description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--workflows", required=True, help="comma-separated workflow ids")
    args = parser.parse_args(argv)
    seen = asyncio.run(follow(args.dsn, set(args.workflows.split(","))))
    sys.stdout.write(json.dumps(seen) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
