"""Streamed output kept with the attempt's captured calls when capture is on (issue 16 §6),
and real ``openai`` / ``anthropic`` response objects captured as JSON."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from oban import Oban

import baton
from baton import Workflow
from baton._capture import CALL_LIMIT
from baton.web import create_app
from tests.integration.test_cli_commands import cli
from tests.integration.test_multiprocess import rows
from tests.integration.test_web import http
from tests.support import stream_steps as ss
from tests.support.event_steps import drain

CHUNKS = [f"token {index} " for index in range(150)] + ["key sk-live-abcdef123 ", "end"]
SHOWN = "".join(CHUNKS).replace("sk-live-abcdef123", "***")


@pytest.fixture(autouse=True)
def process_switch(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every test starts with the process switch and the environment variable unset."""
    monkeypatch.delenv("BATON_CAPTURE_CALLS", raising=False)
    baton.capture_calls(None)
    yield
    baton.capture_calls(None)


async def stored_rows(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> list[Any]:
    return await rows(
        conn,
        "SELECT step, seq, request::text, response::text FROM baton_calls"
        " WHERE workflow_id = %s ORDER BY seq",
        (workflow_id,),
    )


@pytest.mark.parametrize("how", ["workflow", "process"])
async def test_with_capture_on_the_streamed_text_is_stored_whole_in_order_redacted(
    conn: psycopg.AsyncConnection[Any], client: Oban, how: str
) -> None:
    if how == "process":
        baton.capture_calls(True)
    wf = Workflow(name="talk", capture=how == "workflow")
    await wf.add("talk", ss.Streams.new({"chunks": CHUNKS})).insert()
    await drain(client)
    [entry] = await baton.calls(wf.id)
    assert (entry.step, entry.attempt, entry.seq, entry.kind) == ("talk", 1, 0, "stream")
    assert entry.request is None
    assert entry.response == {"baton_stream": SHOWN, "chunks": len(CHUNKS), "chars": len(SHOWN)}
    assert entry.truncated is False
    [(_, _, request, response)] = await stored_rows(conn, wf.id)
    assert request == "null" and "sk-live" not in response


async def test_with_capture_off_streamed_text_is_not_stored(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = await Workflow(name="quiet").add("talk", ss.Streams.new({"chunks": CHUNKS})).insert()
    await drain(client)
    assert (await baton.status(wf.id)).state == "completed"
    assert await stored_rows(conn, wf.id) == []
    assert await baton.calls(wf.id) == []


async def test_a_stream_past_the_cap_keeps_its_beginning_and_counts_the_rest(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    size = 5 * CALL_LIMIT
    text = "".join(f"{index:07d}\n" for index in range(size // 8))
    chunks = [text[start : start + 1000] for start in range(0, len(text), 1000)]
    wf = Workflow(name="long", capture=True).add("talk", ss.Streams.new({"chunks": chunks}))
    await wf.insert()
    await drain(client)
    [entry] = await baton.calls(wf.id)
    kept = entry.response["baton_stream"]
    assert entry.kind == "stream" and entry.truncated is True
    assert 0 < len(kept) < len(text) and text.startswith(kept)
    assert entry.response["chars"] == len(text)
    assert entry.response["omitted_chars"] == len(text) - len(kept)
    assert entry.response["chunks"] == len(chunks)
    [[stored]] = await rows(
        conn,
        "SELECT octet_length(response::text) FROM baton_calls WHERE workflow_id = %s",
        (wf.id,),
    )
    assert stored <= CALL_LIMIT + 100  # jsonb's text adds a space after each separator


async def test_real_sdk_responses_are_stored_as_json_and_the_stream_after_them(
    conn: psycopg.AsyncConnection[Any], client: Oban
) -> None:
    wf = Workflow(name="sdk").add("ask", ss.CapturesSdkAndStreams.new({"chunks": ["Hel", "lo"]}))
    await wf.insert()
    await drain(client)
    openai_call, anthropic_call, streamed = await baton.calls(wf.id)
    assert [c.kind for c in (openai_call, anthropic_call, streamed)] == ["call", "call", "stream"]
    assert [c.seq for c in (openai_call, anthropic_call, streamed)] == [0, 1, 2]
    assert openai_call.request["api_key"] == "***"
    assert openai_call.response["object"] == "chat.completion"
    assert openai_call.response["choices"][0]["message"] == {
        "content": "Hello from OpenAI",
        "refusal": None,
        "role": "assistant",
        "annotations": None,
        "audio": None,
        "function_call": None,
        "tool_calls": None,
    }
    assert openai_call.response["usage"]["total_tokens"] == 17
    assert anthropic_call.request["extra_headers"] == {"x-api-key": "***"}
    assert anthropic_call.response["content"] == [
        {"citations": None, "text": "Hello from Anthropic", "type": "text"}
    ]
    assert anthropic_call.response["usage"]["cache_read_input_tokens"] == 8
    assert streamed.response["baton_stream"] == "Hello"
    everything = " ".join(f"{r[2]} {r[3]}" for r in await stored_rows(conn, wf.id))
    assert "sk-live-openai" not in everything and "sk-ant-api03" not in everything


async def test_status_calls_and_the_web_panel_show_streamed_output(
    installed: str, client: Oban
) -> None:
    wf = Workflow(name="shown").add("ask", ss.CapturesSdkAndStreams.new({"chunks": CHUNKS}))
    await wf.insert()
    await drain(client)
    code, out, err = await cli("status", wf.id, "--calls", "--dsn", installed, columns=200)
    assert code == 0, err
    words = " ".join(out.split())  # the terminal wraps the long text
    assert "Captured calls (3)" in words
    assert f"streamed output ({len(CHUNKS)} chunks, {len(SHOWN):,} chars): token 0 token 1" in words
    assert "token 149 key *** end" in words and "sk-live-abcdef123" not in out
    assert words.count("request:") == 2  # the SDK calls; the stream has none
    code, out, err = await cli("status", wf.id, "--calls", "--json", "--dsn", installed)
    assert code == 0, err
    calls = json.loads(out)["calls"]
    assert [c["kind"] for c in calls] == ["call", "call", "stream"]
    assert calls[2]["response"]["baton_stream"] == SHOWN
    async with http(create_app(oban=client)) as web:
        found = await web.get(f"/api/workflows/{wf.id}/calls", params={"step": "ask"})
        detail = await web.get(f"/api/workflows/{wf.id}")
    assert found.status_code == 200
    assert [c["kind"] for c in found.json()] == ["call", "call", "stream"]
    assert found.json()[2]["response"]["baton_stream"] == SHOWN
    assert {s["name"]: s["calls"] for s in detail.json()["steps"]} == {"ask": 3}
