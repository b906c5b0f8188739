"""Interrupting ``perform_workflow`` when its job is cancelled while it runs.

Oban 0.7 cancels an executing job only by a signal to the node running it: the job's
row stays ``executing`` and ``job.cancelled()`` turns true, while the work itself goes on
(a step awaiting an LLM call keeps waiting, and paying). So Baton waits for that signal
beside ``perform_workflow`` and, when it arrives, cancels the task running it: the step
stops at the ``await`` it is in, and the job is acked ``cancelled``.

The task is Oban's own (no second task runs the step), so ``job`` and Oban's
``current_job()`` stay as they are, and the counting of cancellation requests follows
``asyncio.timeout``: Baton takes back only its own request, so a timeout or a shutdown
that cancels the task at the same moment still propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from oban import Cancel, Job

from . import _oban


def reason(job: Job) -> str:
    """The error an interrupted job is cancelled with."""
    where = f"job {job.id}"
    if "workflow_id" in job.meta:
        where = f"step {job.meta.get('workflow_step')!r} of workflow {job.meta['workflow_id']!r}"
    return f"{where} was cancelled while it ran: perform_workflow was interrupted"


class _Watch:
    """Cancels ``task`` once the cancellation event is set, unless the work ended first."""

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.fired = False
        self.over = False

    def fire(self, watcher: asyncio.Task[object]) -> None:
        if not self.over and not watcher.cancelled():
            self.fired = True
            self.task.cancel("baton: the job was cancelled")


async def perform[T](work: Callable[[], Awaitable[T]], job: Job) -> T | Cancel:
    """``await work()``, or a ``Cancel`` if ``job`` is cancelled before it returns.

    A value ``work`` returns after the signal (it caught the cancellation, or finished in
    the same instant) is dropped as well: once a cancel is seen, nothing is stored.
    Outside an Oban queue (a test calling the worker directly) it is ``await work()``.
    """
    signal = _oban.cancellation(job)
    task = asyncio.current_task()
    if signal is None or task is None:
        return await work()
    if signal.is_set():
        return Cancel(reason(job))
    watch = _Watch(task)
    watcher = asyncio.ensure_future(signal.wait())
    watcher.add_done_callback(watch.fire)
    try:
        outcome = await work()
    except asyncio.CancelledError:
        if watch.fired and task.uncancel() == 0:
            return Cancel(reason(job))
        raise
    finally:
        watch.over = True
        watcher.cancel()
    if watch.fired:
        task.uncancel()  # the work caught the cancellation and returned
    if watch.fired or signal.is_set():
        return Cancel(reason(job))
    return outcome
