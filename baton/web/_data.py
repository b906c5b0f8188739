"""What the web view shows, as JSON-ready dicts: the workflow list and one workflow's detail.

Everything is read from Baton's tables (so pruned jobs still show) through the public
read side (``baton.status``, ``baton.usage``) plus three queries of its own in
``baton/web/sql``. Times are ISO 8601 in UTC, costs are decimal strings.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from oban import Oban

from .. import _limits, _oban, store
from .._capture import calls
from .._control import list_workflows as summarise
from .._control import status, usage
from .._flow_view import flow_note
from .._graph import nesting_order
from .._names import namespaces
from .._pool import open_pool
from .._redact import check_dsn
from .._status import StepStatus, StepUsage, WorkflowStatus, WorkflowUsage
from ..errors import InvalidOption, UnknownWorkflow

PREVIEW_CHARS = 500
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
WORKFLOW_STATES = ("running", "completed", "failed", "cancelled")
POOL_TIMEOUT = 5.0  # seconds a request waits for a connection of the app's own pool, then 503


class Source:
    """Where the view reads: an Oban instance (or its name), or a DSN of its own.

    With a DSN, a small pool and a client-only Oban instance (no queues, no leadership)
    are made on first use, so the app also works mounted into a host app whose lifespan
    never reaches it.
    """

    def __init__(self, oban: Oban | str | None, dsn: str | None, prefix: str) -> None:
        if oban is not None and dsn is not None:
            raise InvalidOption("pass either oban= or dsn=, not both")
        self._oban = oban
        self._dsn = None if dsn is None else check_dsn(dsn)
        self._prefix = prefix
        self._own: Oban | None = None
        self._pool: Any = None
        self._lock = asyncio.Lock()

    async def oban(self) -> Oban:
        """The Oban instance to read through (made on first use when given a DSN)."""
        if self._dsn is None:
            return _oban.instance(self._oban)
        async with self._lock:
            if self._own is None:
                self._pool = await open_pool(
                    self._dsn, min_size=1, max_size=5, timeout=POOL_TIMEOUT
                )
                self._own = Oban(
                    pool=self._pool,
                    name=f"baton-web-{id(self):x}",
                    prefix=self._prefix,
                    leadership=False,
                )
            return self._own

    def subscribe_options(self) -> dict[str, Any]:
        """Keyword arguments for ``baton.subscribe`` on the same database."""
        if self._dsn is not None:
            return {"dsn": self._dsn, "prefix": self._prefix}
        return {"oban": self._oban}

    async def close(self) -> None:
        """Close the pool made for a DSN, if any."""
        async with self._lock:
            pool, self._pool, self._own = self._pool, None, None
        if pool is not None:
            await pool.close()


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() * 1000, 1)


async def list_workflows(
    source: Source, *, limit: int = DEFAULT_LIMIT, state: str | None = None
) -> dict[str, Any]:
    """The newest workflows first, optionally only those in one state."""
    summaries = await summarise(limit=limit, state=state, oban=await source.oban())
    now = datetime.now(UTC)
    workflows = [
        {
            "id": summary.id,
            "name": summary.name,
            "state": summary.state,
            "steps": summary.step_count,
            "settled": summary.settled_steps,
            "inserted_at": _iso(summary.inserted_at),
            "finished_at": _iso(summary.finished_at),
            "duration_ms": round(summary.duration_ms, 1),
        }
        for summary in summaries
    ]
    return {"workflows": workflows, "limit": limit, "state": state, "generated_at": _iso(now)}


async def check_exists(source: Source, workflow_id: str) -> None:
    """Raise ``UnknownWorkflow`` unless a workflow has that id (one cheap query)."""
    if not await store.workflow_exists(await source.oban(), workflow_id):
        raise UnknownWorkflow(f"no workflow with id {workflow_id!r}")


def layers(names: Sequence[str], edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Each step's layer: the length of the longest path to it from a step without deps."""
    upstream: dict[str, list[str]] = {name: [] for name in names}
    downstream: dict[str, list[str]] = {name: [] for name in names}
    for up, down in edges:
        if up in upstream and down in upstream:
            upstream[down].append(up)
            downstream[up].append(down)
    waiting = {name: len(ups) for name, ups in upstream.items()}
    layer = dict.fromkeys(names, 0)
    ready = [name for name in names if waiting[name] == 0]
    while ready:
        name = ready.pop()
        for down in downstream[name]:
            layer[down] = max(layer[down], layer[name] + 1)
            waiting[down] -= 1
            if waiting[down] == 0:
                ready.append(down)
    return layer


def _usage(record: StepUsage | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "model": record.model,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cache_read_tokens": record.cache_read_tokens,
        "cache_write_tokens": record.cache_write_tokens,
        "latency_ms": record.latency_ms,
        "cost_usd": _money(record.cost_usd),
    }


