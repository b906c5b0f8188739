"""Workers that stream partial output with ``baton.stream``, for the streaming tests."""

from __future__ import annotations

import asyncio
from typing import Any

import oban

import baton
from baton.errors import InvalidOption, NotAWorkflowStep

#: Jobs of steps that kept a reference to their job after returning.
KEPT: list[Any] = []
#: What a plain Oban job got from baton.stream.
PLAIN_ERRORS: list[str] = []


@baton.worker(queue="default", max_attempts=1)
class Streams:
    """Streams each of its ``chunks``, or one ``size``-long run of ``char``."""

    async def perform_workflow(self, job: Any) -> Any:
        chunks = job.args.get("chunks") or [job.args["char"] * job.args["size"]]
        for chunk in chunks:
            await baton.stream(job, chunk)
        return {"streamed": sum(len(chunk) for chunk in chunks)}


@baton.worker(queue="default", max_attempts=1)
class KeepsItsJob:
    """Streams once and keeps its job, to stream again after it finished."""

    async def perform_workflow(self, job: Any) -> Any:
        await baton.stream(job, "while running")
        KEPT.append(job)


@baton.worker(queue="default", max_attempts=1)
class StreamsNotText:
    async def perform_workflow(self, job: Any) -> Any:
        try:
            await baton.stream(job, 42)
        except InvalidOption as error:
            return str(error)
        raise AssertionError("baton.stream took a number")


@oban.worker(queue="default", max_attempts=1)
class PlainStreams:
    """A plain Oban job (not a workflow step) that tries to stream."""

    async def process(self, job: Any) -> None:
        try:
            await baton.stream(job, "hello")
        except NotAWorkflowStep as error:
            PLAIN_ERRORS.append(str(error))


#: Per workflow id: set to let ``GatedStreams`` start streaming (the viewer is ready).
GATES: dict[str, asyncio.Event] = {}


@baton.worker(queue="default", max_attempts=1)
class GatedStreams:
    """Waits for its workflow's gate, then streams its ``chunks``."""

    async def perform_workflow(self, job: Any) -> Any:
        await GATES[job.meta["workflow_id"]].wait()
        for chunk in job.args["chunks"]:
            await baton.stream(job, chunk)
        return "done"
