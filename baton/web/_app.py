"""The Starlette application: pages, JSON API, Server-Sent Events, cancel and retry."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html import escape
from typing import Any

import anyio
import psycopg
from oban import Oban
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import __version__
from .._control import cancel, retry
from .._events import (
    Reconnected,
    StepEvent,
    StepsAdded,
    Subscription,
    WorkflowEvent,
    WorkflowFinished,
    subscribe,
)
from .._redact import redact
from ..errors import SchemaError, UnknownWorkflow, WorkflowError
from . import _data, _pages
from ._security import SecurityMiddleware, csrf_ok, new_csrf_token

RETRY_MS = 1_000  # how soon a browser reconnects a dropped stream
STREAM_QUEUE = 2_000  # events buffered per stream; past that, a fresh snapshot instead
LIST_INTERVAL = 1.0  # seconds between list snapshots while workflows change
NO_STORE = {"cache-control": "no-store"}


@dataclass(frozen=True, slots=True)
class Settings:
    source: _data.Source
    csrf: str
    title: str


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.baton
    return settings


def _base(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _is_api(request: Request) -> bool:
    base = _base(request)
    return request.url.path[len(base) :].startswith("/api/")


def _render(
    request: Request,
    title: str,
    content: str,
    *,
    status_code: int = 200,
    attrs: dict[str, str] | None = None,
) -> Response:
    settings = _settings(request)
    base = _base(request)
    body = _pages.page(
        title=title,
        content=content,
        base=base,
        static=f"{base}/static",
        csrf=settings.csrf,
        version=__version__,
        attrs={"base": base, **(attrs or {})},
    )
    return HTMLResponse(body, status_code=status_code, headers=NO_STORE)


def _list_params(request: Request) -> tuple[int, str | None]:
    raw_limit = request.query_params.get("limit", str(_data.DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= _data.MAX_LIMIT:
        raise HTTPException(400, f"limit must be a whole number from 1 to {_data.MAX_LIMIT}")
    state = request.query_params.get("state") or None
    if state is not None and state not in _data.WORKFLOW_STATES:
        raise HTTPException(400, f"state must be one of {', '.join(_data.WORKFLOW_STATES)}")
    return int(raw_limit), state


# --- pages ---------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    limit, state = _list_params(request)
    listing = await _data.list_workflows(_settings(request).source, limit=limit, state=state)
    content = _pages.list_content(_base(request), listing)
    attrs = {"page": "list", "limit": str(limit), "state": state or ""}
    return _render(request, f"Workflows · {_settings(request).title}", content, attrs=attrs)


async def workflow_page(request: Request) -> Response:
    workflow_id = request.path_params["workflow_id"]
    detail = await _data.workflow_detail(_settings(request).source, workflow_id)
    content = _pages.workflow_content(_base(request), detail)
    title = f"{detail['name'] or detail['id']} · {_settings(request).title}"
    return _render(request, title, content, attrs={"page": "workflow", "workflow": workflow_id})


# --- JSON ----------------------------------------------------------------------------------


async def api_list(request: Request) -> Response:
    limit, state = _list_params(request)
    listing = await _data.list_workflows(_settings(request).source, limit=limit, state=state)
    return JSONResponse(listing, headers=NO_STORE)


async def api_detail(request: Request) -> Response:
    workflow_id: str = request.path_params["workflow_id"]
    try:
        detail = await _data.workflow_detail(_settings(request).source, workflow_id)
    except UnknownWorkflow:
        if workflow_id.endswith(("/cancel", "/retry")):  # a GET of an action
            raise HTTPException(405, "use POST", headers={"allow": "POST"}) from None
        raise
    return JSONResponse(detail, headers=NO_STORE)


def _refused() -> Response:
    return JSONResponse(
        {
            "error": "cross-site request refused: POST from this app's own pages, with its "
            "X-Baton-CSRF header"
        },
        status_code=403,
    )


async def api_cancel(request: Request) -> Response:
    settings = _settings(request)
    if not csrf_ok(request, settings.csrf):
        return _refused()
    workflow_id = request.path_params["workflow_id"]
    count = await cancel(workflow_id, oban=await settings.source.oban())
    return JSONResponse({"workflow_id": workflow_id, "cancelled_jobs": count})


async def api_retry(request: Request) -> Response:
    settings = _settings(request)
    if not csrf_ok(request, settings.csrf):
        return _refused()
    workflow_id = request.path_params["workflow_id"]
    try:
        steps = await retry(workflow_id, oban=await settings.source.oban())
    except WorkflowError as error:
        return JSONResponse({"error": str(error)}, status_code=409)
    return JSONResponse({"workflow_id": workflow_id, "retried_steps": steps})


# --- Server-Sent Events --------------------------------------------------------------------


def _event_data(event: WorkflowEvent) -> tuple[str, dict[str, Any]]:
    """The SSE event name and JSON data of a workflow's event."""
    head = {"workflow_id": event.workflow_id, "workflow_name": event.workflow_name}
    match event:
        case StepEvent():
            return "step", {
                **head,
                "step": event.step,
                "worker": event.worker,
                "state": event.state,
                "job_id": event.job_id,
                "attempt": event.attempt,
                "result_stored": event.result_stored,
                "cached": event.cached,
                "error": event.error,
                "at": event.at.isoformat(),
            }
        case StepsAdded():
            return "added", {
                **head,
                "step": event.step,
                "count": event.count,
                "steps": list(event.steps),
                "at": event.at.isoformat(),
            }
        case WorkflowFinished():
            return "finished", {
                **head,
                "outcome": event.outcome,
                "failed_steps": list(event.failed_steps),
                "failed_count": event.failed_count,
                "duration_ms": event.duration_ms,
                "at": event.at.isoformat(),
            }


