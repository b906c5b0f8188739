"""The web view against a real database: pages, JSON, escaping, CSRF, token auth, SSE."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest
from oban import Oban
from starlette.applications import Starlette
from starlette.routing import Mount

import baton
from baton import Workflow
from baton.web import InsecureBind, create_app, serve
from baton.web._security import CSRF_HEADER
from tests.support import event_steps as es
from tests.support.event_steps import drain
from tests.support.web_steps import Sleepy, live_server

ORIGIN = "http://localhost"  # a loopback name: an app without a token answers only those
XSS_NAME = "<script>alert('name')</script>"
XSS_ERROR = "<img src=x onerror=alert(1)>"
SECRET = "s3cret"  # noqa: S105 - the test app's token
USAGE = {"model": "gpt-4o", "input_tokens": 1200, "output_tokens": 80}


def http(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN)


def csrf_of(page: str) -> str:
    found = re.search(r'<meta name="baton-csrf" content="([^"]+)">', page)
    assert found, "the page carries no CSRF token"
    return found[1]


async def sse(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Server-Sent Events as dicts with ``event``, ``id`` and parsed ``data``."""
    import json

    message: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line:
            if "data" in message:
                message["data"] = json.loads(message["data"])
                yield message
            message = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            message[field] = value.removeprefix(" ")


async def next_event(events: AsyncIterator[dict[str, Any]], timeout: float = 20.0) -> Any:
    async with asyncio.timeout(timeout):
        return await anext(events)


def brief() -> Workflow:
    return (
        Workflow(name="brief")
        .add("fetch", es.Quick.new({"value": {"text": "hello"}}))
        .add_many("search", [es.Quick.new({"value": i}) for i in range(2)], deps=["fetch"])
        .add("summarize", Sleepy.new({"value": {"summary": "hi"}, "usage": USAGE}), deps="search")
        .add("compile", es.Reads.new(), deps=["summarize", "fetch"])
    )


async def run(client: Oban, workflow: Workflow) -> Workflow:
    await workflow.insert()
    for _ in range(10):
        if not sum((await drain(client)).values()):
            break
    return workflow


# --- pages and JSON ------------------------------------------------------------------------


