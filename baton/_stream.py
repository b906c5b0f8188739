"""``baton.stream(job, text)``: a running step's partial output, sent live as events.

Each executing step has one output channel for as long as its ``perform_workflow`` runs
(the worker opens it with :func:`running`). Text streamed through it is coalesced: at
most one ``StepOutput`` event per step every ``INTERVAL`` seconds, each carrying what
was streamed since the previous one, cut to its last ``MAX_TEXT_BYTES`` bytes (what is
cut is counted in ``skipped``), so a payload stays under PostgreSQL's 8,000-byte NOTIFY
limit and a fast LLM stream costs at most ten NOTIFYs a second. Whatever is pending when
``perform_workflow`` ends is sent then. Nothing is stored unless capture is on for the
attempt (``baton._capture``): then :func:`stream` hands each text, before coalescing, to
``_capture.streamed``, and the attempt's whole streamed text is stored with its captured
calls. Every chunk sent goes through :func:`_send`, the one place that sees the step's
output as it leaves the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from oban import Job, Oban
from psycopg import Error as DatabaseError

from . import _capture, _oban, store
from .errors import InvalidOption, NotAWorkflowStep, StreamError

logger = logging.getLogger("baton")

#: Seconds between two ``StepOutput`` events of one step, at least.
INTERVAL = 0.1
#: Bytes of UTF-8 text one event carries at most (the rest of its payload stays under 900).
MAX_TEXT_BYTES = 7_000


@dataclass(slots=True)
class _Output:
    """The output channel of one executing step attempt."""

    oban: Oban
    job: Job
    workflow_id: str
    step: str
    pending: list[str] = field(default_factory=list)
    pending_bytes: int = 0
    skipped: int = 0
    seq: int = 0
    sent_at: float = float("-inf")
    flusher: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def add(self, text: str) -> None:
        self.pending.append(text)
        self.pending_bytes += len(text.encode())
        while self.pending_bytes > MAX_TEXT_BYTES and len(self.pending) > 1:
            dropped = self.pending.pop(0)  # keep the newest: a viewer wants the latest
            self.skipped += len(dropped)
            self.pending_bytes -= len(dropped.encode())

    def take(self) -> tuple[str, int] | None:
        """The coalesced text to send now, cut to its tail, and the characters skipped."""
        if not self.pending:
            return None
        text = "".join(self.pending)
        skipped = self.skipped
        encoded = text.encode()
        if len(encoded) > MAX_TEXT_BYTES:
            tail = encoded[-MAX_TEXT_BYTES:].decode(errors="ignore")
            skipped += len(text) - len(tail)
            text = tail
        self.pending, self.pending_bytes, self.skipped = [], 0, 0
        return text, skipped


_open: dict[int, _Output] = {}


@contextlib.asynccontextmanager
async def running(oban: Oban, job: Job, workflow_id: str, step: str) -> AsyncIterator[None]:
    """Open the step's output channel while its ``perform_workflow`` runs; flush at the end."""
    output = _Output(oban, job, workflow_id, step)
    _open[id(job)] = output
    try:
        yield
    finally:
        if _open.get(id(job)) is output:
            del _open[id(job)]
        if output.flusher is not None:
            output.flusher.cancel()
        await _flush(output)


def _output_of(job: object) -> _Output:
    if not isinstance(job, Job):
        raise NotAWorkflowStep(
            f"baton.stream takes the job perform_workflow was given, got {type(job).__name__}"
        )
    if "workflow_id" not in job.meta:
        raise NotAWorkflowStep(
            f"job {job.id} ({job.worker}) is not a workflow step: baton.stream sends output "
            "only for steps of a workflow inserted with Workflow.insert()"
        )
    output = _open.get(id(job))
    if output is None or output.job is not job:
        raise StreamError(
            f"step {job.meta.get('workflow_step')!r} of workflow {job.meta['workflow_id']!r} "
            "is not running in this process (its perform_workflow has returned, or it runs "
            "elsewhere): call baton.stream from inside perform_workflow, before it returns"
        )
    return output


async def stream(job: Job, text: str) -> None:
    """Send partial output of the running step as live ``StepOutput`` events.

    Calls are coalesced: at most one event per step every 0.1 s, carrying everything
    streamed since the previous event, up to its last 7,000 bytes (what was cut is counted
    in the event's ``skipped``). The text is not stored, except when capture is on for the
    step: then the whole of it is kept with the attempt's captured calls. Watch it with
    ``baton watch``, the web view, or ``baton.subscribe``.

    Args:
        job: the job ``perform_workflow`` was given.
        text: the output to append (a chunk of an LLM's answer, a progress line).

    Raises:
        NotAWorkflowStep: ``job`` is not a job of a workflow step.
        StreamError: the step is not running in this process (it has returned).
        InvalidOption: ``text`` is not a string.

    Example:
        >>> async for chunk in llm_stream:
        ...     await baton.stream(job, chunk.delta)
    """
    output = _output_of(job)
    if not isinstance(text, str):
        raise InvalidOption(f"baton.stream takes text (a str), got {type(text).__name__}")
    if not text:
        return
    _capture.streamed(job, text)
    output.add(text)
    loop = asyncio.get_running_loop()
    due = output.sent_at + INTERVAL
    if loop.time() >= due and not output.lock.locked():
        await _flush(output)
    elif output.flusher is None or output.flusher.done():
        output.flusher = asyncio.create_task(_flush_at(output, due), name="baton-stream")


async def _flush_at(output: _Output, due: float) -> None:
    await asyncio.sleep(max(0.0, due - asyncio.get_running_loop().time()))
    # Shielded: the step ending cancels this task, and text taken must still be sent.
    await asyncio.shield(_flush(output))


async def _flush(output: _Output) -> None:
    async with output.lock:
        taken = output.take()
        if taken is None:
            return
        output.sent_at = asyncio.get_running_loop().time()
        output.seq += 1
        try:
            await _send(output, output.seq, *taken)
        except DatabaseError as error:  # live output is best effort: the step carries on
            logger.warning("step %r: partial output not sent (%s)", output.step, error)


async def _send(output: _Output, seq: int, text: str, skipped: int) -> None:
    """Broadcast one ``StepOutput`` on the workflow's topics."""
    payload: dict[str, Any] = {
        "type": "output",
        "workflow_id": output.workflow_id,
        "step": output.step,
        "job_id": output.job.id,
        "attempt": output.job.attempt,
        "seq": seq,
        "text": text,
        "skipped": skipped,
        "at": datetime.now(UTC).isoformat(),
    }
    encoded = json.dumps(payload, ensure_ascii=False)
    # JSON escapes (\n, \u0000) can make the payload several times the text's size.
    while len(encoded.encode()) > 7_900 and payload["text"]:
        cut = len(payload["text"]) // 2
        payload["skipped"] += cut
        payload["text"] = payload["text"][cut:]
        encoded = json.dumps(payload, ensure_ascii=False)
    channel = _oban.events_channel(_oban.prefix(output.oban))
    await store.notify_output(output.oban, channel, payload["workflow_id"], encoded)
