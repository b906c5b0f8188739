"""A traced worker for the tracing test's subprocess (``tests/integration/test_tracing.py``).

A ``tests.support.worker_proc`` started with ``--import tests.support.traced_steps`` calls
``use_pool`` once started: the process then exports its spans with the OpenTelemetry SDK,
one JSON object a line (the SDK's own ``Span.to_json``), to the file named by
``BATON_TEST_SPANS``. Importing the module alone (as the test process does, to insert the
step) configures nothing.
"""

from __future__ import annotations

import os
from typing import Any

from oban import Job
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

import baton

SPANS_ENV = "BATON_TEST_SPANS"


def _line(span: ReadableSpan) -> str:
    return span.to_json(indent=None) + "\n"


def use_pool(_pool: Any) -> None:
    """Export this process's spans to the file ``BATON_TEST_SPANS`` names."""
    out = open(os.environ[SPANS_ENV], "a", encoding="utf-8")
    provider = TracerProvider(resource=Resource.create({"service.name": "remote-node"}))
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=_line)))
    trace.set_tracer_provider(provider)


@baton.llm_worker(queue="remote", max_attempts=1)
class RemoteAsk:
    """Returns the usage of an OpenAI-compatible response (as LiteLLM gives it)."""

    async def perform_workflow(self, job: Job) -> Any:
        response = {
            "model": "gpt-4o-mini",
            "usage": {
                "prompt_tokens": 300,
                "completion_tokens": 20,
                "prompt_tokens_details": {"cached_tokens": 100},
            },
        }
        return {"text": "remote", "llm_usage": baton.usage_from(response, latency_ms=12.5)}
