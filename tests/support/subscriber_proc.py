"""A subscriber in its own process, for the cross-process event tests.

Run from the project root::

    python -m tests.support.subscriber_proc --dsn URL [--workflow ID]

It subscribes to ``workflow:<ID>`` (``workflow:all`` without ``--workflow``) with no Oban
instance and no queues, prints ``READY`` once the LISTEN is in place, then one JSON line
per event (its fields, plus ``type``: ``step`` or ``workflow``), and exits 0 after the
first ``WorkflowFinished``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys

import baton


async def follow(dsn: str, workflow_id: str | None) -> None:
    async with baton.subscribe(workflow_id, dsn=dsn) as events:
        print("READY", flush=True)
        async for event in events:
            if isinstance(event, baton.Reconnected):
                print(json.dumps({"type": "reconnected"}), flush=True)
                continue
            fields = dataclasses.asdict(event)
            fields["at"] = event.at.isoformat()
            kind = "step" if isinstance(event, baton.StepEvent) else "workflow"
            print(json.dumps({"type": kind, **fields}), flush=True)
            if isinstance(event, baton.WorkflowFinished):
                return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="subscriber_proc", description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--workflow", default=None)
    args = parser.parse_args(argv)
    asyncio.run(follow(args.dsn, args.workflow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
