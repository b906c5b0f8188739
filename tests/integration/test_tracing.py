"""OpenTelemetry: one span per step attempt, one trace per workflow, across processes.

This process exports to the SDK's ``InMemorySpanExporter``; the worker subprocess of the
last test exports to a file (``tests.support.traced_steps``), read back here.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from baton import Workflow
from tests.integration.test_multiprocess import workers
from tests.support import event_steps as es
from tests.support.db import wait_settled
from tests.support.event_steps import drain
from tests.support.traced_steps import SPANS_ENV, RemoteAsk

MINI = {"model": "gpt-4o-mini", "input_tokens": 1200, "output_tokens": 80, "latency_ms": 850}


@cache
def exporter() -> InMemorySpanExporter:
    """This process's exporter, installed as the global tracer provider once."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    return memory


@pytest.fixture
def spans() -> InMemorySpanExporter:
    memory = exporter()
    memory.clear()
    return memory


def named(finished: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in finished if span.name == name]


async def stored_traceparent(conn: psycopg.AsyncConnection[Any], workflow_id: str) -> Any:
    row = await (
        await conn.execute("SELECT traceparent FROM baton_workflows WHERE id = %s", (workflow_id,))
    ).fetchone()
    assert row is not None
    return row[0]


async def test_each_attempt_is_a_span_of_the_workflows_trace(
    conn: psycopg.AsyncConnection[Any], client: Oban, spans: InMemorySpanExporter
) -> None:
    wf = (
        Workflow(name="traced")
        .add("ask", es.ReportsUsage.new({"usage": {**MINI, "cache_read_tokens": 1000}}))
        .add("fail", es.Failing.new(), deps=["ask"])
    )
    await wf.insert()
    await drain(client, "llm")
    await drain(client)
    finished = spans.get_finished_spans()

    [insert] = named(finished, "baton.insert traced")
    assert insert.kind is trace.SpanKind.PRODUCER
    assert insert.attributes is not None
    assert insert.attributes["baton.workflow.id"] == wf.id
    trace_id = insert.context.trace_id
    traceparent = await stored_traceparent(conn, wf.id)
    assert traceparent.startswith(f"00-{trace_id:032x}-{insert.context.span_id:016x}-")

    [ask] = named(finished, "baton.step ask")
    assert ask.context.trace_id == trace_id
    assert ask.parent is not None and ask.parent.span_id == insert.context.span_id
    assert ask.kind is trace.SpanKind.CONSUMER
    assert ask.status.status_code is StatusCode.UNSET
    assert dict(ask.attributes or {}) == {
        "baton.workflow.id": wf.id,
        "baton.step.name": "ask",
        "baton.step.attempt": 1,
        "oban.job.id": wf.steps["ask"].job.id,
        "oban.job.worker": "tests.support.event_steps.ReportsUsage",
        "oban.job.queue": "llm",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 2200,  # cached input counts among the input tokens
        "gen_ai.usage.output_tokens": 80,
        "gen_ai.usage.cache_read.input_tokens": 1000,
        "gen_ai.usage.cache_creation.input_tokens": 0,
        "baton.llm.latency_ms": 850.0,
        "baton.llm.cost_usd": pytest.approx(0.000303),  # 1200 x 0.15 + 80 x 0.60 + 1000 x 0.075
        "baton.step.outcome": "performed",
    }

    # Failing has two attempts: two spans, both errors, in the same trace
    failed = named(finished, "baton.step fail")
    assert [span.attributes["baton.step.attempt"] for span in failed] == [1, 2]  # type: ignore[index]
    for span in failed:
        assert span.context.trace_id == trace_id
        assert span.status.status_code is StatusCode.ERROR
        assert [event.name for event in span.events] == ["exception"]


async def test_a_workflow_inserted_in_a_span_joins_its_trace(
    conn: psycopg.AsyncConnection[Any], client: Oban, spans: InMemorySpanExporter
) -> None:
    with trace.get_tracer("test").start_as_current_span("POST /briefs") as request:
        wf = await Workflow(name="in-request").add("only", es.Quick.new()).insert()
    await drain(client)
    finished = spans.get_finished_spans()
    [insert] = named(finished, "baton.insert in-request")
    [step] = named(finished, "baton.step only")
    assert insert.parent is not None and insert.parent.span_id == request.get_span_context().span_id
    assert step.context.trace_id == request.get_span_context().trace_id
    assert step.attributes is not None and step.attributes["baton.step.outcome"] == "performed"
    stored = await stored_traceparent(conn, wf.id)
    assert stored.startswith(f"00-{request.get_span_context().trace_id:032x}-")


