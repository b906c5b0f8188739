"""The Starlette application: pages, JSON API, Server-Sent Events, cancel and retry."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html import escape

import anyio
import psycopg
from oban import Oban
from sse_starlette import ServerSentEvent
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from .. import __version__
from .._control import cancel, retry
from .._events import StepsAdded, WorkflowFinished, subscribe
from .._redact import redact
from ..errors import SchemaError, UnknownWorkflow, WorkflowError
from . import _data, _limits_page, _pages, _usage
from ._security import HostPolicy, SecurityMiddleware, csrf_ok, new_csrf_token
from ._signals import signal_response
from ._streams import NO_STORE, event_source, stream

STREAM_QUEUE = 2_000  # events buffered per stream; past that, a fresh snapshot instead
LIST_INTERVAL = 1.0  # seconds between list snapshots while workflows change
LIMIT = re.compile(r"[0-9]{1,3}")  # ASCII digits only: "²".isdigit() is true


@dataclass(frozen=True, slots=True)
class Settings:
    source: _data.Source
    csrf: str
    title: str
    hosts: HostPolicy


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.baton
    return settings


def _base(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _is_api(request: Request) -> bool:
    base = _base(request)
    return request.url.path[len(base) :].startswith("/api/")


def _workflow_id(request: Request) -> str:
    """The id in the path; one holding NUL names no workflow (PostgreSQL stores none)."""
    workflow_id: str = request.path_params["workflow_id"]
    if "\x00" in workflow_id:
        raise UnknownWorkflow(f"no workflow with id {workflow_id!r:.200}")
    return workflow_id


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
    if not LIMIT.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= _data.MAX_LIMIT:
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
    workflow_id = _workflow_id(request)
    detail = await _data.workflow_detail(_settings(request).source, workflow_id)
    content = _pages.workflow_content(_base(request), detail)
    title = f"{detail['name'] or detail['id']} · {_settings(request).title}"
    return _render(request, title, content, attrs={"page": "workflow", "workflow": workflow_id})


async def usage_page(request: Request) -> Response:
    since, report = await _usage.report(request, await _settings(request).source.oban())
    content = _usage.content(_base(request), since, report)
    return _render(request, f"Usage · {_settings(request).title}", content, attrs={"page": "usage"})


async def limits_page(request: Request) -> Response:
    key, shown = await _limits_page.found(request, await _settings(request).source.oban())
    content = _limits_page.content(_base(request), key, shown)
    return _render(
        request, f"Limits · {_settings(request).title}", content, attrs={"page": "limits"}
    )


# --- JSON ----------------------------------------------------------------------------------


async def api_list(request: Request) -> Response:
    limit, state = _list_params(request)
    listing = await _data.list_workflows(_settings(request).source, limit=limit, state=state)
    return JSONResponse(listing, headers=NO_STORE)


async def api_usage(request: Request) -> Response:
    _since, report = await _usage.report(request, await _settings(request).source.oban())
    return JSONResponse(report.as_json(), headers=NO_STORE)


async def api_limits(request: Request) -> Response:
    return JSONResponse(await _data.limits(_settings(request).source), headers=NO_STORE)


async def api_detail(request: Request) -> Response:
    workflow_id = _workflow_id(request)
    try:
        detail = await _data.workflow_detail(_settings(request).source, workflow_id)
    except UnknownWorkflow:
        if workflow_id.endswith(("/cancel", "/retry", "/signal")):  # a GET of an action
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


async def api_calls(request: Request) -> Response:
    workflow_id = _workflow_id(request)
    step = request.query_params.get("step")
    found = await _data.workflow_calls(_settings(request).source, workflow_id, step)
    return JSONResponse(found, headers=NO_STORE)


async def api_cancel(request: Request) -> Response:
    settings = _settings(request)
    if not csrf_ok(request, settings.csrf, settings.hosts):
        return _refused()
    workflow_id = _workflow_id(request)
    count = await cancel(workflow_id, oban=await settings.source.oban())
    return JSONResponse({"workflow_id": workflow_id, "cancelled_jobs": count})


async def api_retry(request: Request) -> Response:
    settings = _settings(request)
    if not csrf_ok(request, settings.csrf, settings.hosts):
        return _refused()
    workflow_id = _workflow_id(request)
    try:
        steps = await retry(workflow_id, oban=await settings.source.oban())
    except WorkflowError as error:
        return JSONResponse({"error": str(error)}, status_code=409)
    return JSONResponse({"workflow_id": workflow_id, "retried_steps": steps})


async def api_signal(request: Request) -> Response:
    settings = _settings(request)
    if not csrf_ok(request, settings.csrf, settings.hosts):
        return _refused()
    workflow_id = _workflow_id(request)
    step, body = request.query_params.get("step"), await request.body()
    return await signal_response(await settings.source.oban(), workflow_id, step, body)


# --- Server-Sent Events --------------------------------------------------------------------


async def api_workflow_events(request: Request) -> Response:
    source = _settings(request).source
    workflow_id = _workflow_id(request)
    await _data.check_exists(source, workflow_id)  # 404 before the stream starts

    async def events(stop: anyio.Event) -> AsyncGenerator[ServerSentEvent]:
        async with subscribe(
            workflow_id, maxsize=STREAM_QUEUE, **source.subscribe_options()
        ) as subscription:
            try:
                async for message in stream(
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

    return event_source(events)


async def api_list_events(request: Request) -> Response:
    source = _settings(request).source
    limit, state = _list_params(request)

    async def events(stop: anyio.Event) -> AsyncGenerator[ServerSentEvent]:
        async with subscribe(maxsize=STREAM_QUEUE, **source.subscribe_options()) as subscription:
            async for message in stream(
                subscription,
                lambda: _data.list_workflows(source, limit=limit, state=state),
                lambda _data: LIST_INTERVAL,
                lambda event: isinstance(event, WorkflowFinished),
                stop,
            ):
                yield message

    return event_source(events)


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


async def _no_tables(request: Request, _error: Exception) -> Response:
    return _failure(
        request, 503, "Baton's tables are missing from this database: run `baton install`"
    )


async def _no_database(request: Request, error: Exception) -> Response:
    first = (redact(str(error)).strip().splitlines() or [type(error).__name__])[0]
    return _failure(request, 503, f"cannot reach the database: {first}")


class Assets(StaticFiles):
    """The package's static files; a missing one is a plain 404, not a page.

    They are served without the token, so their errors must not carry a page's markup
    (nor its CSRF token).
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as error:
            return PlainTextResponse(
                error.detail, status_code=error.status_code, headers=error.headers
            )


