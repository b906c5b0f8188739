"""Every ``# runnable`` example in docs/*.md, executed against the test database."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

import baton
from tests.support.db import step_values

DOCS = Path(__file__).parents[2] / "docs"


def runnable(doc: str) -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / doc).read_text(encoding="utf-8"), re.S)
    return [block for block in blocks if block.startswith("# runnable\n")]


async def run_example(doc: str, index: int, dsn: str) -> Any:
    namespace: dict[str, Any] = {"__name__": f"docs_{doc[:-3]}_{index}"}
    exec(compile(runnable(doc)[index], str(DOCS / doc), "exec"), namespace)  # noqa: S102
    return await namespace["main"](dsn)


@pytest.mark.parametrize(
    "doc",
    [
        "events.md",
        "llm.md",
        "operations.md",
        "workflows.md",
        "architecture.md",
        "fan-out.md",
        "subworkflows.md",
        "models.md",
        "context.md",
        "templates.md",
        "deadlines.md",
        "unique.md",
        "waiting.md",
        "streaming.md",
        "schedules.md",
        "branches.md",
        "usage.md",
        "tracing.md",
        "signals.md",
        "rate-limits.md",
        "budgets.md",
        "captured-calls.md",
    ],
)
def test_docs_examples_are_all_checked(doc: str) -> None:
    expected = {
        "events.md": 1,
        "llm.md": 1,
        "operations.md": 2,
        "fan-out.md": 1,
        "subworkflows.md": 1,
        "models.md": 1,
        "context.md": 1,
        "templates.md": 1,
        "deadlines.md": 1,
        "unique.md": 1,
        "waiting.md": 1,
        "streaming.md": 1,
        "schedules.md": 1,
        "branches.md": 1,
        "usage.md": 1,
        "tracing.md": 1,
        "signals.md": 1,
        "rate-limits.md": 1,
        "budgets.md": 1,
        "captured-calls.md": 1,
    }
    assert len(runnable(doc)) == expected.get(doc, 0)


async def test_events_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    finished = await run_example("events.md", 0, installed)
    assert isinstance(finished, baton.WorkflowFinished)
    assert finished.outcome == "completed"
    assert finished.failed_steps == ()


async def test_llm_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    spent = await run_example("llm.md", 0, installed)
    assert spent.cost_usd == Decimal("0.000228")
    assert (spent.input_tokens, spent.output_tokens) == (1200, 80)
    assert [step.step for step in spent.steps] == ["summarize"]
    stored = await (await conn.execute("SELECT result FROM baton_steps")).fetchone()
    assert stored == ({"value": {"summary": "Baton runs DAGs on Oban."}},)


async def test_rate_limits_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    status, limit = await run_example("rate-limits.md", 0, installed)
    assert status.state == "completed"
    assert [(step.state, step.attempt) for step in status.steps] == [("completed", 1)] * 5
    assert (limit.requests_per_window, limit.tokens_per_window) == (2, 10_000)
    # the steps that found no room were snoozed, their attempts given back
    snoozed = await (
        await conn.execute("SELECT count(*) FROM oban_jobs WHERE (meta->>'snoozed')::int > 0")
    ).fetchone()
    assert snoozed is not None and snoozed[0] >= 3
    # each call's 1,000-token estimate was replaced by the 350 tokens it reported
    charged = await (
        await conn.execute("SELECT array_agg(DISTINCT tokens) FROM baton_limit_calls")
    ).fetchone()
    assert charged == ([350],)


async def test_operations_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    first, rerun, last = await run_example("operations.md", 0, installed)
    assert first.state == "failed"
    assert first.step("flaky").state == "discarded"
    assert "upstream API down" in (first.step("flaky").error or "")
    assert first.step("after").state == "cancelled"
    assert rerun == ["flaky", "after"]
    assert last.state == "cancelled"


async def test_testing_helper_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    results = await run_example("operations.md", 1, installed)
    assert results == {
        "double[0]": 2,
        "double[1]": 4,
        "double[2]": 6,
        "double": [2, 4, 6],
        "total": 12,
    }


async def test_fan_out_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    report = await run_example("fan-out.md", 0, installed)
    assert report.state == "completed"
    docs = [f"doc about baton #{n} (1 of 3)" for n in range(3)]
    assert await step_values(conn, report.id) == {
        "search": {"found": 3},
        "report": docs,
        **{f"search/summary[{n}]": doc for n, doc in enumerate(docs)},
    }


async def test_subworkflows_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    report = await run_example("subworkflows.md", 0, installed)
    assert report.state == "completed"
    assert [step.name for step in report.steps] == [
        "python/search",
        "python/summarize",
        "elixir/search",
        "elixir/summarize",
        "compare",
    ]
    found = await step_values(conn, report.id)
    assert found["compare"] == {
        "python": "2 results",
        "elixir": {
            "search": ["elixir result 0", "elixir result 1"],
            "summarize": "2 results",
        },
    }


async def test_models_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    report, spent = await run_example("models.md", 0, installed)
    assert [(step.name, step.model) for step in report.steps] == [
        ("draft[0]", "gpt-4o"),
        ("draft[1]", "claude-sonnet-4"),
        ("pick", "gpt-4o-mini"),
    ]
    found = await step_values(conn, report.id)
    assert found["pick"] == {
        "model": "gpt-4o",
        "text": "Baton, as gpt-4o puts it",
        "judge": "gpt-4o-mini",
    }
    assert {(row.step, row.model) for row in spent.steps} == {
        ("draft[0]", "gpt-4o"),
        ("draft[1]", "claude-sonnet-4"),
    }
    assert spent.cost_usd > 0


async def test_context_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    report = await run_example("context.md", 0, installed)
    assert report.state == "completed"
    assert await step_values(conn, report.id) == {
        "detect": "acme",
        "write": "for engineers at acme, in fr",
    }


async def test_deadlines_example(installed: str) -> None:
    finished, report, results = await run_example("deadlines.md", 0, installed)
    assert (finished.outcome, finished.reason) == ("failed", "deadline")
    assert (report.state, report.reason) == ("failed", "deadline")
    assert report.step("draft").state == "completed"
    assert report.step("review").state == "cancelled"
    assert results == {"draft": {"draft": "Thanks for writing in!"}}


async def test_unique_example(installed: str) -> None:
    first, duplicate, again = await run_example("unique.md", 0, installed)
    assert duplicate.workflow_id == first
    assert duplicate.unique_key == "ticket:42"
    assert again != first


async def test_waiting_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    final, answer, again = await run_example("waiting.md", 0, installed)
    assert (final.state, final.finished_at is not None) == ("completed", True)
    assert answer == "an essay about Baton"
    assert (again.id, again.state, again.finished_at) == (final.id, "completed", final.finished_at)


async def test_streaming_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    streamed, result = await run_example("streaming.md", 0, installed)
    assert streamed == result == "Baton streams partial output."
    stored = await (await conn.execute("SELECT result FROM baton_steps")).fetchall()
    assert stored == [({"value": "Baton streams partial output."},)]  # the result, no output


@pytest.mark.slow
@pytest.mark.timeout(150)
async def test_schedules_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    """Waits for the next minute's tick of Oban's scheduler (up to a minute)."""
    await conn.execute("TRUNCATE baton_schedule_ticks")
    final, beat = await run_example("schedules.md", 0, installed)
    assert (final.name, final.state) == ("heartbeat", "completed")
    [(tick,)] = await (
        await conn.execute(
            "SELECT tick FROM baton_schedule_ticks "
            "WHERE schedule = 'heartbeat' AND workflow_id = %s",
            (final.id,),
        )
    ).fetchall()
    assert beat == f"alive at {tick.isoformat()}"
    assert baton.schedules() == ()  # the example unscheduled it


async def test_branches_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    report, results = await run_example("branches.md", 0, installed)
    assert report.state == "completed"
    assert {step.name: step.state for step in report.steps} == {
        "route": "completed",
        "refund": "completed",
        "answer": "skipped",
        "reply": "completed",
    }
    assert results == {
        "route": {"kind": "refund"},
        "refund": "refund of 20 EUR issued",
        "reply": {"reply": "refund of 20 EUR issued", "note": "answer was skipped"},
    }


async def test_usage_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    report = await run_example("usage.md", 0, installed)
    mini = report.group("gpt-4o-mini")
    assert (mini.calls, mini.input_tokens, mini.cache_read_tokens) == (2, 400, 2000)
    assert mini.cost_usd == Decimal("0.000306")
    assert mini.latency_p50_ms == 850
    assert report.total.cost_usd == Decimal("0.000306")


TRACING_RUNNER = """
import asyncio, json, re, sys
from pathlib import Path
text = Path("docs/tracing.md").read_text(encoding="utf-8")
blocks = re.findall(r"```python\\n(.*?)```", text, re.S)
[block] = [b for b in blocks if b.startswith("# runnable\\n")]
namespace = {"__name__": "docs_tracing"}
exec(compile(block, "docs/tracing.md", "exec"), namespace)
spans = asyncio.run(namespace["main"](sys.argv[1]))
rows = [[name, format(trace_id, "032x"), attributes] for name, trace_id, attributes in spans]
print(json.dumps(rows))
"""


async def test_tracing_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    # its own process: the example sets the global tracer provider, which is set only once
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        TRACING_RUNNER,
        installed,
        cwd=DOCS.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    spans = json.loads(out)
    assert sorted(name for name, _trace, _attributes in spans) == [
        "baton.insert post",
        "baton.step draft",
        "baton.step publish",
    ]
    assert len({trace for _name, trace, _attributes in spans}) == 1
    [draft] = [attributes for name, _trace, attributes in spans if name == "baton.step draft"]
    assert draft["gen_ai.request.model"] == "gpt-4o-mini"
    assert (draft["gen_ai.usage.input_tokens"], draft["gen_ai.usage.output_tokens"]) == (900, 60)


async def test_signals_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    results = await run_example("signals.md", 0, installed)
    assert results == {
        "draft": {"text": "Your refund is on its way."},
        "approve": {"ok": True, "by": "ana"},
        "send": "sent 'Your refund is on its way.', approved by ana",
    }


async def test_budgets_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    finished, report = await run_example("budgets.md", 0, installed)
    assert (finished.outcome, finished.reason) == ("failed", "budget")
    assert (report.state, report.reason) == ("failed", "budget")
    assert report.cost_usd == Decimal("0.30")
    assert [report.step(f"ask{i}").state for i in range(4)] == [
        "completed",
        "completed",
        "completed",
        "cancelled",
    ]
    assert report.step("ask3").attempt == 0


async def test_captured_calls_example(installed: str, conn: psycopg.AsyncConnection[Any]) -> None:
    calls = await run_example("captured-calls.md", 0, installed)
    assert [(call.attempt, call.kind, call.response) for call in calls] == [
        (1, "call", {"text": "attempt 1"}),
        (2, "call", {"text": "attempt 2"}),
        (2, "stream", {"baton_stream": "DAGs on Oban", "chunks": 2, "chars": 12}),
    ]
    assert {call.request["headers"]["Authorization"] for call in calls[:2]} == {"***"}
    assert calls[2].request is None
