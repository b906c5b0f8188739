"""The driver's side of the Celery peer: send chains and chords, read their results.

Results are read straight from the Redis backend's keys (``celery-task-meta-<id>``),
polled every few milliseconds: ``AsyncResult.get()`` on a chord polls every header
result and would skew the measurement with client CPU. Import after setting
``BENCH_REDIS_URL`` (``benchmarks.celery_app`` reads it at import).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from typing import Any

import redis
from celery import chain, chord
from celery.result import AsyncResult, GroupResult

from benchmarks.celery_app import REDIS_URL, app, join, step

_redis = redis.Redis.from_url(REDIS_URL)
META = "celery-task-meta-"

# The Redis backend subscribes the sending client to every task's result channel, to
# resolve AsyncResult.get() without polling, and unsubscribes as each AsyncResult is
# collected. This client reads the result keys instead, so it does not subscribe: no
# pub/sub traffic to a client that never reads it, and no unsubscribing from __del__
# while the interpreter shuts down.
app.backend.on_task_call = lambda *_: None


class CeleryTaskFailed(RuntimeError):
    pass


def flush() -> None:
    """Empty the benchmark's Redis database (and only that one)."""
    _redis.flushdb()


def close() -> None:
    """Drop the client's result subscriptions and empty the database.

    Applying a group subscribes the client to each member's result channel anyway (its
    ready barrier), and each AsyncResult unsubscribes when collected; forgetting the
    subscriptions here keeps that from happening while the interpreter shuts down.
    """
    gc.collect()
    consumer = app.backend.result_consumer
    with contextlib.suppress(Exception):
        consumer.subscribed_to.clear()
        consumer.stop()
    flush()


def redis_version() -> str:
    return str(_redis.info("server").get("redis_version", "?"))


async def wait_result(task_id: str, timeout: float, interval: float = 0.005) -> Any:
    """The result of a task, polled from its backend key until it is stored."""
    deadline = time.monotonic() + timeout
    key = META + task_id
    while True:
        raw = _redis.get(key)
        if raw is not None:
            meta = json.loads(raw)
            if meta["status"] == "SUCCESS":
                return meta["result"]
            if meta["status"] in ("FAILURE", "REVOKED"):
                raise CeleryTaskFailed(f"task {task_id}: {meta['status']} {meta.get('result')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"Celery task {task_id} gave no result within {timeout:.0f} s")
        await asyncio.sleep(interval)


def results(task_ids: list[str]) -> list[Any]:
    """The stored results of many tasks, in order (None where none is stored)."""
    found: list[Any] = []
    for i in range(0, len(task_ids), 1000):
        raws = _redis.mget([META + task_id for task_id in task_ids[i : i + 1000]])
        found.extend(None if raw is None else json.loads(raw).get("result") for raw in raws)
    return found


async def all_results(task_ids: list[str], timeout: float) -> list[Any]:
    """The results of many tasks, waiting up to ``timeout`` for the stragglers."""
    deadline = time.monotonic() + timeout
    found = results(task_ids)
    while any(r is None for r in found) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        found = results(task_ids)
    return found


def forget(task_ids: list[str]) -> None:
    for i in range(0, len(task_ids), 1000):
        _redis.delete(*(META + task_id for task_id in task_ids[i : i + 1000]))


async def ping(queue: str, timeout: float) -> None:
    sent = step.si().set(queue=queue).apply_async()
    await wait_result(sent.id, timeout, interval=0.05)
    forget([sent.id])


async def run_chain(queue: str, length: int, timeout: float) -> tuple[float, list[list[float]]]:
    """A chain of ``length`` no-op tasks; returns the send time and each ``[start, end]``."""
    flow = chain(*(step.si().set(queue=queue) for _ in range(length)))
    sent_at = time.time()
    last = flow.apply_async()
    ids: list[str] = []
    node: AsyncResult | None = last
    while node is not None:
        ids.append(node.id)
        node = node.parent
    ids.reverse()
    await wait_result(last.id, timeout)
    # A chain link sends the next message before it stores its own result, so the last
    # result can be there before an earlier one.
    pairs = await all_results(ids, 10.0)
    forget(ids)
    if len(pairs) != length or any(pair is None for pair in pairs):
        raise CeleryTaskFailed(
            f"chain of {length}: {sum(p is None for p in pairs)} results missing"
        )
    return sent_at, pairs


async def run_chord(queue: str, width: int, timeout: float) -> dict[str, Any]:
    """``start → chord(width x step, join)``; returns the send time and the timestamps."""
    header = [step.si().set(queue=queue) for _ in range(width)]
    flow = chain(step.si().set(queue=queue), chord(header, join.s().set(queue=queue)))
    sent_at = time.time()
    body = flow.apply_async()
    joined = await wait_result(body.id, timeout, interval=0.01)
    members: list[str] = []
    first: str | None = None
    parent = body.parent
    if isinstance(parent, GroupResult):
        members = [child.id for child in parent.results]
        if parent.parent is not None:
            first = parent.parent.id
    header_pairs = [pair for pair in await all_results(members, 10.0) if pair is not None]
    first_pair = (await all_results([first], 10.0))[0] if first else None
    forget([body.id, *members, *([first] if first else [])])
    return {
        "sent_at": sent_at,
        "start": first_pair,
        "join": joined,
        "last_member_end": max((pair[1] for pair in header_pairs), default=None),
        "members_seen": len(header_pairs),
    }
