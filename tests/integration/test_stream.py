"""``baton.stream``: partial output as live ``StepOutput`` events (issue 16 §6)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
import psycopg
import pytest
from oban import Job, Oban
from rich.console import Console

import baton
from baton import StepOutput, Workflow
from baton._stream import MAX_TEXT_BYTES
from baton.cli._watch import watch
from baton.errors import NotAWorkflowStep, StreamError
from baton.web import create_app
from tests.integration.test_web import next_event, sse
from tests.support import stream_steps as ss
from tests.support.event_steps import drain, finished_of, flush
from tests.support.web_steps import live_server


def outputs(events: list[Any], step: str) -> list[StepOutput]:
    return [e for e in events if isinstance(e, StepOutput) and e.step == step]


async def test_streamed_chunks_arrive_coalesced_in_order_and_whole(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    chunks = [f"token {index} " for index in range(200)]
    wf = Workflow(name="talk").add("talk", ss.Streams.new({"chunks": chunks}))
    async with (
        baton.subscribe(wf.id, oban=client) as mine,
        baton.subscribe(oban=client) as everything,
    ):
        await wf.insert()
        await drain(client)
        seen = await flush(mine, conn, wf.id)
        seen_all = await flush(everything, conn, wf.id)
    streamed = outputs(seen, "talk")
    assert "".join(event.text for event in streamed) == "".join(chunks)
    assert all(event.skipped == 0 for event in streamed)
    assert [event.seq for event in streamed] == list(range(1, len(streamed) + 1))
    assert len(streamed) < len(chunks)  # calls were coalesced into fewer events
    assert {(e.workflow_id, e.job_id, e.attempt) for e in streamed} == {
        (wf.id, wf.steps["talk"].job.id, 1)
    }
    # Output comes before the step's completion, on both topics.
    kinds = [type(e).__name__ for e in seen if not isinstance(e, StepOutput)]
    assert kinds[-1] == "WorkflowFinished" and finished_of(seen, wf.id)
    last_output = max(i for i, e in enumerate(seen) if isinstance(e, StepOutput))
    completed = next(i for i, e in enumerate(seen) if getattr(e, "state", None) == "completed")
    assert last_output < completed
    assert outputs(seen_all, "talk") == streamed
    # Nothing of it is stored.
    stored = await (
        await conn.execute("SELECT result::text FROM baton_steps WHERE workflow_id = %s", (wf.id,))
    ).fetchall()
    assert stored == [('{"value": {"streamed": ' + str(len("".join(chunks))) + "}}",)]


@pytest.mark.parametrize(
    ("char", "size"),
    [
        pytest.param("x", 100_000, id="ascii"),
        pytest.param("é", 30_000, id="two-byte"),
        pytest.param("\x01", 20_000, id="json-escaped"),  # 6 bytes of JSON per character
    ],
)
async def test_a_large_output_is_cut_to_its_end_and_each_payload_fits(
    conn: psycopg.AsyncConnection[Any], client: Oban, char: str, size: int
) -> None:
    wf = Workflow(name="big").add("big", ss.Streams.new({"char": char, "size": size}))
    async with baton.subscribe(wf.id, oban=client) as events:
        await wf.insert()
        await drain(client)
        [event] = outputs(await flush(events, conn, wf.id), "big")
    assert event.text and set(event.text) == {char}
    assert len(event.text.encode()) <= MAX_TEXT_BYTES
    assert event.skipped + len(event.text) == size


async def test_stream_outside_a_running_step_is_a_clear_error(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = (
        Workflow(name="misuse")
        .add("keeps", ss.KeepsItsJob.new())
        .add("number", ss.StreamsNotText.new())
    )
    await wf.insert()
    ss.PLAIN_ERRORS.clear()
    plain = await client.enqueue(ss.PlainStreams.new())
    await drain(client)

    [kept] = ss.KEPT[-1:]
    with pytest.raises(StreamError) as finished:
        await baton.stream(kept, "after returning")
    assert str(finished.value) == (
        f"step 'keeps' of workflow {wf.id!r} is not running in this process (its "
        "perform_workflow has returned, or it runs elsewhere): call baton.stream from inside "
        "perform_workflow, before it returns"
    )
    with pytest.raises(StreamError, match="step 'number'"):
        elsewhere = Job(
            worker="x.Y", args={}, meta={"workflow_id": wf.id, "workflow_step": "number"}
        )
        await baton.stream(elsewhere, "not running in this process")
    assert ss.PLAIN_ERRORS == [
        f"job {plain.id} (tests.support.stream_steps.PlainStreams) is not a workflow step: "
        "baton.stream sends output only for steps of a workflow inserted with Workflow.insert()"
    ]
    with pytest.raises(NotAWorkflowStep, match="got str"):
        await baton.stream("job", "text")  # type: ignore[arg-type]
    assert await baton.results(wf.id) == {
        "keeps": None,
        "number": "baton.stream takes text (a str), got int",
    }


async def test_watch_prints_streamed_output_piped(
    installed: str, conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="talk").add("talk", ss.Streams.new({"chunks": ["hello ", "world\n!"]}))
    await wf.insert()
    lines = io.StringIO()
    out = Console(file=lines, width=160, highlight=False)
    watcher = asyncio.create_task(
        watch(wf.id, oban=client, dsn=installed, prefix="public", out=out, timeout=30)
    )
    async with asyncio.timeout(10):
        while "watching" not in lines.getvalue():
            await asyncio.sleep(0.01)
    await drain(client)
    final = await watcher
    text = lines.getvalue()
    assert final.state == "completed"
    printed = [line.split("  output  ", 1)[1] for line in text.splitlines() if "  output  " in line]
    assert "".join(printed) == "hello world\\x0a!"  # a newline is shown as its escape
    assert all(line.split()[1] == "talk" for line in text.splitlines() if "  output  " in line)


async def test_the_web_stream_forwards_output_events(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="talk").add("talk", ss.Streams.new({"chunks": ["<b>hi</b> ", "there"]}))
    await wf.insert()
    async with (
        live_server(create_app(oban=client)) as url,
        httpx.AsyncClient(base_url=url) as web,
    ):
        page = await web.get(f"/workflows/{wf.id}")
        assert 'id="output-section" hidden' in page.text
        async with web.stream("GET", f"/api/workflows/{wf.id}/events") as response:
            events = sse(response)
            assert (await next_event(events))["event"] == "snapshot"
            await drain(client)
            seen: list[dict[str, Any]] = []
            while not seen or seen[-1]["event"] != "finished":
                seen.append(await next_event(events))
    streamed = [m["data"] for m in seen if m["event"] == "output"]
    assert "".join(data["text"] for data in streamed) == "<b>hi</b> there"
    assert {(d["workflow_id"], d["step"], d["attempt"]) for d in streamed} == {(wf.id, "talk", 1)}
    assert all(isinstance(d["seq"], int) and d["skipped"] == 0 for d in streamed)


def test_a_job_that_is_no_step_is_refused_before_any_database_work() -> None:
    job = Job(worker="x.Y", args={})
    with pytest.raises(NotAWorkflowStep, match="is not a workflow step"):
        asyncio.run(baton.stream(job, "text"))
