"""The web view in real headless Chromium (Debian's ``chromium``), driven by Playwright.

``./dev test`` installs Chromium when it is missing and it runs as root, and then sets
``BATON_REQUIRE_BROWSER=1`` so that a missing browser fails here instead of skipping.
Playwright's own browser download is never used: it drives ``/usr/bin/chromium``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from baton.web import create_app
from tests.support import event_steps as es
from tests.support.dynamic_steps import Plan, Variant
from tests.support.web_steps import GATES, Gated, Sleepy, live_server

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).parents[2]
ARTIFACT = ROOT / "test-artifacts" / "web-view.png"
README_IMAGE = ROOT / "docs" / "images" / "web-view.png"
USAGE = {"model": "claude-sonnet-4", "input_tokens": 1840, "output_tokens": 212}

ALL_COMPLETED = """(count) => {
  const nodes = [...document.querySelectorAll('#dag g.node[data-step]')];
  const rows = [...document.querySelectorAll('#steps tr[data-step] .badge')];
  return nodes.length === count && nodes.every((n) => n.dataset.state === 'completed')
    && rows.length === count && rows.every((b) => b.textContent === 'completed');
}"""


def _unavailable(reason: str) -> None:
    if os.environ.get("BATON_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A page in headless Chromium with a new, empty profile."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        _unavailable(
            f"Debian's chromium is not installed ({CHROMIUM} is missing): `./dev test` installs "
            "it when run as root; otherwise `sudo apt-get install -y chromium`"
        )
    with tempfile.TemporaryDirectory(prefix="baton-chromium-") as profile:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=FLAGS,
                viewport={"width": 1280, "height": 860},
            )
            try:
                page = context.pages[0] if context.pages else await context.new_page()
                yield page
            finally:
                await context.close()


def research(topic: str) -> Workflow:
    """fetch → search[0..2] → summarize (an LLM step) → compile, ~0.5 s a step."""
    return (
        Workflow(name=f"research brief: {topic}")
        .add("fetch", Gated.new({"seconds": 0.5, "value": {"text": f"notes on {topic}"}}))
        .add_many(
            "search",
            [
                Sleepy.new({"seconds": 0.5, "value": {"source": source, "hits": hits}})
                for source, hits in (("news", 12), ("papers", 5), ("forums", 31))
            ],
            deps=["fetch"],
        )
        .add(
            "summarize",
            Sleepy.new({"seconds": 0.5, "value": {"summary": f"{topic} in brief"}, "usage": USAGE}),
            deps=["search"],
        )
        .add("compile", Sleepy.new({"seconds": 0.5, "value": "brief.md"}), deps=["summarize"])
    )


async def test_steps_turn_completed_live_without_a_reload(
    conn: psycopg.AsyncConnection[Any], running: Oban, browser: Any
) -> None:
    wf = research("Baton")
    GATES[wf.id] = asyncio.Event()
    await wf.insert()
    async with live_server(create_app(oban=running)) as url:
        await browser.goto(f"{url}/workflows/{wf.id}")
        await browser.wait_for_function("() => window.batonView && window.batonView.snapshots > 0")
        await browser.evaluate("window.__sameDocument = true")

        states = await browser.eval_on_selector_all(
            "#dag g.node[data-step]", "(nodes) => nodes.map((n) => n.dataset.state)"
        )
        assert len(states) == 6 and "completed" not in states
        assert await browser.get_attribute('#dag g.node[data-step="compile"]', "data-state") == (
            "suspended"
        )
        assert await browser.locator("#dag g.group[data-group='search']").count() == 1
        assert await browser.locator("#dag path.edge").count() == 7
        assert await browser.text_content("#live") == "live"

        GATES[wf.id].set()
        await browser.wait_for_function(ALL_COMPLETED, arg=6, timeout=30_000, polling=100)
        assert await browser.evaluate("window.__sameDocument") is True  # no reload happened
        assert await browser.evaluate("window.batonView.events") > 0  # updated by events
        await browser.wait_for_function(
            "() => document.querySelector('#wf-state').textContent === 'completed'"
            " && document.querySelector('#wf-usage').textContent.includes('1,840 in')"
            " && document.querySelector('#steps tr[data-step=\"compile\"]')"
            "      .textContent.includes('brief.md')",
            timeout=15_000,
        )
        assert await browser.is_disabled("#cancel")
        assert await browser.title() == "research brief: Baton · Baton"

        ARTIFACT.parent.mkdir(exist_ok=True)
        await browser.screenshot(path=str(ARTIFACT), full_page=True)
        assert ARTIFACT.stat().st_size > 10_000
    if os.environ.get("BATON_UPDATE_SCREENSHOT") or not README_IMAGE.exists():
        README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACT, README_IMAGE)
    assert (await baton.status(wf.id)).state == "completed"


async def test_the_page_resumes_after_a_dropped_connection(
    conn: psycopg.AsyncConnection[Any], running: Oban, browser: Any
) -> None:
    wf = (
        Workflow(name="resumes")
        .add("first", Gated.new({"value": 1}))
        .add("second", Sleepy.new({"seconds": 0.1}), deps="first")
    )
    GATES[wf.id] = asyncio.Event()
    await wf.insert()
    app = create_app(oban=running)
    async with live_server(app) as url:
        await browser.goto(f"{url}/workflows/{wf.id}")
        await browser.wait_for_selector('#dag g.node[data-step="first"][data-state="executing"]')
        await browser.evaluate("() => { window.__sameDocument = true; }")
    # The server is gone: the page notices, and the workflow finishes meanwhile.
    await browser.wait_for_function(
        "() => document.getElementById('live').dataset.state !== 'live'"
    )
    async with baton.subscribe(wf.id, oban=running) as events:
        GATES[wf.id].set()
        async with asyncio.timeout(30):
            async for event in events:
                if isinstance(event, baton.WorkflowFinished):
                    break
    assert await browser.get_attribute('#dag g.node[data-step="second"]', "data-state") == (
        "suspended"
    )
    port = int(url.rsplit(":", 1)[1])
    async with live_server(app, port=port):  # back on the same address
        await browser.wait_for_function(ALL_COMPLETED, arg=2, timeout=30_000, polling=100)
        assert await browser.text_content("#live") == "live"
        assert await browser.evaluate("() => window.__sameDocument") is True
        assert await browser.evaluate("() => window.batonView.snapshots") >= 2


async def test_the_cancel_button(
    conn: psycopg.AsyncConnection[Any], running: Oban, browser: Any
) -> None:
    wf = (
        Workflow(name="<b>not bold</b>")
        .add("long", es.WaitsForCancel.new())
        .add("after", es.Quick.new(), deps="long")
    )
    await wf.insert()
    async with live_server(create_app(oban=running)) as url:
        await browser.goto(f"{url}/workflows/{wf.id}")
        await browser.wait_for_selector('#dag g.node[data-step="long"][data-state="executing"]')
        assert await browser.text_content("#wf-name") == "<b>not bold</b>"
        browser.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await browser.click("#cancel")
        await browser.wait_for_selector('#dag g.node[data-step="after"][data-state="cancelled"]')
        await browser.wait_for_function(
            "() => document.querySelector('#wf-state').textContent === 'cancelled'"
        )
        # the executing "long" and the waiting "after" (no on_dep_* callback to run)
        assert "Cancelled 2 job(s)." == await browser.text_content("#action-message")
        assert not await browser.is_disabled("#retry")
    assert (await baton.status(wf.id)).state == "cancelled"


async def test_a_waiting_signal_step_shows_an_approve_form_that_completes_it(
    conn: psycopg.AsyncConnection[Any], running: Oban, browser: Any
) -> None:
    wf = (
        Workflow(name="reply")
        .add("draft", es.Quick.new())
        .add_signal("approve", deps=["draft"], timeout=3600)
        .add("send", es.Quick.new(), deps="approve")
    )
    await wf.insert()
    async with live_server(create_app(oban=running)) as url:
        await browser.goto(f"{url}/workflows/{wf.id}")
        await browser.wait_for_selector(
            '#dag g.node[data-step="approve"][data-state="awaiting_signal"]'
        )
        form = 'form.signal[data-step="approve"]'
        await browser.wait_for_selector(form)
        await browser.fill(f"{form} textarea", "{not json")
        await browser.click(f"{form} button")
        await browser.wait_for_function(
            """() => document.querySelector('form.signal .signal-message').textContent
                 .startsWith('the payload is not JSON')"""
        )
        assert (await baton.status(wf.id)).step("approve").signalled_at is None
        await browser.fill(f"{form} textarea", '{"approved": true, "by": "ana"}')
        await browser.click(f"{form} button")
        await browser.wait_for_selector('#dag g.node[data-step="send"][data-state="completed"]')
        await browser.wait_for_function(
            "() => document.querySelector('#wf-state').textContent === 'completed'"
        )
        assert await browser.query_selector(form) is None  # no longer waiting: no form
    assert (await baton.results(wf.id))["approve"] == {"approved": True, "by": "ana"}


async def test_the_list_shows_new_workflows_live(
    conn: psycopg.AsyncConnection[Any], running: Oban, browser: Any
) -> None:
    async with live_server(create_app(oban=running)) as url:
        await browser.goto(f"{url}/")
        await browser.wait_for_function("() => window.batonView && window.batonView.snapshots > 0")
        assert await browser.is_visible("#empty")
        wf = Workflow(name="arrives later").add("a", es.Quick.new({"value": 1}))
        await wf.insert()
        row = browser.locator(f'#workflows tr[data-id="{wf.id}"]')
        await row.locator(".badge", has_text="completed").wait_for(timeout=15_000)
        assert await row.locator("a").text_content() == "arrives later"
        assert await browser.is_hidden("#empty")
        await row.locator("a").click()
        await browser.wait_for_url(f"{url}/workflows/{wf.id}")
        await browser.wait_for_selector('#dag g.node[data-step="a"][data-state="completed"]')


async def test_sub_workflows_added_steps_and_models_are_drawn(
    conn: psycopg.AsyncConnection[Any], running: Oban, browser: Any
) -> None:
    research = (
        Workflow()
        .add("fetch", Sleepy.new({"value": "notes"}))
        .add_many("search", [Sleepy.new({"value": i}) for i in range(2)], deps="fetch")
    )
    wf = (
        Workflow(name="dynamic")
        .add("start", Gated.new({"value": 1}))
        .add("plan", Plan.new({"items": [1, 2], "group": "summary"}), deps="start")
        .add_workflow("research", research, deps="start")
        .add_models("draft", Variant.new({"prompt": "hi"}), ["gpt-4o", "claude"], deps="research")
    )
    GATES[wf.id] = asyncio.Event()
    await wf.insert()
    async with live_server(create_app(oban=running)) as url:
        await browser.goto(f"{url}/workflows/{wf.id}")
        await browser.wait_for_function("() => window.batonView && window.batonView.snapshots > 0")
        await browser.evaluate("window.__sameDocument = true")
        # a box per layer the sub-workflow spans: fetch, then search[0] and [1] in their group
        research_boxes = browser.locator("#dag g.namespace[data-namespace='research'] > text")
        assert await research_boxes.all_text_contents() == ["research", "research"]
        group = browser.locator("#dag g.group[data-group='research/search'] > text")
        assert await group.all_text_contents() == ["search \N{MULTIPLICATION SIGN}2"]
        assert await browser.locator("#dag g.namespace[data-namespace='plan']").count() == 0
        assert await browser.text_content('#dag g.node[data-step="research/fetch"] .label') == (
            "fetch"
        )
        model = '#dag g.node[data-step="draft[1]"] .model'
        assert await browser.text_content(model) == "model: claude"
        row = '#steps tr[data-step="draft[0]"] .sub.model'
        assert await browser.text_content(row) == "model gpt-4o"

        GATES[wf.id].set()  # plan runs and adds plan/summary[0] and [1]: drawn at once
        added = browser.locator("#dag g.namespace.added[data-namespace='plan'] > text")
        await added.wait_for(timeout=15_000)
        assert await added.text_content() == "added by plan"
        await browser.wait_for_function(ALL_COMPLETED, arg=9, timeout=30_000, polling=100)
        assert await browser.evaluate("window.__sameDocument") is True
        assert await browser.text_content('#steps tr[data-step="plan/summary[1]"] .ns') == "plan/"
        # the added steps sit inside their box
        box = await browser.locator("#dag g.namespace[data-namespace='plan'] > rect").bounding_box()
        node = await browser.locator('#dag g.node[data-step="plan/summary[0]"]').bounding_box()
        assert box is not None and node is not None
        assert box["x"] < node["x"] and node["x"] + node["width"] < box["x"] + box["width"]
        assert box["y"] < node["y"] and node["y"] + node["height"] < box["y"] + box["height"]
    assert (await baton.status(wf.id)).state == "completed"


async def test_a_queue_no_node_serves_is_shown_until_one_does(
    conn: psycopg.AsyncConnection[Any], running: Oban, oban_pool: Any, browser: Any
) -> None:
    wf = Workflow(name="mail").add("send", es.Quick.new({"value": 1}, queue="emails"))
    await wf.insert(oban=running)  # `running` serves "default" and "other", not "emails"
    async with live_server(create_app(oban=running)) as url:
        await browser.goto(f"{url}/workflows/{wf.id}")
        await browser.wait_for_function("() => window.batonView && window.batonView.snapshots > 0")
        banner = await browser.text_content("#wf-unserved")
        assert banner == (
            "No running node serves queue emails, which steps send wait for: start one with "
            "baton start --queues emails:10 (or unpause it)."
        )
        assert "queue emails" in (await browser.text_content('#steps tr[data-step="send"]') or "")
        async with Oban(pool=oban_pool, name="emails-node", queues={"emails": 1}):
            await browser.wait_for_function(
                "() => document.querySelector('#wf-state').textContent === 'completed'"
                " && document.querySelector('#wf-unserved').textContent === ''",
                timeout=15_000,
            )


async def test_a_steps_captured_calls_open_in_its_row(
    conn: psycopg.AsyncConnection[Any], client: Oban, browser: Any
) -> None:
    from tests.support import budget_steps as bs
    from tests.support.event_steps import drain

    wf = Workflow(name="captured", capture=True).add("ask", bs.Captures.new({"calls": 2}))
    await wf.insert()
    await drain(client)
    async with live_server(create_app(oban=client)) as url:
        await browser.goto(f"{url}/workflows/{wf.id}")
        await browser.wait_for_function("() => window.batonView && window.batonView.snapshots > 0")
        summary = browser.locator('#steps details[data-calls="ask"] > summary')
        assert await summary.text_content() == "2 captured calls"
        await summary.click()
        calls = browser.locator('#steps details[data-calls="ask"] .call')
        await calls.nth(1).wait_for(timeout=15_000)
        assert await calls.count() == 2
        first = await calls.nth(0).text_content() or ""
        assert "attempt 1 · #1" in first
        assert '"Authorization": "***"' in first
        assert "sk-" not in first