async def test_a_workflow_without_a_stored_context_still_gets_one_trace(
    conn: psycopg.AsyncConnection[Any], client: Oban, spans: InMemorySpanExporter
) -> None:
    wf = Workflow(name="untraced").add("a", es.Quick.new()).add("b", es.Quick.new(), deps=["a"])
    await wf.insert()
    # as if inserted where OpenTelemetry was not installed
    await conn.execute("UPDATE baton_workflows SET traceparent = NULL WHERE id = %s", (wf.id,))
    await drain(client)
    finished = spans.get_finished_spans()
    [a] = named(finished, "baton.step a")
    [b] = named(finished, "baton.step b")
    assert a.context.trace_id == b.context.trace_id  # derived from the workflow's id
    assert a.context.trace_id != named(finished, "baton.insert untraced")[0].context.trace_id


@pytest.mark.slow
async def test_a_step_run_by_another_process_joins_the_trace(
    installed: str,
    conn: psycopg.AsyncConnection[Any],
    client: Oban,
    spans: InMemorySpanExporter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exported = tmp_path / "spans.jsonl"
    monkeypatch.setenv(SPANS_ENV, str(exported))
    wf = (
        Workflow(name="two-nodes")
        .add("here", es.ReportsUsage.new({"usage": MINI}))
        .add("there", RemoteAsk.new({}), deps=["here"])
    )
    await wf.insert()
    async with workers(installed, tmp_path) as group:
        extra = ["--queues", "remote:1", "--import", "tests.support.traced_steps"]
        [node] = await group.start(["traced-node"], extra)
        await drain(client, "llm")
        await wait_settled(conn, wf.id, timeout=30)
    [insert] = named(spans.get_finished_spans(), "baton.insert two-nodes")
    [here] = named(spans.get_finished_spans(), "baton.step here")

    remote = [json.loads(line) for line in exported.read_text().splitlines()]
    [there] = [span for span in remote if span["name"] == "baton.step there"]
    assert there["context"]["trace_id"] == f"0x{insert.context.trace_id:032x}"
    assert there["parent_id"] == f"0x{insert.context.span_id:016x}"
    assert here.context.trace_id == insert.context.trace_id
    assert there["resource"]["attributes"]["service.name"] == "remote-node"
    assert there["status"]["status_code"] == "UNSET"
    attributes = there["attributes"]
    assert attributes["baton.workflow.id"] == wf.id
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.usage.input_tokens"] == 300
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 100
    assert attributes["gen_ai.usage.output_tokens"] == 20
    assert node.pid != 0


async def test_a_stored_context_that_is_not_one_is_ignored(
    conn: psycopg.AsyncConnection[Any], client: Oban, spans: InMemorySpanExporter
) -> None:
    wf = Workflow(name="garbled").add("a", es.Quick.new()).add("b", es.Quick.new(), deps=["a"])
    await wf.insert()
    await conn.execute(
        "UPDATE baton_workflows SET traceparent = 'not-a-traceparent' WHERE id = %s", (wf.id,)
    )
    await drain(client)
    finished = spans.get_finished_spans()
    [a] = named(finished, "baton.step a")
    [b] = named(finished, "baton.step b")
    assert a.context.trace_id == b.context.trace_id
    assert a.status.status_code is StatusCode.UNSET


async def test_a_snoozed_attempt_says_so(
    conn: psycopg.AsyncConnection[Any], client: Oban, spans: InMemorySpanExporter
) -> None:
    wf = Workflow(name="snoozy").add("once", es.SnoozeOnce.new())
    await wf.insert()
    await drain(client)
    outcomes = [
        (span.attributes or {}).get("baton.step.outcome")
        for span in named(spans.get_finished_spans(), "baton.step once")
    ]
    assert outcomes == ["snoozed", "performed"]
