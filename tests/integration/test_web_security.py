"""The web view's security defects (issue 14), each against a real uvicorn and PostgreSQL.

Requests go over a raw socket where the request line or ``Host`` header must be exactly
what an attacker sends (httpx would normalise them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from oban import Oban
from psycopg.conninfo import make_conninfo

import baton
from baton import Workflow
from baton.web import create_app
from baton.web._security import CSRF_HEADER
from tests.integration.test_web import csrf_of, next_event, run, sse
from tests.integration.test_web_example import free_port
from tests.support import event_steps as es
from tests.support.web_steps import live_server

TOKEN = "0123456789abcdef0123"  # noqa: S105 - the test app's token
REBOUND = "rebind.evil.example"


async def raw(url: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    """Send ``GET target`` with exactly these headers; the status, headers and body."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    lines = [f"GET {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join([*lines, "Connection: close", "", ""])).encode("latin-1"))
    async with asyncio.timeout(10):
        answer = (await reader.read()).decode("utf-8", "replace")
    writer.close()
    head, _, body = answer.partition("\r\n\r\n")
    status, *fields = head.split("\r\n")
    found = {k.lower(): v.strip() for k, _, v in (field.partition(":") for field in fields)}
    return int(status.split()[1]), found, body


# --- 1. DNS rebinding ----------------------------------------------------------------------


async def test_a_rebound_host_is_refused_without_a_token(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    es.FAIL_WHILE.add("rebind")
    wf = await run(client, Workflow(id="rebind").add("flaky", es.Flaky.new()))
    async with live_server(create_app(oban=client)) as url:
        port = urlsplit(url).port
        for host in (f"{REBOUND}:{port}", REBOUND, f"127.0.0.1.{REBOUND}", "x@127.0.0.1"):
            status, headers, body = await raw(url, "/api/workflows", {"Host": host})
            assert status == 400, host
            assert "DNS rebinding" in body and "--allow-host" in body
            assert headers["content-type"].startswith("text/plain")
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            assert (await raw(url, "/", {"Host": host}))[0] == 200, host

        async with httpx.AsyncClient(base_url=url) as web:
            csrf = csrf_of((await web.get("/")).text)
            # The rebound page posts to "its own" origin, with a token it could not read.
            forged = {"host": f"{REBOUND}:{port}", "origin": f"http://{REBOUND}:{port}"}
            response = await web.post(
                f"/api/workflows/{wf.id}/retry", headers={**forged, CSRF_HEADER: csrf}
            )
            assert response.status_code == 400
            assert (await baton.status(wf.id)).state == "failed"  # nothing changed


async def test_allowed_hosts_for_a_mounted_app(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    app = create_app(oban=client, allowed_hosts=["baton.example.org"])
    async with live_server(app) as url:
        assert (await raw(url, "/", {"Host": "Baton.Example.org:8443"}))[0] == 200
        assert (await raw(url, "/", {"Host": "localhost"}))[0] == 200
        assert (await raw(url, "/", {"Host": "other.example.org"}))[0] == 400
    async with live_server(create_app(oban=client, token=TOKEN)) as url:
        # With a token any host is answered, but a rebound page has no session cookie.
        status, _, _ = await raw(url, "/api/workflows", {"Host": REBOUND})
        assert status == 401


# --- 3 and 7. Tokens, the access log, the 401 page -----------------------------------------


def test_baton_web_keeps_the_token_out_of_its_log(installed: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": installed, "BATON_WEB_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "baton", "web", "--port", str(port), "--allow-host", "baton.local"],
        env=env,
        stdout=subprocess.PIPE,  # uvicorn's access log
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    printed = [process.stderr.readline()]
    while "Uvicorn running on" not in printed[-1] and process.poll() is None:
        printed.append(process.stderr.readline())
    assert f"Baton web view on {url}/ (open {url}/?token=<token> once" in printed[0]
    try:
        with httpx.Client(base_url=url) as web:
            page = web.get("/", headers={"accept": "text/html"})
            assert page.status_code == 401
            assert "?token=&lt;token&gt;</code> once" in page.text  # what baton web printed
            assert "<code>baton web</code> prints that address" in page.text
            login = web.get(f"/workflows/x?token={TOKEN}&limit=5")
            assert login.status_code == 303
            assert web.get("/", headers={"host": "baton.local"}).status_code == 200
            assert web.get("/", headers={"host": REBOUND}).status_code == 400
    finally:
        process.send_signal(signal.SIGINT)
        log = "".join(process.communicate(timeout=20))
    assert '"GET /workflows/x?[redacted] HTTP/1.1" 303' in log
    assert TOKEN not in log


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--token", ""], "Error: the token is blank"),
        (["--token", "   "], "Error: the token is blank"),
        (["--host", "0.0.0.0", "--token", "short"], "Error: the token is 5 characters long"),  # noqa: S104
        (["--allow-host", "http://x"], "Error: allowed host 'http://x' is not a host name"),
    ],
)
def test_baton_web_refuses_weak_tokens_and_bad_hosts(
    installed: str, args: list[str], error: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "baton", "web", "--port", str(free_port()), *args],
        env={**os.environ, "DATABASE_URL": installed},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(error) and done.stderr.count("\n") == 1, done.stderr