def _step(
    step: StepStatus,
    layer: int,
    preview: str | None,
    record: StepUsage | None,
) -> dict[str, Any]:
    truncated = preview is not None and len(preview) > PREVIEW_CHARS
    return {
        "name": step.name,
        "state": step.state,
        "worker": step.worker,
        "attempt": step.attempt,
        "max_attempts": step.max_attempts,
        "deps": list(step.deps),
        "group": step.group,
        "model": step.model,
        "queue": step.queue,
        "scheduled_at": _iso(step.scheduled_at),
        "parent": step.parent,
        "layer": layer,
        "inserted_at": _iso(step.inserted_at),
        "attempted_at": _iso(step.attempted_at),
        "settled_at": _iso(step.settled_at),
        "wait_ms": _ms(step.inserted_at, step.attempted_at),
        "run_ms": _ms(step.attempted_at, step.settled_at),
        "error": step.error,
        "result_stored": step.result_stored,
        "result_preview": preview[:PREVIEW_CHARS] if preview is not None else None,
        "result_truncated": truncated,
        "cost_usd": _money(step.cost_usd),
        "usage": _usage(record),
        # signals: a signal step, when its signal came and when its wait ends
        "signal": step.signal,
        "signalled_at": _iso(step.signalled_at),
        "signal_due_at": _iso(step.signal_due_at),
    }


def _totals(spent: WorkflowUsage) -> dict[str, Any]:
    priced = len(spent.unpriced_steps) < len(spent.steps)
    return {
        "input_tokens": spent.input_tokens,
        "output_tokens": spent.output_tokens,
        "cache_read_tokens": spent.cache_read_tokens,
        "cache_write_tokens": spent.cache_write_tokens,
        # None, not "0", when no step's cost is known: every step unpriced is no total
        "cost_usd": _money(spent.cost_usd) if priced else None,
        "unpriced_steps": list(spent.unpriced_steps),
    }


def namespace_members(names: Iterable[str]) -> dict[str, list[str]]:
    """Each namespace (sub-workflow, or step that added steps) to every step under it.

    A step counts in each namespace around it: ``a/b/c`` is in ``a`` and in ``a/b``.
    """
    members: dict[str, list[str]] = {}
    for name in names:
        for path in reversed(namespaces(name)):
            members.setdefault(path, []).append(name)
    return members


async def workflow_detail(source: Source, workflow_id: str) -> dict[str, Any]:
    """Status, steps with layers, edges, groups, result previews and usage of a workflow.

    Steps are in nesting order: a sub-workflow's steps together, the steps a step added
    at run time right after it. ``namespaces`` maps each sub-workflow or adding step's
    path to the steps under it, as ``groups`` maps each group to its members.

    Raises:
        UnknownWorkflow: no workflow has that id.
    """
    instance = await source.oban()
    report: WorkflowStatus = await status(workflow_id, oban=instance)
    spent = await usage(workflow_id, oban=instance)
    found, stored = await store.edges_and_previews(instance, workflow_id, PREVIEW_CHARS)
    edges = [(edge.upstream, edge.downstream) for edge in found]
    previews = {preview.name: preview.preview for preview in stored}
    by_name = {step.name: step for step in report.steps}
    names = nesting_order(list(by_name))
    ordered = [by_name[name] for name in names]
    depth = layers(names, edges)
    by_step = {record.step: record for record in spent.steps}
    captured = await store.call_counts(instance, workflow_id)
    groups: dict[str, list[str]] = {}
    for step in ordered:
        if step.group is not None:
            groups.setdefault(step.group, []).append(step.name)
    return {
        "id": report.id,
        "name": report.name,
        "state": report.state,
        "reason": report.reason,
        "counts": report.counts,
        "inserted_at": _iso(report.inserted_at),
        "finished_at": _iso(report.finished_at),
        "duration_ms": round(report.duration_ms, 1),
        "cost_usd": _money(report.cost_usd),
        "usage": _totals(spent),
        "unserved_queues": {queue: list(names) for queue, names in report.unserved_queues.items()},
        "deadline_at": _iso(report.deadline_at),
        "unique_key": report.unique_key,
        "flow": flow_note(report, datetime.now(UTC)),
        "steps": [
            {
                **_step(step, depth[step.name], previews.get(step.name), by_step.get(step.name)),
                "calls": captured.get(step.name, 0),
            }
            for step in ordered
        ],
        "edges": [list(edge) for edge in edges],
        "groups": groups,
        "namespaces": namespace_members(names),
        "generated_at": _iso(datetime.now(UTC)),
    }


async def limits(source: Source) -> dict[str, Any]:
    """``/api/limits``: every rate limit, what its window holds now, and its pause."""
    found = await _limits.limits(oban=await source.oban())
    return {
        "limits": [
            {
                "key": item.key,
                "requests_per_minute": item.requests_per_minute,
                "tokens_per_minute": item.tokens_per_minute,
                "window_seconds": item.window_seconds,
                "requests_per_window": item.requests_per_window,
                "tokens_per_window": item.tokens_per_window,
                "requests_used": item.requests_used,
                "tokens_used": item.tokens_used,
                "paused_until": _iso(item.paused_until),
            }
            for item in found
        ],
        "generated_at": _iso(datetime.now(UTC)),
    }


async def workflow_calls(source: Source, workflow_id: str, step: str | None) -> list[Any]:
    """The calls a workflow's steps captured (one step's with ``step``), as JSON values.

    Raises:
        UnknownWorkflow: no workflow has that id.
    """
    found = await calls(workflow_id, step=step, oban=await source.oban())
    return [{**dataclasses.asdict(call), "captured_at": _iso(call.captured_at)} for call in found]
