"""Live events: every step transition and each workflow's end, over LISTEN/NOTIFY.

The database broadcasts each event once on one channel (``<prefix>.baton_events``); each
process keeps one listening connection per database and fans events out to its local
subscribers by topic: ``workflow:<id>`` and ``workflow:all`` both receive every event of
a workflow. Each received event is also executed as an Oban telemetry event
(``baton.step.<state>``, ``baton.workflow.finished``) in the receiving process. The
database sends a workflow's events only while some process has registered a subscriber
for it or for ``workflow:all`` (``baton._presence``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Self

from oban import Oban, telemetry
from psycopg import AsyncConnection, InterfaceError, OperationalError

from . import _oban, store
from ._presence import Presence
from ._redact import check_dsn

logger = logging.getLogger("baton")

ALL = "workflow:all"
DEFAULT_QUEUE_SIZE = 10_000
HEALTH_CHECK_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class StepEvent:
    """A step changed state.

    ``state`` is one of ``executing``, ``snoozed``, ``completed``, ``retryable``,
    ``discarded``, ``cancelled``, ``deleted``, ``skipped`` (a branch not taken, see
    ``Complete(skip=...)``). ``cached`` marks a completion that returned
    a result stored by an earlier attempt; ``error`` is the last error, truncated.
    """

    workflow_id: str
    workflow_name: str | None
    step: str
    worker: str
    state: str
    job_id: int
    attempt: int
    result_stored: bool
    cached: bool
    error: str | None
    at: datetime

    @property
    def topics(self) -> tuple[str, str]:
        return (f"workflow:{self.workflow_id}", ALL)

    @property
    def path(self) -> tuple[str, ...]:
        """The step's place in the workflow: ``("research", "fetch")`` for a step of the
        sub-workflow ``research``, ``("plan", "summary[0]")`` for one ``plan`` added."""
        return tuple(self.step.split("/"))


@dataclass(frozen=True, slots=True)
class StepsAdded:
    """A running step added steps to its workflow (``baton.Complete(add=...)``).

    Sent when the adding step's result is stored, before it completes. ``steps`` lists up
    to 40 of the ``count`` steps added, by path.
    """

    workflow_id: str
    workflow_name: str | None
    step: str
    count: int
    steps: tuple[str, ...]
    at: datetime

    @property
    def topics(self) -> tuple[str, str]:
        return (f"workflow:{self.workflow_id}", ALL)


@dataclass(frozen=True, slots=True)
class WorkflowFinished:
    """Every step of a workflow has settled; sent exactly once per workflow.

    ``outcome`` is ``completed`` when every step completed or was skipped, else
    ``failed``; ``failed_steps`` lists up to 40 of the ``failed_count`` steps that did not
    complete (skipped steps are not among them).
    ``reason`` says why a workflow failed as a whole (``deadline``, ``budget``); None when
    it finished by its steps' own outcomes.
    """

    workflow_id: str
    workflow_name: str | None
    outcome: str
    failed_steps: tuple[str, ...]
    failed_count: int
    duration_ms: int
    at: datetime
    reason: str | None = None

    @property
    def topics(self) -> tuple[str, str]:
        return (f"workflow:{self.workflow_id}", ALL)


@dataclass(frozen=True, slots=True)
class StepOutput:
    """Partial output a running step streamed with ``baton.stream(job, text)``; not stored.

    ``text`` is what the step streamed since its previous ``StepOutput`` (several calls
    coalesced into one event); ``seq`` counts the events of this attempt from 1;
    ``skipped`` is the number of characters dropped before ``text`` because the step
    streamed faster than events are sent (see docs/streaming.md for the bounds).
    """

    workflow_id: str
    step: str
    job_id: int
    attempt: int
    seq: int
    text: str
    skipped: int
    at: datetime

    @property
    def topics(self) -> tuple[str, str]:
        return (f"workflow:{self.workflow_id}", ALL)


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The listening connection was lost and is back; events in between were missed.

    Resynchronise with ``baton.status(workflow_id)`` and carry on reading events.
    """

    at: datetime
    topics: tuple[str, ...] = (ALL,)


