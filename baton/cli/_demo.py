"""``baton demo``: a research-brief workflow with simulated LLM latency.

fetch → (sentiment, entities, summary in parallel) → compile. The demo runs its workers
in-process on its own queues, so pointing it at a shared database runs nothing else.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any, cast

import click
from oban import Job, Oban, Worker

from .. import store
from .._database import embedded_postgres
from .._events import Reconnected, StepEvent, Subscription, WorkflowFinished, subscribe
from .._results import get_all_results, get_result
from .._schema import install
from .._worker import worker
from ..errors import BatonError
from ..workflow import Workflow
from ._connection import parsed
from ._exits import run_or_exit
from ._options import DSN

QUEUES: dict[str, int | dict[str, Any]] = {"baton_demo": 5, "baton_demo_llm": 3}
ASPECTS = ("sentiment", "entities", "summary")


async def _think(low: float, high: float) -> None:
    await asyncio.sleep(random.uniform(low, high))  # noqa: S311 - simulated latency


@worker(queue="baton_demo", oban="baton-demo")
class Fetch:
    """Pretends to download a document."""

    async def perform_workflow(self, job: Job) -> dict[str, Any]:
        await _think(0.1, 0.2)
        topic = job.args["topic"]
        return {"topic": topic, "text": f"Notes on {topic}: fast, durable, event-driven."}


@worker(queue="baton_demo_llm", oban="baton-demo")
class Analyze:
    """Pretends to ask an LLM for one aspect of the document."""

    async def perform_workflow(self, job: Job) -> dict[str, Any]:
        document = await get_result(job, "fetch")
        await _think(0.3, 0.7)
        aspect = job.args["aspect"]
        words = len(document["text"].split())
        return {
            "aspect": aspect,
            "finding": f"{aspect} of a {words}-word text about {document['topic']}",
        }


@worker(queue="baton_demo", oban="baton-demo")
class Compile:
    """Joins the analyses into a brief."""

    async def perform_workflow(self, job: Job) -> dict[str, Any]:
        results = await get_all_results(job)
        await _think(0.1, 0.2)
        return {"brief": [results[aspect]["finding"] for aspect in ASPECTS]}


def _job(step: type, args: dict[str, Any] | None = None) -> Job:
    """``step.new(args)``, typed: mypy does not apply a class decorator's return type."""
    return cast("type[Worker]", step).new(args)


def research_brief(topic: str) -> Workflow:
    """The demo's workflow."""
    workflow = Workflow(name="research-brief").add("fetch", _job(Fetch, {"topic": topic}))
    for aspect in ASPECTS:
        workflow.add(aspect, _job(Analyze, {"aspect": aspect}), deps=["fetch"])
    return workflow.add("compile", _job(Compile), deps=list(ASPECTS))


async def _follow(events: Subscription, say: Callable[[str], None]) -> WorkflowFinished:
    """Print each step event until the workflow's finished event arrives."""
    started = time.monotonic()
    async for event in events:
        elapsed = time.monotonic() - started
        match event:
            case StepEvent(step=step, state=state, attempt=attempt):
                say(f"  {elapsed:6.2f}s  {step:<10} {state:<10} attempt {attempt}")
            case WorkflowFinished():
                return event
            case Reconnected():
                say("  (event connection lost and restored; some events were missed)")
    raise RuntimeError("event stream ended")  # pragma: no cover - the stream never ends


async def run(dsn: str, say: Callable[[str], None], topic: str = "Baton") -> bool:
    """Install the schema, run the research brief, print transitions; True if completed."""
    pool = await Oban.create_pool(dsn, min_size=1, max_size=6)
    try:
        await install(pool)
        async with Oban(name="baton-demo", pool=pool, queues=QUEUES) as oban:
            workflow = research_brief(topic)
            async with subscribe(workflow.id, oban=oban) as events:
                await workflow.insert(oban=oban)
                say(f"workflow {workflow.name} ({workflow.id}): {len(workflow.steps)} steps")
                finished = await asyncio.wait_for(_follow(events, say), timeout=60)
            if finished.outcome != "completed":
                say(f"the workflow failed: {', '.join(finished.failed_steps)}")
                return False
            found = await store.step_result(oban, workflow.id, "compile")
            value = found.value if found else None
            brief = value["brief"] if value else []
            say(f"finished in {finished.duration_ms} ms; result of compile:")
            for line in brief:
                say(f"  - {line}")
            return bool(brief)
    finally:
        await pool.close()


@click.command()
@DSN
@click.option("--topic", default="Baton", show_default=True, help="What the brief is about.")
def demo(dsn: str | None, topic: str) -> None:
    """Run a sample research-brief workflow and print its steps as they change.

    Uses --dsn or DATABASE_URL when given; otherwise starts an embedded PostgreSQL in a
    temporary directory and deletes it afterwards.
    """
    url = dsn or os.environ.get("DATABASE_URL")
    if url:
        origin = "--dsn" if dsn else "DATABASE_URL"
        click.echo(f"Using the database from {origin}")
        completed = run_or_exit(run(parsed(url, origin), click.echo, topic))
    else:
        try:
            server = embedded_postgres("baton-demo")
        except BatonError as error:
            raise click.ClickException(str(error)) from None
        click.echo("No DATABASE_URL: starting an embedded PostgreSQL…")
        with server as url:
            completed = run_or_exit(run(url, click.echo, topic))
    sys.exit(0 if completed else 1)
