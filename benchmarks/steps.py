"""The no-op workers the benchmark runs: Baton steps and plain Oban jobs.

Imported by the driver (to build jobs) and by ``benchmarks.worker`` (to run them). A step with
``"r"`` (a run label) in its args records ``(run, index, start, end)`` — ``time.time()``
when its own code starts and ends — in this process's memory; the driver collects the
records over the worker's stdin/stdout (``DUMP``), so recording adds no database write
to the path being measured.
"""

from __future__ import annotations

import time
from typing import Any

import oban
from oban import Job

import baton

QUEUE = "default"

#: ``(run, index, start, end)`` of every recording step run in this process since the
#: last ``take_records()``.
_records: list[tuple[str, int, float, float]] = []


def take_records() -> list[tuple[str, int, float, float]]:
    """Hand over the records collected so far and start a new list."""
    global _records
    taken, _records = _records, []
    return taken


def _record(args: dict[str, Any], start: float) -> None:
    if "r" in args:
        _records.append((args["r"], args.get("i", 0), start, time.time()))


@baton.worker(queue=QUEUE)
class Step:
    """A Baton step that does nothing but record its start and end, and return its index
    (a dependent can read it; Celery's tasks return their timestamps).

    With ``"read": "<group or step>"`` in its args it first reads that dep's results (the
    join of a fan-in reads its group's, as a Celery chord body receives its header's).
    """

    async def perform_workflow(self, job: Job) -> Any:
        start = time.time()
        if "read" in job.args:
            await baton.get_result(job, job.args["read"])
        _record(job.args, start)
        return job.args.get("i", 0)


@baton.worker(queue=QUEUE)
class Expand:
    """A Baton step that adds ``"n"`` recording ``Step``s to its workflow at run time.

    It returns its index with ``Complete(add={"fan": [...]})``: the members are stored as
    ``<this step>/fan[0]``, ``/fan[1]``…, carry this step's run label, and every step that
    depends on this one waits for them. The recorded end is taken once the members are
    built, before Baton validates them and writes them with the result (that write
    happens after ``perform_workflow`` returns, so it is not in this step's record).
    """

    async def perform_workflow(self, job: Job) -> Any:
        start = time.time()
        args = job.args
        label = {"r": args["r"]} if "r" in args else {}
        members = [Step.new({**label, "i": k}) for k in range(args["n"])]
        _record(args, start)
        return baton.Complete(args.get("i", 0), add={"fan": members})


@baton.worker(queue=QUEUE)
class Keep:
    """A Baton step that returns a small result (the memory run stores and reads results)."""

    async def perform_workflow(self, job: Job) -> Any:
        if "read" in job.args:
            await baton.get_result(job, job.args["read"])
        return {"i": job.args.get("i", 0)}


@oban.worker(queue=QUEUE)
class Plain:
    """A plain Oban job. With ``"n"`` in its args it is a link of a chain: once its own work
    is done (the recorded end), it enqueues link ``i + 1`` until ``n`` links ran.
    """

    async def process(self, job: Job) -> Any:
        start = time.time()
        args = job.args
        _record(args, start)
        if "n" in args and args["i"] + 1 < args["n"]:
            await Plain.enqueue({**args, "i": args["i"] + 1})
        return None


#: The rate limit ``Limited`` steps are admitted by; the benchmark sets it far above
#: anything it runs, so the steps never wait: what is measured is the admission's cost.
LIMIT_KEY = "bench-limit"
USAGE = {"model": "gpt-4o-mini", "input_tokens": 40, "output_tokens": 10}


@baton.worker(queue=QUEUE)
class Reporting:
    """A Baton step that reports ``llm_usage``: the baseline of ``Limited``."""

    async def perform_workflow(self, job: Job) -> Any:
        return {"i": job.args.get("i", 0), "llm_usage": USAGE}


@baton.worker(queue=QUEUE, limit=LIMIT_KEY)
class Limited:
    """``Reporting`` under the rate limit ``LIMIT_KEY``: admitted before it runs, charged an
    estimate, the estimate corrected by its usage after (the whole limiter's path)."""

    def estimate_tokens(self, _job: Job) -> int:
        return 100

    async def perform_workflow(self, job: Job) -> Any:
        return {"i": job.args.get("i", 0), "llm_usage": USAGE}