type Event = StepEvent | StepsAdded | WorkflowFinished | StepOutput | Reconnected
type WorkflowEvent = StepEvent | StepsAdded | WorkflowFinished | StepOutput


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse(payload: str) -> WorkflowEvent | None:
    """The event in a NOTIFY payload, or None for a payload of an unknown type."""
    data = json.loads(payload)
    match data.get("type"):
        case "step":
            return StepEvent(
                workflow_id=data["workflow_id"],
                workflow_name=data.get("workflow_name"),
                step=data["step"],
                worker=data["worker"],
                state=data["state"],
                job_id=data["job_id"],
                attempt=data["attempt"],
                result_stored=data["result_stored"],
                cached=data["cached"],
                error=data.get("error"),
                at=_timestamp(data["at"]),
            )
        case "added":
            return StepsAdded(
                workflow_id=data["workflow_id"],
                workflow_name=data.get("workflow_name"),
                step=data["step"],
                count=data["count"],
                steps=tuple(data.get("steps") or ()),
                at=_timestamp(data["at"]),
            )
        case "workflow":
            return WorkflowFinished(
                workflow_id=data["workflow_id"],
                workflow_name=data.get("workflow_name"),
                outcome=data["outcome"],
                failed_steps=tuple(data.get("failed_steps") or ()),
                failed_count=data["failed_count"],
                duration_ms=int(data["duration_ms"]),
                at=_timestamp(data["at"]),
                reason=data.get("reason"),
            )
        case "output":
            return StepOutput(
                workflow_id=data["workflow_id"],
                step=data["step"],
                job_id=data["job_id"],
                attempt=data["attempt"],
                seq=data["seq"],
                text=data["text"],
                skipped=data["skipped"],
                at=_timestamp(data["at"]),
            )
    logger.warning("ignoring a Baton event of unknown type %r", data.get("type"))
    return None


def _telemetry(event: WorkflowEvent) -> None:
    match event:
        case StepEvent():
            telemetry.execute(f"baton.step.{event.state}", {"event": event})
        case StepsAdded():
            telemetry.execute("baton.workflow.steps_added", {"event": event})
        case WorkflowFinished():
            telemetry.execute("baton.workflow.finished", {"event": event})
        case StepOutput():
            telemetry.execute("baton.step.output", {"event": event})


class Subscription:
    """Events for one topic, read with ``async for``. Made by ``baton.subscribe``.

    Attributes:
        topic: ``workflow:<id>`` or ``workflow:all``.
        dropped: events discarded because the reader fell more than ``maxsize`` behind.
    """

    def __init__(self, topic: str, maxsize: int, workflow_id: str | None = None) -> None:
        self.topic = topic
        self.dropped = 0
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        # Match events by workflow id, not by topic text: the workflow whose id is "all"
        # has the topic "workflow:all" too, yet must not receive every workflow's events.
        if workflow_id is None and topic != ALL:
            workflow_id = topic.removeprefix("workflow:")
        self._workflow_id = workflow_id

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        return await self._queue.get()

    def _offer(self, event: Event) -> None:
        if isinstance(event, Reconnected) or self._workflow_id in (None, event.workflow_id):
            try:
                self._queue.put_nowait(event)
            except asyncio.QueueFull:
                self.dropped += 1


