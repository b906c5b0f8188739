"""OpenTelemetry: one span per step attempt, all of one workflow in one trace.

Active when ``opentelemetry-api`` is installed (the ``[otel]`` extra); without it every
function here does nothing and nothing is imported. Spans go to the global tracer provider,
so they are exported only once the application configures the SDK (docs/tracing.md).

The insert runs in a ``baton.insert {name}`` span, a child of whatever span is current (a
web request, say), and stores that span's W3C ``traceparent`` with the workflow. Every
attempt of every step, on whichever node runs it, is a ``baton.step {name}`` span whose
parent is that context. A workflow stored without one (inserted where OpenTelemetry was
absent or not recording) gets a trace id derived from its id, so its steps still share one
trace. Model and usage go in the GenAI semantic-convention attributes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from oban import Cancel, Job, Snooze

from ._usage import LLMUsage

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    ENABLED = True
except ImportError:  # pragma: no cover - installs without the [otel] extra
    ENABLED = False

if TYPE_CHECKING:
    from .store import StepContext

TRACER = "baton"
TRACEPARENT = "traceparent"


def _tracer() -> Any:
    return trace.get_tracer(TRACER)


@contextmanager
def inserting(workflow_id: str, name: str | None, steps: int) -> Iterator[str | None]:
    """A span around a workflow's insert; yields its ``traceparent`` (None if not recording)."""
    if not ENABLED:
        yield None
        return
    attributes = {"baton.workflow.id": workflow_id, "baton.workflow.steps": steps}
    if name:
        attributes["baton.workflow.name"] = name
    with _tracer().start_as_current_span(
        f"baton.insert {name or 'workflow'}", kind=trace.SpanKind.PRODUCER, attributes=attributes
    ) as span:
        if not span.get_span_context().is_valid:
            yield None
            return
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
        yield carrier.get(TRACEPARENT)


def _parent(traceparent: str | None, workflow_id: str) -> Any:
    """The context a step's span is started in: the stored one, else derived from the id."""
    if traceparent:
        extracted = TraceContextTextMapPropagator().extract({TRACEPARENT: traceparent})
        if trace.get_current_span(extracted).get_span_context().is_valid:
            return extracted
    digest = hashlib.sha256(workflow_id.encode()).digest()
    derived = trace.SpanContext(
        trace_id=int.from_bytes(digest[:16]) or 1,
        span_id=int.from_bytes(digest[16:24]) or 1,
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(derived), otel_context.Context())


async def attempt(job: Job, step: StepContext, call: Callable[[], Awaitable[Any]]) -> Any:
    """Run one attempt of a workflow step in its span; an exception marks the span an error."""
    if not ENABLED:
        return await call()
    attributes: dict[str, Any] = {
        "baton.workflow.id": step.workflow_id,
        "baton.step.name": step.name,
        "baton.step.attempt": job.attempt,
        "oban.job.id": job.id or 0,
        "oban.job.worker": job.worker,
        "oban.job.queue": job.queue,
    }
    model = job.meta.get("workflow_model")
    if isinstance(model, str):
        attributes["gen_ai.request.model"] = model
    with _tracer().start_as_current_span(
        f"baton.step {step.name}",
        context=_parent(step.traceparent, step.workflow_id),
        kind=trace.SpanKind.CONSUMER,
        attributes=attributes,
    ) as span:
        outcome = await call()
        match outcome:
            case Snooze():
                span.set_attribute("baton.step.outcome", "snoozed")
            case Cancel():
                span.set_attribute("baton.step.outcome", "cancelled")
            case _:
                span.set_attribute("baton.step.outcome", "performed")
        return outcome


def record_usage(usage: LLMUsage, cost: str | None) -> None:
    """Put a step's reported usage on the current step span (GenAI attributes)."""
    if not ENABLED:
        return
    span = trace.get_current_span()
    if not span.is_recording():
        return
    attributes: dict[str, Any] = {
        # the semantic conventions count cached input among the input tokens
        "gen_ai.usage.input_tokens": usage.input_tokens
        + usage.cache_read_tokens
        + usage.cache_write_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": usage.cache_read_tokens,
        "gen_ai.usage.cache_creation.input_tokens": usage.cache_write_tokens,
    }
    if usage.model:
        attributes["gen_ai.response.model"] = usage.model
        if "gen_ai.request.model" not in _attributes(span):
            attributes["gen_ai.request.model"] = usage.model
    if usage.latency_ms is not None:
        attributes["baton.llm.latency_ms"] = float(usage.latency_ms)
    if cost is not None:
        attributes["baton.llm.cost_usd"] = float(Decimal(cost))
    span.set_attributes(attributes)


def _attributes(span: Any) -> Any:
    """The attributes already set on an SDK span (empty for other implementations)."""
    return getattr(span, "attributes", None) or {}
