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


CALLS: list[int] = []


@baton.worker(queue="default", max_attempts=3)
class Counted:
    """Records each call of perform_workflow (by job id) and returns its ``value`` arg."""

    async def perform_workflow(self, job: Any) -> Any:
        CALLS.append(job.id)
        return job.args.get("value")


@baton.worker(queue="default")
class Reader:
    """Reads results as its ``read`` arg says and returns what it got (or the error)."""

    async def perform_workflow(self, job: Any) -> Any:
        try:
            match job.args["read"]:
                case "one":
                    return {"got": await baton.get_result(job, job.args["dep"])}
                case "all":
                    return {"got": await baton.get_all_results(job)}
                case "own":
                    return {"got": await baton.get_own_result(job)}
        except baton.errors.BatonError as error:
            return {"error": type(error).__name__, "message": str(error)}
        raise AssertionError(job.args)


PLAIN_READS: list[str] = []


@baton.worker(queue="default")
class PlainReader:
    """Enqueued outside a workflow: records what reading a result raises."""

    async def perform_workflow(self, job: Any) -> Any:
        try:
            await baton.get_result(job, "anything")
        except baton.errors.BatonError as error:
            PLAIN_READS.append(type(error).__name__)
        return job.args.get("value")


ALT_INSTANCE = "baton_alt"


@baton.worker(queue="default", oban=ALT_INSTANCE)
class AltEcho:
    """Belongs to the Oban instance named ``baton_alt`` (tables in schema baton_alt)."""

    async def perform_workflow(self, job: Any) -> Any:
        if "value" in job.args:
            return job.args["value"]
        return await baton.get_all_results(job)


@baton.worker(queue="default", max_attempts=3, result_limit=64)
class Returns:
    """Returns a value built from its args; stores at most 64 bytes of JSON."""

    async def perform_workflow(self, job: Any) -> Any:
        match job.args["kind"]:
            case "sized":  # {"value": "xxx…"} is 13 bytes plus the string
                return "x" * job.args["length"]
            case "nul":
                return "a\x00b"
            case "nan":
                return float("nan")
        raise AssertionError(job.args)


@baton.worker(queue="default")
class GrumpyWatcher:
    """Its dep callbacks raise; the step must be cancelled all the same."""

    async def perform_workflow(self, job: Any) -> Any:
        return "ran"

    async def on_dep_cancelled(self, reason: str, job: Any) -> None:
        CALLBACKS.append(("grumpy", reason))
        raise RuntimeError("callback failed")
