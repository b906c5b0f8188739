"""``baton demo``: a research-brief workflow with simulated LLM latency.

fetch → (sentiment, entities, summary in parallel) → compile. The demo runs its workers
in-process on its own queues, so pointing it at a shared database runs nothing else.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any, cast

from oban import Job, Oban, Worker

from . import _steps
from ._results import get_all_results, get_result
from ._schema import install
from ._worker import worker
from ._workflow import Workflow

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


TERMINAL = frozenset({"completed", "cancelled", "discarded", "deleted"})


async def _watch(oban: Oban, workflow: Workflow, say: Callable[[str], None]) -> dict[str, str]:
    """Print each step's state changes until every step has settled."""
    seen: dict[str, str] = {}
    started = time.monotonic()
    while True:
        states = await _steps.workflow_states(oban, workflow.id)
        for name, state in states:
            if seen.get(name) != state:
                seen[name] = state
                say(f"  {time.monotonic() - started:6.2f}s  {name:<10} {state}")
        if states and all(state in TERMINAL for _, state in states):
            return seen
        await asyncio.sleep(0.02)


async def run(dsn: str, say: Callable[[str], None], topic: str = "Baton") -> bool:
    """Install the schema, run the research brief, print transitions; True if completed."""
    pool = await Oban.create_pool(dsn, min_size=1, max_size=6)
    try:
        await install(pool)
        async with Oban(name="baton-demo", pool=pool, queues=QUEUES) as oban:
            workflow = research_brief(topic)
            await workflow.insert(oban=oban)
            say(f"workflow {workflow.name} ({workflow.id}): {len(workflow.steps)} steps")
            states = await asyncio.wait_for(_watch(oban, workflow, say), timeout=60)
            if any(state != "completed" for state in states.values()):
                say(f"the workflow did not complete: {states}")
                return False
            found = await _steps.step_result(oban, workflow.id, "compile")
            brief = found[1]["brief"] if found and found[1] else []
            say("result of compile:")
            for line in brief:
                say(f"  - {line}")
            return bool(brief)
    finally:
        await pool.close()
