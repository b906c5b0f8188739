"""Baton's live web view inside a FastAPI app.

``POST /briefs`` starts a research-brief workflow (fetch → three analyses in parallel →
compile) and redirects the browser to its page under ``/baton``, where the graph fills in
as the steps run, streamed over Server-Sent Events. Run from this folder, in a virtual
environment of its own::

    python -m venv .venv && . .venv/bin/activate
    pip install -e '../..[example]'
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres uvicorn app:app

This app runs the workflow's queues in-process, which suits a demo. In production the
web app inserts only (an Oban instance with no queues and ``leadership=False``) and
``baton start`` runs the workers: see docs/deployment.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from oban import Oban

import baton
from baton.web import create_app

ASPECTS = ("sentiment", "entities", "summary")


async def think(low: float, high: float) -> None:
    await asyncio.sleep(random.uniform(low, high))  # noqa: S311 - simulated latency


@baton.worker(queue="example")
class Fetch:
    async def perform_workflow(self, job: Any) -> dict[str, str]:
        await think(0.5, 1.0)
        topic = job.args["topic"]
        return {"topic": topic, "text": f"Notes on {topic}: fast, durable, event-driven."}


@baton.llm_worker(queue="example_llm", timeout=30)
class Analyze:
    async def perform_workflow(self, job: Any) -> dict[str, Any]:
        document = await baton.get_result(job, "fetch")
        await think(1.0, 2.5)  # a pretend LLM call
        aspect = job.args["aspect"]
        return {
            "finding": f"{aspect} of a text about {document['topic']}",
            "llm_usage": {
                "model": "gpt-4o-mini",
                "input_tokens": random.randint(800, 1600),  # noqa: S311
                "output_tokens": random.randint(60, 200),  # noqa: S311
            },
        }


@baton.worker(queue="example")
class Compile:
    async def perform_workflow(self, job: Any) -> dict[str, list[str]]:
        results = await baton.get_all_results(job)
        await think(0.3, 0.6)
        return {"brief": [results[aspect]["finding"] for aspect in ASPECTS]}


def research_brief(topic: str) -> baton.Workflow:
    workflow = baton.Workflow(name=f"brief: {topic}").add("fetch", Fetch.new({"topic": topic}))
    for aspect in ASPECTS:
        workflow.add(aspect, Analyze.new({"aspect": aspect}), deps=["fetch"])
    return workflow.add("compile", Compile.new(), deps=list(ASPECTS))


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        raise SystemExit(
            "set DATABASE_URL to a PostgreSQL database, for example "
            "DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres uvicorn app:app"
        )
    async with AsyncExitStack() as stack:
        pool = await Oban.create_pool(dsn)
        stack.push_async_callback(pool.close)
        await baton.install(pool)  # idempotent
        await stack.enter_async_context(Oban(pool=pool, queues={"example": 10, "example_llm": 5}))
        yield


app = FastAPI(title="Baton example", lifespan=lifespan)
# The web view: pages, JSON, and the SSE streams, all under /baton.
app.mount("/baton", create_app(oban="Oban"))

FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Baton example</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>Research brief</h1>
<form method="post" action="/briefs">
  <label>Topic <input name="topic" value="Baton" required></label>
  <button type="submit">Start the workflow</button>
</form>
<p>Started workflows: <a href="/baton/">the live list</a>.</p>
</body></html>
"""


@app.get("/", response_class=HTMLResponse)
async def index() -> str:
    return FORM


def cross_site(request: Request) -> bool:
    """Whether a POST may come from another site's page (which could start paid work).

    Browsers send ``Origin`` with every form POST: it must name this host. Without it,
    only JSON is taken, which a page on another site cannot send without asking first.
    """
    origin = request.headers.get("origin")
    if origin is not None:
        return urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()
    return not request.headers.get("content-type", "").startswith("application/json")


@app.post("/briefs")
async def start_brief(request: Request) -> Response:
    """Insert a workflow; browsers go to its live page, API clients get its URLs."""
    if cross_site(request):
        return JSONResponse({"error": "cross-site request refused"}, status_code=403)
    raw = (await request.body()).decode()
    if request.headers.get("content-type", "").startswith("application/json"):
        topic = str(json.loads(raw or "{}").get("topic") or "Baton")
    else:
        topic = parse_qs(raw).get("topic", ["Baton"])[0].strip() or "Baton"
    workflow = research_brief(topic[:80])
    await workflow.insert()
    page = f"/baton/workflows/{quote(workflow.id, safe='')}"
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            {
                "id": workflow.id,
                "page": page,
                "events": f"/baton/api/workflows/{quote(workflow.id, safe='')}/events",
                "topic": topic,
            },
            status_code=201,
        )
    return RedirectResponse(page, status_code=303)