async def _stream(
    events: Subscription,
    snapshot: Callable[[], Awaitable[dict[str, Any]]],
    interval: Callable[[dict[str, Any]], float],
    forward: Callable[[WorkflowEvent], bool],
    stop: anyio.Event,
    refresh: Callable[[WorkflowEvent], bool] = lambda _event: False,
) -> AsyncIterator[ServerSentEvent]:
    """A ``snapshot`` first, then events, with a fresh snapshot ``interval`` after changes.

    The caller subscribed before calling, so nothing is missed between the snapshot and
    the events. A lost listener (``Reconnected``) or dropped events give a fresh snapshot
    at once, and so does an event ``refresh`` picks (after it is forwarded): steps added
    at run time, say, which no earlier snapshot holds. A client that reconnects (with or
    without ``Last-Event-ID``) opens a new stream, which starts with a fresh snapshot:
    that is how a stream resumes. The stream ends cleanly when the server shuts down
    (``stop``).
    """
    ids = itertools.count(1)
    loop = asyncio.get_running_loop()
    data = await snapshot()
    yield ServerSentEvent(json.dumps(data), event="snapshot", id=str(next(ids)), retry=RETRY_MS)
    dropped = events.dropped
    due: float | None = None
    stopping = asyncio.ensure_future(stop.wait())
    reading: asyncio.Future[Any] | None = None
    try:
        while True:
            if reading is None:
                reading = asyncio.ensure_future(anext(events))
            timeout = None if due is None else max(0.0, due - loop.time())
            done, _ = await asyncio.wait(
                {reading, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if stopping in done:
                return
            event: Any = None
            if reading in done:
                event, reading = reading.result(), None
            if event is None or isinstance(event, Reconnected) or events.dropped != dropped:
                dropped, due = events.dropped, None
                data = await snapshot()
                yield ServerSentEvent(json.dumps(data), event="snapshot", id=str(next(ids)))
                continue
            if forward(event):
                kind, payload = _event_data(event)
                yield ServerSentEvent(json.dumps(payload), event=kind, id=str(next(ids)))
            if refresh(event):
                due = None
                data = await snapshot()
                yield ServerSentEvent(json.dumps(data), event="snapshot", id=str(next(ids)))
                continue
            if due is None:
                due = loop.time() + interval(data)
    finally:
        for task in (reading, stopping):
            if task is not None:
                task.cancel()


def _event_source(content: Callable[[anyio.Event], AsyncIterator[ServerSentEvent]]) -> Response:
    stop = anyio.Event()
    return EventSourceResponse(
        content(stop), headers=NO_STORE, shutdown_event=stop, shutdown_grace_period=2
    )


async def api_workflow_events(request: Request) -> Response:
    source = _settings(request).source
    workflow_id = request.path_params["workflow_id"]
    await _data.check_exists(source, workflow_id)  # 404 before the stream starts

    async def events(stop: anyio.Event) -> AsyncIterator[ServerSentEvent]:
        async with subscribe(
            workflow_id, maxsize=STREAM_QUEUE, **source.subscribe_options()
        ) as subscription:
            try:
                async for message in _stream(
                    subscription,
                    lambda: _data.workflow_detail(source, workflow_id),
                    lambda data: max(0.5, min(10.0, len(data["steps"]) / 1000)),
                    lambda _event: True,
                    stop,
                    refresh=lambda event: isinstance(event, StepsAdded),
                ):
                    yield message
            except UnknownWorkflow as error:  # deleted while followed: say so and end
                yield ServerSentEvent(json.dumps({"error": str(error)}), event="gone")

    return _event_source(events)


async def api_list_events(request: Request) -> Response:
    source = _settings(request).source
    limit, state = _list_params(request)

    async def events(stop: anyio.Event) -> AsyncIterator[ServerSentEvent]:
        async with subscribe(maxsize=STREAM_QUEUE, **source.subscribe_options()) as subscription:
            async for message in _stream(
                subscription,
                lambda: _data.list_workflows(source, limit=limit, state=state),
                lambda _data: LIST_INTERVAL,
                lambda event: isinstance(event, WorkflowFinished),
                stop,
            ):
                yield message

    return _event_source(events)


# --- errors --------------------------------------------------------------------------------


def _failure(request: Request, status_code: int, message: str) -> Response:
    if _is_api(request):
        return JSONResponse({"error": message}, status_code=status_code, headers=NO_STORE)
    content = f'<h1>{status_code}</h1><p class="failure">{escape(message)}</p>'
    return _render(request, f"{status_code} · Baton", content, status_code=status_code)


async def _unknown(request: Request, error: Exception) -> Response:
    return _failure(request, 404, str(error))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)  # noqa: S101
    response = _failure(request, error.status_code, error.detail)
    response.headers.update(error.headers or {})
    return response


async def _no_tables(request: Request, error: Exception) -> Response:
    return _failure(
        request, 503, "Baton's tables are missing from this database: run `baton install`"
    )


async def _no_database(request: Request, error: Exception) -> Response:
    first = (redact(str(error)).strip().splitlines() or [type(error).__name__])[0]
    return _failure(request, 503, f"cannot reach the database: {first}")


def build(
    *,
    oban: Oban | str | None,
    dsn: str | None,
    prefix: str,
    token: str | None,
    csrf_secret: str | None,
    title: str,
) -> Starlette:
    """The application; see :func:`baton.web.create_app`."""
    source = _data.Source(oban, dsn, prefix)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await source.close()

    workflow = "/api/workflows/{workflow_id:path}"
    app = Starlette(
        routes=[
            Route("/", home, name="home"),
            Route("/workflows/{workflow_id:path}", workflow_page, name="workflow"),
            Route("/api/workflows", api_list, name="api_workflows"),
            Route("/api/events", api_list_events, name="api_events"),
            Route(f"{workflow}/events", api_workflow_events, name="api_workflow_events"),
            Route(f"{workflow}/cancel", api_cancel, methods=["POST"], name="api_cancel"),
            Route(f"{workflow}/retry", api_retry, methods=["POST"], name="api_retry"),
            Route(workflow, api_detail, name="api_workflow"),
            Mount("/static", StaticFiles(packages=[("baton.web", "static")]), name="static"),
        ],
        middleware=[Middleware(SecurityMiddleware, token=token)],
        exception_handlers={
            UnknownWorkflow: _unknown,
            HTTPException: _http_error,
            SchemaError: _no_tables,
            psycopg.OperationalError: _no_database,
        },
        lifespan=lifespan,
    )
    app.state.baton = Settings(
        source=source, csrf=new_csrf_token(csrf_secret or token), title=title
    )
    return app