class _Hub:
    """One LISTEN connection per database and event loop, shared by its subscribers."""

    def __init__(self, dsn: str, channel: str, key: tuple[int, str, str], prefix: str) -> None:
        self._dsn = dsn
        self._channel = channel
        self._key = key
        self._subscriptions: set[Subscription] = set()
        # Events are sent only while someone listens: each subscription's topic is
        # registered (baton._presence) after the LISTEN and before add() returns.
        self._presence = Presence(prefix, channel)
        self._task: asyncio.Task[None] | None = None

    async def add(self, subscription: Subscription, timeout: float) -> None:
        self._subscriptions.add(subscription)
        present = self._presence.want(_presence_topic(subscription))
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="baton-events")
        done, _ = await asyncio.wait(
            {present, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if present not in done:
            present.cancel()
            await self.remove(subscription)
            raise TimeoutError(f"could not LISTEN for Baton events within {timeout} s")

    async def remove(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.discard(subscription)
            self._presence.drop(_presence_topic(subscription))
        if not self._subscriptions and self._task is not None:
            # Taken before the await, not after: a subscriber joining meanwhile starts a
            # new listener (and registers on its connection), not on this closing one.
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if not self._subscriptions and self._task is None and _hubs.get(self._key) is self:
            del _hubs[self._key]  # nothing (not even the event loop) is kept after the last

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                async with await AsyncConnection.connect(self._dsn, autocommit=True) as conn:
                    await store.listen(conn, self._channel)
                    async with self._presence.session(conn) as session:  # registers
                        if failures:
                            self._dispatch(Reconnected(at=datetime.now().astimezone()))
                        failures = 0
                        while True:
                            # Returns when a subscriber comes or goes, or for the health
                            # check (the presence lease's renewal notices a dead connection).
                            if await session.follow(self._receive, HEALTH_CHECK_SECONDS):
                                # A lease lapsed (this process stalled): events were missed.
                                self._dispatch(Reconnected(at=datetime.now().astimezone()))
            except (OperationalError, InterfaceError, OSError) as error:
                failures += 1
                delay = min(5.0, 0.1 * 2**failures)
                logger.warning(
                    "Baton event listener lost its connection (%s); retry in %.1fs", error, delay
                )
                await asyncio.sleep(delay)

    def _receive(self, payload: str) -> None:
        try:
            event = parse(payload)
        except (ValueError, KeyError, TypeError):
            logger.exception("ignoring a malformed Baton event: %.200r", payload)
            return
        if event is not None:
            _telemetry(event)
            self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        for subscription in list(self._subscriptions):
            subscription._offer(event)


_hubs: dict[tuple[int, str, str], _Hub] = {}


def _presence_topic(subscription: Subscription) -> str:
    """The row a subscription registers: its workflow's id, or '' for every workflow."""
    return subscription._workflow_id or ""


def _hub(dsn: str, prefix: str) -> _Hub:
    channel = _oban.events_channel(prefix)
    key = (id(asyncio.get_running_loop()), dsn, channel)
    if key not in _hubs:
        _hubs[key] = _Hub(dsn, channel, key, prefix)
    return _hubs[key]


@contextlib.asynccontextmanager
async def subscribe(
    workflow_id: str | None = None,
    *,
    oban: Oban | str | None = None,
    dsn: str | None = None,
    prefix: str = "public",
    maxsize: int = DEFAULT_QUEUE_SIZE,
    timeout: float = 10.0,
) -> AsyncIterator[Subscription]:
    """Follow one workflow's events (or every workflow's, without an id).

    Works in any process that can reach the database: it needs no running queues. Once
    the ``async with`` body starts, no event is missed, so a late subscriber subscribes
    first, then reads ``baton.status(workflow_id)``, then follows the events. Events are
    sent only while someone subscribes: entering registers the topic (``baton._presence``),
    leaving removes it.

    Args:
        workflow_id: the workflow to follow; None follows ``workflow:all``.
        oban: the Oban instance (or name) whose database to listen on (default ``"Oban"``).
        dsn: listen on this database instead of an Oban instance's.
        prefix: the schema of the tables when ``dsn`` is given.
        maxsize: events buffered for a slow reader before new ones are dropped.
        timeout: seconds to wait for the LISTEN to be in place.

    Raises:
        InvalidDSN: ``dsn`` cannot be parsed (the message hides its password).

    Example:
        >>> async with baton.subscribe(wf.id) as events:
        ...     async for event in events:
        ...         if isinstance(event, baton.WorkflowFinished):
        ...             break
    """
    if dsn is not None:
        check_dsn(dsn)
    else:
        instance = _oban.instance(oban)
        dsn = await _oban.dsn(instance)
        prefix = _oban.prefix(instance)
    topic = f"workflow:{workflow_id}" if workflow_id is not None else ALL
    subscription = Subscription(topic, maxsize, workflow_id)
    hub = _hub(dsn, prefix)
    await hub.add(subscription, timeout)
    try:
        yield subscription
    finally:
        await hub.remove(subscription)