async def test_list_page_and_json(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    done = await run(client, Workflow(name=XSS_NAME).add("only", es.Quick.new({"value": 1})))
    waiting = Workflow(name="waiting").add("only", es.Quick.new())
    await waiting.insert()
    app = create_app(oban=client)
    async with http(app) as web:
        page = await web.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in page.text
        assert "<script>alert(" not in page.text
        assert f'href="/workflows/{done.id}"' in page.text
        assert "1 / 1 settled" in page.text and "0 / 1 settled" in page.text

        listing = (await web.get("/api/workflows")).json()
        assert [w["id"] for w in listing["workflows"]] == [waiting.id, done.id]  # newest first
        first = listing["workflows"][1]
        assert (first["name"], first["state"], first["steps"], first["settled"]) == (
            XSS_NAME,
            "completed",
            1,
            1,
        )
        assert first["finished_at"] is not None and first["duration_ms"] >= 0
        running = (await web.get("/api/workflows?state=running")).json()["workflows"]
        assert [w["id"] for w in running] == [waiting.id]
        assert len((await web.get("/api/workflows?limit=1")).json()["workflows"]) == 1
        filtered = await web.get("/?state=completed")
        assert done.id in filtered.text and waiting.id not in filtered.text

        for bad in ("/api/workflows?limit=0", "/api/workflows?limit=x", "/api/workflows?state=odd"):
            response = await web.get(bad)
            assert response.status_code == 400 and "error" in response.json()
        assert (await web.get("/?limit=100000")).status_code == 400


async def test_empty_list(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    async with http(create_app(oban=client)) as web:
        page = await web.get("/")
        assert page.status_code == 200 and "No workflows yet" in page.text
        assert (await web.get("/api/workflows")).json()["workflows"] == []


async def test_workflow_page_and_detail(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = await run(client, brief())
    async with http(create_app(oban=client)) as web:
        page = await web.get(f"/workflows/{wf.id}")
        assert page.status_code == 200
        for step in wf.steps:
            assert f'<tr data-step="{step}">' in page.text
        assert 'data-page="workflow"' in page.text and f'data-workflow="{wf.id}"' in page.text
        assert "gpt-4o · 1,200 in / 80 out · $" in page.text
        assert '<span class="badge state-completed">completed</span>' in page.text
        csrf_of(page.text)

        detail = (await web.get(f"/api/workflows/{wf.id}")).json()
    assert (detail["id"], detail["name"], detail["state"]) == (wf.id, "brief", "completed")
    assert detail["counts"] == {"completed": 5}
    steps = {step["name"]: step for step in detail["steps"]}
    assert list(steps) == ["fetch", "search[0]", "search[1]", "summarize", "compile"]
    assert {name: step["layer"] for name, step in steps.items()} == {
        "fetch": 0,
        "search[0]": 1,
        "search[1]": 1,
        "summarize": 2,
        "compile": 3,
    }
    assert sorted(map(tuple, detail["edges"])) == [
        ("fetch", "compile"),
        ("fetch", "search[0]"),
        ("fetch", "search[1]"),
        ("search[0]", "summarize"),
        ("search[1]", "summarize"),
        ("summarize", "compile"),
    ]
    assert detail["groups"] == {"search": ["search[0]", "search[1]"]}
    assert detail["namespaces"] == {}  # no sub-workflow, no step added at run time
    fetch = steps["fetch"]
    assert (fetch["attempt"], fetch["max_attempts"], fetch["state"]) == (1, 3, "completed")
    assert (fetch["model"], fetch["parent"]) == (None, None)
    assert fetch["result_preview"] == '{"text": "hello"}' and not fetch["result_truncated"]
    assert fetch["worker"] == "tests.support.event_steps.Quick"
    for key in ("inserted_at", "attempted_at", "settled_at"):
        assert fetch[key].endswith("Z")
    assert fetch["wait_ms"] >= 0 and fetch["run_ms"] >= 0
    summarize = steps["summarize"]
    assert summarize["usage"]["model"] == "gpt-4o"
    assert summarize["usage"]["input_tokens"] == 1200
    assert summarize["cost_usd"] == summarize["usage"]["cost_usd"] is not None
    assert summarize["result_preview"] == '{"summary": "hi"}'  # llm_usage stripped
    assert steps["search[0]"]["group"] == "search"
    assert detail["usage"]["input_tokens"] == 1200
    assert detail["cost_usd"] == summarize["cost_usd"]


async def test_errors_and_names_are_escaped(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(
        client, Workflow(name=XSS_NAME).add("boom", es.Failing.new({"message": XSS_ERROR}))
    )
    async with http(create_app(oban=client)) as web:
        page = (await web.get(f"/workflows/{wf.id}")).text
        detail = (await web.get(f"/api/workflows/{wf.id}")).json()
    assert XSS_ERROR not in page and "<script>alert(" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<title>&lt;script&gt;" in page
    assert detail["state"] == "failed"
    assert XSS_ERROR in detail["steps"][0]["error"]
    assert detail["steps"][0]["state"] == "discarded"


async def test_result_preview_is_truncated(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, Workflow().add("big", es.Quick.new({"value": "x" * 5000})))
    async with http(create_app(oban=client)) as web:
        step = (await web.get(f"/api/workflows/{wf.id}")).json()["steps"][0]
        page = (await web.get(f"/workflows/{wf.id}")).text
    assert step["result_truncated"] is True
    assert step["result_preview"] == '"' + "x" * 499
    assert "x" * 499 + "…</code>" in page and "x" * 501 not in page


async def test_ids_with_reserved_characters(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, Workflow(id="team/brief #1?", name="odd").add("a", es.Quick.new()))
    encoded = quote(wf.id, safe="")
    async with http(create_app(oban=client)) as web:
        assert (await web.get(f"/api/workflows/{encoded}")).json()["id"] == wf.id
        assert (await web.get(f"/workflows/{encoded}")).status_code == 200
        assert f'href="/workflows/{encoded}"' in (await web.get("/")).text


async def test_unknown_workflow_is_404(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    async with http(create_app(oban=client)) as web:
        csrf = csrf_of((await web.get("/")).text)
        page = await web.get("/workflows/nope")
        assert page.status_code == 404 and "no workflow with id" in page.text
        assert page.headers["content-type"].startswith("text/html")
        for path in ("/api/workflows/nope", "/api/workflows/nope/events"):
            response = await web.get(path)
            assert response.status_code == 404
            assert response.json() == {"error": "no workflow with id 'nope'"}
        for action in ("cancel", "retry"):
            response = await web.post(
                f"/api/workflows/nope/{action}", headers={"origin": ORIGIN, CSRF_HEADER: csrf}
            )
            assert response.status_code == 404
        assert (await web.get("/nowhere")).status_code == 404


async def test_missing_tables_are_a_503(installed: str) -> None:
    app = create_app(dsn=installed, prefix="baton_web_not_installed")
    try:
        async with http(app) as web:
            response = await web.get("/api/workflows")
            assert response.status_code == 503
            assert "run `baton install`" in response.json()["error"]
            page = await web.get("/")
            assert page.status_code == 503 and "baton install" in page.text
    finally:
        await app.state.baton.source.close()


async def test_static_assets_are_served_by_the_package(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    async with http(create_app(oban=client)) as web:
        page = (await web.get("/")).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert all(a.startswith("/") and not a.startswith("//") for a in assets), assets
        js = await web.get("/static/baton.js")
        css = await web.get("/static/baton.css")
        icon = await web.get("/static/favicon.svg")
    assert js.status_code == css.status_code == icon.status_code == 200
    assert "javascript" in js.headers["content-type"]
    assert css.headers["content-type"].startswith("text/css")
    for text in (js.text, css.text):
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), "an external URL"
        assert "@import" not in text
    assert ".innerHTML" not in js.text and "insertAdjacentHTML" not in js.text


async def test_mounted_under_a_prefix(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = await run(client, Workflow(name="mounted").add("a", es.Quick.new()))
    host = Starlette(routes=[Mount("/baton", create_app(oban=client, token=SECRET))])
    async with http(host) as web:
        login = await web.get(f"/baton/workflows/{wf.id}?token={SECRET}")
        assert login.status_code == 303
        assert login.headers["location"] == f"/baton/workflows/{wf.id}"
        assert "Path=/baton" in login.headers["set-cookie"]
        page = await web.get(f"/baton/workflows/{wf.id}")
        assert page.status_code == 200
        assert 'href="/baton/static/baton.css?v=' in page.text
        assert 'data-base="/baton"' in page.text
        assert (await web.get("/baton/static/baton.js")).status_code == 200
        assert (await web.get("/baton/api/workflows")).json()["workflows"][0]["id"] == wf.id


# --- cancel and retry ----------------------------------------------------------------------


async def test_cancel_and_retry_refuse_cross_site_requests(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    es.FAIL_WHILE.add("csrf")
    wf = await run(
        client,
        Workflow(id="csrf").add("flaky", es.Flaky.new()).add("after", es.Quick.new(), deps="flaky"),
    )
    async with http(create_app(oban=client)) as web:
        csrf = csrf_of((await web.get("/")).text)
        url = f"/api/workflows/{wf.id}/retry"
        refused = [
            {},  # neither
            {CSRF_HEADER: csrf},  # no Origin or Referer
            {"origin": ORIGIN},  # no token
            {"origin": ORIGIN, CSRF_HEADER: "forged"},
            {"origin": "http://evil.example", CSRF_HEADER: csrf},
            {"origin": "http://localhost:8080", CSRF_HEADER: csrf},
            {"origin": "null", CSRF_HEADER: csrf},
            {"referer": "http://evil.example/localhost", CSRF_HEADER: csrf},
        ]
        for headers in refused:
            for action in ("retry", "cancel"):
                response = await web.post(f"/api/workflows/{wf.id}/{action}", headers=headers)
                assert response.status_code == 403, headers
                assert "cross-site request refused" in response.json()["error"]
        assert (await web.get(url)).status_code == 405
        assert (await baton.status(wf.id)).state == "failed"  # nothing changed

        es.FAIL_WHILE.discard("csrf")
        ok = await web.post(url, headers={"referer": f"{ORIGIN}/workflows/csrf", CSRF_HEADER: csrf})
        assert ok.status_code == 200
        assert ok.json() == {"workflow_id": "csrf", "retried_steps": ["flaky", "after"]}
        await drain(client)
        assert (await baton.status(wf.id)).state == "completed"
        again = await web.post(url, headers={"origin": ORIGIN, CSRF_HEADER: csrf})
        assert again.json()["retried_steps"] == []


async def test_cancel_button_endpoint(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = Workflow().add("a", es.Quick.new()).add("b", es.Quick.new(), deps="a")
    await wf.insert()
    async with http(create_app(oban=client)) as web:
        csrf = csrf_of((await web.get(f"/workflows/{wf.id}")).text)
        response = await web.post(
            f"/api/workflows/{wf.id}/cancel", headers={"origin": ORIGIN, CSRF_HEADER: csrf}
        )
    assert response.status_code == 200
    # both: the waiting "b" has no on_dep_* callback, so it is cancelled without running
    assert response.json() == {"workflow_id": wf.id, "cancelled_jobs": 2}
    await drain(client)
    assert (await baton.status(wf.id)).state == "cancelled"


async def test_retry_of_pruned_steps_is_a_409(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, Workflow().add("boom", es.Failing.new()))
    await conn.execute("DELETE FROM oban_jobs")
    async with http(create_app(oban=client)) as web:
        csrf = csrf_of((await web.get("/")).text)
        response = await web.post(
            f"/api/workflows/{wf.id}/retry", headers={"origin": ORIGIN, CSRF_HEADER: csrf}
        )
    assert response.status_code == 409
    assert "were deleted (pruned)" in response.json()["error"]


def test_csrf_token_is_per_app_unless_a_secret_is_shared() -> None:
    one, two = create_app(), create_app()
    assert one.state.baton.csrf != two.state.baton.csrf
    shared = [create_app(csrf_secret=SECRET).state.baton.csrf for _ in range(2)]
    assert shared[0] == shared[1]
    assert create_app(token=SECRET).state.baton.csrf == create_app(token=SECRET).state.baton.csrf
    with pytest.raises(baton.errors.InvalidOption, match="either oban= or dsn="):
        create_app(oban="Oban", dsn="postgresql://x")


# --- token authentication ------------------------------------------------------------------


async def test_token_auth(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    wf = await run(client, Workflow().add("a", es.Quick.new()))
    app = create_app(oban=client, token=SECRET)
    async with http(app) as web:
        html = await web.get("/", headers={"accept": "text/html"})
        assert html.status_code == 401 and "?token=" in html.text
        assert html.headers["www-authenticate"] == 'Bearer realm="baton"'
        for path in ("/api/workflows", f"/api/workflows/{wf.id}", f"/api/workflows/{wf.id}/events"):
            assert (await web.get(path)).status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert (await web.get("/api/workflows", headers=wrong)).status_code == 401
        assert (await web.get("/?token=nope")).status_code == 401
        assert (await web.get("/static/baton.css")).status_code == 200  # public assets

        bearer = {"authorization": f"Bearer {SECRET}"}
        assert (await web.get("/api/workflows", headers=bearer)).status_code == 200

        login = await web.get(f"/workflows/{wf.id}?token={SECRET}&x=1")
        assert login.status_code == 303
        assert login.headers["location"] == f"/workflows/{wf.id}?x=1"
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and SECRET not in cookie
        page = await web.get(f"/workflows/{wf.id}")  # the client kept the cookie
        assert page.status_code == 200
        csrf = csrf_of(page.text)
        response = await web.post(
            f"/api/workflows/{wf.id}/retry", headers={"origin": ORIGIN, CSRF_HEADER: csrf}
        )
        assert response.status_code == 200

    async with http(app) as stranger:  # no cookie, no token: refused even with the CSRF token
        response = await stranger.post(
            f"/api/workflows/{wf.id}/retry", headers={"origin": ORIGIN, CSRF_HEADER: csrf}
        )
        assert response.status_code == 401


async def test_serve_refuses_a_public_bind_without_a_token() -> None:
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org"):  # noqa: S104
        with pytest.raises(InsecureBind, match="without a token"):
            await serve(host, 0)
    assert issubclass(InsecureBind, baton.errors.BatonError)


# --- Server-Sent Events --------------------------------------------------------------------


async def test_workflow_stream_sends_a_snapshot_then_events(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = brief()
    await wf.insert()
    async with (
        live_server(create_app(oban=client)) as url,
        httpx.AsyncClient(base_url=url) as web,
        web.stream("GET", f"/api/workflows/{wf.id}/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse(response)
        first = await next_event(events)
        assert (first["event"], first["id"], first["retry"]) == ("snapshot", "1", "1000")
        states = {step["name"]: step["state"] for step in first["data"]["steps"]}
        assert states == {
            "fetch": "available",
            "search[0]": "suspended",
            "search[1]": "suspended",
            "summarize": "suspended",
            "compile": "suspended",
        }
        for _ in range(10):
            if not sum((await drain(client)).values()):
                break
        seen: list[dict[str, Any]] = []
        while not seen or seen[-1]["event"] != "finished":
            seen.append(await next_event(events))
        ids = [int(message["id"]) for message in seen]
        assert ids == sorted(ids) and ids[0] > 1
        steps = [(m["data"]["step"], m["data"]["state"]) for m in seen if m["event"] == "step"]
        for name in wf.steps:
            assert steps.index((name, "executing")) < steps.index((name, "completed"))
        assert seen[-1]["data"]["outcome"] == "completed"
        assert seen[-1]["data"]["workflow_id"] == wf.id
        latest = await next_event(events)  # changes are followed by a fresh snapshot
        while latest["event"] != "snapshot" or latest["data"]["state"] != "completed":
            latest = await next_event(events)
        assert all(step["state"] == "completed" for step in latest["data"]["steps"])


async def test_a_reconnecting_stream_resumes_with_a_fresh_snapshot(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow().add("a", es.Quick.new()).add("b", es.Quick.new(), deps="a")
    await wf.insert()
    async with live_server(create_app(oban=client)) as url, httpx.AsyncClient(base_url=url) as web:
        async with web.stream("GET", f"/api/workflows/{wf.id}/events") as response:
            first = await next_event(sse(response))
            assert first["data"]["counts"] == {"available": 1, "suspended": 1}
        await drain(client)  # happens while no stream is open: these events are missed
        async with web.stream(
            "GET", f"/api/workflows/{wf.id}/events", headers={"last-event-id": first["id"]}
        ) as response:
            resumed = await next_event(sse(response))
    assert resumed["event"] == "snapshot"
    assert resumed["data"]["state"] == "completed"
    assert resumed["data"]["counts"] == {"completed": 2}


async def test_a_lost_database_listener_gives_a_fresh_snapshot(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow().add("a", es.Quick.new())
    await wf.insert()
    async with (
        live_server(create_app(oban=client)) as url,
        httpx.AsyncClient(base_url=url) as web,
        web.stream("GET", f"/api/workflows/{wf.id}/events") as response,
    ):
        events = sse(response)
        assert (await next_event(events))["event"] == "snapshot"
        listener = await (
            await conn.execute(
                # the listener's last statement: its LISTEN, or its subscribers' presence
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND (query LIKE 'LISTEN %%baton_events%%' OR query LIKE '%%baton_listeners%%')"
            )
        ).fetchall()
        assert len(listener) == 1
        await conn.execute("SELECT pg_terminate_backend(%s)", listener[0])
        resynced = await next_event(events)  # events may have been missed: resynchronise
        assert (resynced["event"], resynced["id"]) == ("snapshot", "2")
        await drain(client)  # and the stream goes on with the new listener
        step = await next_event(events)
        assert (step["event"], step["data"]["step"]) == ("step", "a")


async def test_a_deleted_workflow_ends_its_stream(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow().add("a", es.Quick.new())
    await wf.insert()
    async with (
        live_server(create_app(oban=client)) as url,
        httpx.AsyncClient(base_url=url) as web,
        web.stream("GET", f"/api/workflows/{wf.id}/events") as response,
    ):
        events = sse(response)
        assert (await next_event(events))["event"] == "snapshot"
        await conn.execute("DELETE FROM baton_workflows WHERE id = %s", (wf.id,))
        await es.send_marker(conn, wf.id)  # any event makes the stream read a snapshot
        assert (await next_event(events))["event"] == "step"
        gone = await next_event(events)
        assert gone["event"] == "gone"
        assert gone["data"] == {"error": f"no workflow with id {wf.id!r}"}
        assert [message async for message in events] == []  # and the stream ended


async def test_list_stream_follows_every_workflow(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    async with (
        live_server(create_app(oban=client)) as url,
        httpx.AsyncClient(base_url=url) as web,
        web.stream("GET", "/api/events") as response,
    ):
        events = sse(response)
        first = await next_event(events)
        assert first["event"] == "snapshot" and first["data"]["workflows"] == []
        wf = await run(client, Workflow(name="late").add("a", es.Quick.new()))
        seen = [await next_event(events)]
        while seen[-1]["event"] != "snapshot" or seen[-1]["data"]["workflows"][0]["state"] == (
            "running"
        ):
            seen.append(await next_event(events))
        finished = [m["data"]["workflow_id"] for m in seen if m["event"] == "finished"]
        assert finished == [wf.id]  # the list stream forwards only "finished" events
        assert {m["event"] for m in seen} == {"finished", "snapshot"}
        assert [(w["id"], w["state"]) for w in seen[-1]["data"]["workflows"]] == [
            (wf.id, "completed")
        ]
    async with live_server(create_app(oban=client)) as url, httpx.AsyncClient(base_url=url) as web:
        assert (await web.get("/api/events?state=nope")).status_code == 400


async def test_an_app_with_its_own_dsn(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, Workflow(name="by dsn").add("a", es.Quick.new({"value": 7})))
    app = create_app(dsn=installed)
    async with live_server(app) as url, httpx.AsyncClient(base_url=url) as web:
        listing = (await web.get("/api/workflows")).json()
        assert [w["name"] for w in listing["workflows"]] == ["by dsn"]
        detail = (await web.get(f"/api/workflows/{wf.id}")).json()
        assert detail["steps"][0]["result_preview"] == "7"
        async with web.stream("GET", f"/api/workflows/{wf.id}/events") as response:
            snapshot = await next_event(sse(response))
        assert snapshot["data"]["state"] == "completed"
        page = await web.get("/")
        csrf = csrf_of(page.text)
        response = await web.post(
            f"/api/workflows/{wf.id}/cancel", headers={"origin": url, CSRF_HEADER: csrf}
        )
        assert response.json()["cancelled_jobs"] == 0
    assert app.state.baton.source._pool is None  # the lifespan closed the app's own pool
