"""Workers used by the tests. Importable by worker subprocesses too."""

from __future__ import annotations

from typing import Any

import oban

import baton


@baton.worker(queue="default", max_attempts=3)
class Echo:
    """Returns its ``value`` arg, or a summary of its deps' results when it has none."""

    async def perform_workflow(self, job: Any) -> Any:
        if "value" in job.args:
            return job.args["value"]
        return await baton.get_all_results(job)


@baton.worker(queue="other")
class Other:
    async def perform_workflow(self, job: Any) -> Any:
        return job.args.get("value")


@baton.worker(queue="default", max_attempts=2)
class Outcome:
    """Returns exactly what its ``outcome`` arg names."""

    async def perform_workflow(self, job: Any) -> Any:
        match job.args["outcome"]:
            case "none":
                return None
            case "raise":
                raise RuntimeError("boom")
            case "error":
                return baton.Error("rate limited")
            case "discard":
                return baton.Discard("bad input")
            case "cancel":
                return baton.Cancel("not needed")
            case "snooze":
                return baton.Snooze(60)
            case "unjson":
                return {"when": {1, 2}}
            case "huge":
                return "x" * 2_000_000
            case "scalar":
                return 42
            case "list":
                return [1, "two", None]
        raise AssertionError(job.args)


CALLBACKS: list[tuple[str, str]] = []


@baton.worker(queue="default")
class Watcher:
    """Records its dep callbacks."""

    async def perform_workflow(self, job: Any) -> Any:
        return "ran"

    async def on_dep_cancelled(self, reason: str, job: Any) -> None:
        CALLBACKS.append(("cancelled", reason))

    def on_dep_discarded(self, reason: str, job: Any) -> None:
        CALLBACKS.append(("discarded", reason))


@oban.worker(queue="default")
class PlainOban:
    """A plain Oban worker used as a step."""

    async def process(self, job: Any) -> None:
        return None
