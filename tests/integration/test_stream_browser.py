"""Streamed output in the web view, in real headless Chromium (see test_web_browser.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from oban import Oban

from baton import Workflow
from baton.web import create_app
from tests.integration.test_web_browser import browser
from tests.support.stream_steps import GATES, GatedStreams
from tests.support.web_steps import live_server

pytestmark = pytest.mark.slow
__all__ = ["browser"]  # the fixture, used by name


async def test_streamed_output_appears_live_as_text(
    conn: psycopg.AsyncConnection[Any], running: Oban, browser: Any
) -> None:
    chunks = ["<img src=x onerror=alert(1)> ", "line one\n", "line two"]
    wf = Workflow(name="narrate").add("narrate", GatedStreams.new({"chunks": chunks}))
    GATES[wf.id] = asyncio.Event()
    await wf.insert()
    async with live_server(create_app(oban=running)) as url:
        await browser.goto(f"{url}/workflows/{wf.id}")
        await browser.wait_for_function("() => window.batonView && window.batonView.snapshots > 0")
        assert await browser.is_hidden("#output-section")
        GATES[wf.id].set()
        await browser.wait_for_function(
            "(text) => document.querySelector('#output pre[data-step=\"narrate\"]')"
            "?.textContent === text",
            arg="".join(chunks),
            timeout=30_000,
        )
        assert await browser.is_visible("#output-section")
        assert await browser.text_content("#output h3") == "narrate"
        assert await browser.locator("#output img").count() == 0  # shown as text, not HTML
        await browser.wait_for_function(
            "() => document.querySelector('#wf-state').textContent === 'completed'",
            timeout=15_000,
        )


async def test_captured_streamed_output_shows_as_text_in_the_calls_panel(
    conn: psycopg.AsyncConnection[Any], client: Oban, browser: Any
) -> None:
    from tests.support.event_steps import drain
    from tests.support.stream_steps import CapturesSdkAndStreams

    chunks = ["<img src=x onerror=alert(1)> ", "line one\n", "line two"]
    wf = Workflow(name="kept").add("ask", CapturesSdkAndStreams.new({"chunks": chunks}))
    await wf.insert()
    await drain(client)
    async with live_server(create_app(oban=client)) as url:
        await browser.goto(f"{url}/workflows/{wf.id}")
        await browser.wait_for_function("() => window.batonView && window.batonView.snapshots > 0")
        summary = browser.locator('#steps details[data-calls="ask"] > summary')
        assert await summary.text_content() == "3 captured calls"
        await summary.click()
        calls = browser.locator('#steps details[data-calls="ask"] .call')
        await calls.nth(2).wait_for(timeout=15_000)
        assert await calls.count() == 3
        assert "request:" in (await calls.nth(0).text_content() or "")
        streamed = calls.nth(2)
        assert await streamed.get_attribute("class") == "call stream"
        head = await streamed.locator(".sub").text_content() or ""
        assert head.startswith("streamed output · attempt 1 · #3")
        assert await streamed.locator("pre").text_content() == "".join(chunks)
        assert await browser.locator('#steps details[data-calls="ask"] img').count() == 0