def build(
    *,
    oban: Oban | str | None,
    dsn: str | None,
    prefix: str,
    token: str | None,
    csrf_secret: str | None,
    title: str,
    hosts: HostPolicy,
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
            Route("/usage", usage_page, name="usage"),
            Route("/limits", limits_page, name="limits"),
            Route("/api/usage", api_usage, name="api_usage"),
            Route("/api/workflows", api_list, name="api_workflows"),
            Route("/api/events", api_list_events, name="api_events"),
            Route("/api/limits", api_limits, name="api_limits"),
            Route(f"{workflow}/events", api_workflow_events, name="api_workflow_events"),
            Route(f"{workflow}/calls", api_calls, name="api_calls"),
            Route(f"{workflow}/cancel", api_cancel, methods=["POST"], name="api_cancel"),
            Route(f"{workflow}/retry", api_retry, methods=["POST"], name="api_retry"),
            Route(f"{workflow}/signal", api_signal, methods=["POST"], name="api_signal"),
            Route(workflow, api_detail, name="api_workflow"),
            Mount("/static", Assets(packages=[("baton.web", "static")]), name="static"),
        ],
        middleware=[Middleware(SecurityMiddleware, token=token, hosts=hosts)],
        exception_handlers={
            UnknownWorkflow: _unknown,
            HTTPException: _http_error,
            SchemaError: _no_tables,
            psycopg.OperationalError: _no_database,
        },
        lifespan=lifespan,
    )
    app.state.baton = Settings(
        source=source, csrf=new_csrf_token(csrf_secret or token), title=title, hosts=hosts
    )
    return app
