"""Subscribers' presence: events are sent only while someone listens for them.

Each process's listener (``baton._events``) registers the topics its subscribers follow in
``baton_listeners``, one row per (listening connection, topic): a workflow id, or ``''``
for ``workflow:all``. The database's event functions ask ``baton_listened`` before
building a payload, so a workflow nobody follows costs no ``NOTIFY`` (and its commits do
not queue on PostgreSQL's notification lock).

A row is held under a lease, renewed by the listener's health check: a process that dies
stops being counted after at most ``LEASE_SECONDS``. A subscription is ready once its
topic's row has committed, and the registration commits only after every transaction
already deciding whether to send has ended (see ``sql/functions/baton_listened.sql``), so
from then on nothing is missed: an event is either sent, or its change committed before
the subscription was ready and a status read after it shows the change.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

from psycopg import AsyncConnection, errors

from . import store

#: How long a listener's rows count without being renewed.
LEASE_SECONDS = 30.0
#: Registrations retried after a deadlock (PostgreSQL aborts one side; see baton_listened).
REGISTER_ATTEMPTS = 5


class Presence:
    """The topics one process's listener follows, kept registered on its connection."""

    def __init__(self, prefix: str, events: str) -> None:
        self._prefix = prefix
        self._events = events
        # One id for every connection this listener uses: a session after a reconnect
        # takes over the rows the lost connection left, and leaving removes them all.
        self.listener = uuid.uuid4().hex
        self._wanted: Counter[str] = Counter()
        self._waiters: list[tuple[str, asyncio.Future[None]]] = []
        self.wake = asyncio.Event()

    def want(self, topic: str) -> asyncio.Future[None]:
        """Follow ``topic`` (a workflow id, ``''`` for all); the future is done once it is
        registered and no event for it can be missed any more."""
        self._wanted[topic] += 1
        present = asyncio.get_running_loop().create_future()
        self._waiters.append((topic, present))
        self.wake.set()
        return present

    def drop(self, topic: str) -> None:
        """One follower of ``topic`` fewer; its row goes with the last one."""
        self._wanted[topic] -= 1
        if self._wanted[topic] <= 0:
            del self._wanted[topic]
        self.wake.set()

    @contextlib.asynccontextmanager
    async def session(self, conn: AsyncConnection[Any]) -> AsyncIterator[Session]:
        """Registration on one listening connection; its rows are removed when it ends."""
        session = Session(self, conn)
        await session.sync()
        try:
            yield session
        finally:
            # Best effort: a connection that is gone leaves rows that expire with the lease.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await store.leave_presence(conn, self._prefix, session.listener, None)


class Session:
    """One listening connection's registered topics, under its own listener id."""

    def __init__(self, presence: Presence, conn: AsyncConnection[Any]) -> None:
        self.listener = presence.listener
        self._presence = presence
        self._conn = conn
        self._registered: set[str] = set()
        self._renew_at = time.monotonic() + LEASE_SECONDS / 6

    async def sync(self) -> bool:
        """Register the topics now wanted, renew the lease when due, drop the topics nobody
        follows. True when a registered topic had lapsed (events may have been missed)."""
        p = self._presence
        p.wake.clear()
        waiting = list(p._waiters)
        lapsed = False
        if time.monotonic() >= self._renew_at:
            alive = await store.renew_presence(self._conn, p._prefix, self.listener, LEASE_SECONDS)
            lapsed = bool(self._registered - alive)
            self._registered &= alive
        self._renew_at = time.monotonic() + LEASE_SECONDS / 6
        wanted = set(p._wanted)
        new = wanted - self._registered
        if new:
            await self._register(new)
        gone = self._registered - wanted
        if gone:
            await store.leave_presence(self._conn, p._prefix, self.listener, gone)
            self._registered -= gone
        for entry in waiting:
            topic, present = entry
            if topic in self._registered and not present.done():
                present.set_result(None)
            with contextlib.suppress(ValueError):
                p._waiters.remove(entry)
        return lapsed

    async def _register(self, topics: set[str]) -> None:
        p = self._presence
        for attempt in range(REGISTER_ATTEMPTS):
            try:
                await store.register_presence(
                    self._conn, p._prefix, p._events, self.listener, topics, LEASE_SECONDS
                )
                break
            except errors.DeadlockDetected:
                if attempt == REGISTER_ATTEMPTS - 1:
                    raise
        self._registered |= topics

    async def follow(self, receive: Callable[[str], None], timeout: float) -> bool:
        """Hand each notification's payload to ``receive`` until a subscriber comes or goes,
        or for ``timeout`` seconds; then sync (which doubles as the health check). True
        when a registered topic had lapsed."""
        if not self._presence.wake.is_set():
            reader = asyncio.ensure_future(self._read(receive, timeout))
            woken = asyncio.ensure_future(self._presence.wake.wait())
            try:
                await asyncio.wait({reader, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                woken.cancel()
                reader.cancel()
                (outcome,) = await asyncio.gather(reader, return_exceptions=True)
            if isinstance(outcome, Exception):
                raise outcome
        return await self.sync()

    async def _read(self, receive: Callable[[str], None], timeout: float) -> None:
        # aclosing: a reader cancelled while waiting must release the connection's lock
        # now, not when the generator is collected. Notifications that arrive while no
        # reader waits are kept by psycopg and handed to the next one.
        async with contextlib.aclosing(self._conn.notifies(timeout=timeout)) as notifies:
            async for notify in notifies:
                receive(notify.payload)