# --- 6 and 7. Odd input: 4xx, never a 500 --------------------------------------------------


async def test_odd_input_is_a_4xx(conn: psycopg.AsyncConnection[Any], client: Oban) -> None:
    async with live_server(create_app(oban=client)) as url, httpx.AsyncClient(base_url=url) as web:
        for limit in ("²", "٣", "9" * 5000, "0", "501", "-1", " 5", "%00", "1e2"):
            for path in ("/", "/api/workflows", "/api/events"):
                response = await web.get(path, params={"limit": limit})
                assert response.status_code == 400, (path, limit)
        csrf = csrf_of((await web.get("/")).text)
        post = {"origin": url, CSRF_HEADER: csrf}
        for path in ("/workflows/a%00b", "/api/workflows/a%00b", "/api/workflows/a%00b/events"):
            response = await web.get(path)
            assert response.status_code == 404, path
            assert "no workflow with id" in response.text
        for action in ("cancel", "retry"):
            response = await web.post(f"/api/workflows/a%00b/{action}", headers=post)
            assert response.status_code == 404, action


async def test_login_links_do_not_redirect_off_site(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    async with live_server(create_app(oban=client, token=TOKEN)) as url:
        host = {"Host": urlsplit(url).netloc}
        for target, location in [
            (f"//evil.example/?token={TOKEN}", "/evil.example/"),
            (f"/\\evil.example/?token={TOKEN}", "/evil.example/"),
            (f"http://evil.example/x?token={TOKEN}", "/http://evil.example/x"),
            (f"/workflows/a?token={TOKEN}&state=failed", "/workflows/a?state=failed"),
        ]:
            status, headers, _ = await raw(url, target, host)
            assert (status, headers["location"]) == (303, location), target


async def test_a_missing_static_file_is_a_plain_404(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    async with live_server(create_app(oban=client, token=TOKEN)) as url:
        async with httpx.AsyncClient(base_url=url) as web:
            response = await web.get("/static/missing.js", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
    assert "baton-csrf" not in response.text and "<html" not in response.text


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_stream_ends_cleanly_when_the_database_goes(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await run(client, Workflow().add("a", es.Quick.new()))
    name = "baton_web_drop_test"
    app = create_app(dsn=make_conninfo(installed, application_name=name))
    errors = Records()
    async with live_server(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as web:
        logging.getLogger("uvicorn.error").addHandler(errors)
        try:
            async with web.stream("GET", f"/api/workflows/{wf.id}/events") as response:
                events = sse(response)
                assert (await next_event(events))["event"] == "snapshot"
                # Every connection of the app (its pool and its listener) is cut.
                cut = await conn.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = %s",
                    [name],
                )
                assert (await cut.fetchone() or [0])[0] >= 2
                last = await next_event(events)
                assert last["event"] == "unavailable"
                assert "the database is unavailable" in last["data"]["error"]
                assert [message async for message in events] == []  # and the stream ends
        finally:
            logging.getLogger("uvicorn.error").removeHandler(errors)
    assert errors.records == []  # no "Exception in ASGI application"
