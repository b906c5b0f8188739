"""The one place where Baton touches Oban for Python's private API.

Oban 0.7 exposes no public way to reach an instance's pool and prefix, to insert with a
caller's SQLAlchemy session, to learn its notifier channel names, or to discard a job
before its attempts run out. Everything of that kind sits here, so an Oban upgrade breaks
this file alone (``pyproject.toml`` pins the 0.7 minor range for that reason).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from oban import Job, Oban
from oban._extensions import get_ext, put_ext
from oban._query import _ack_jobs, unwrap_connection
from oban.oban import _instances
from oban.worker import WorkerResolutionError, resolve_worker
from psycopg import AsyncConnection, Error

DEFAULT_INSTANCE = "Oban"
#: Seconds after a failed ack before the producers holding it are woken to retry it.
ACK_RETRY_DELAY = 1.0


def instance(oban: Oban | str | None = None) -> Oban:
    """The Oban instance given, or the one registered under that name (default ``"Oban"``)."""
    if isinstance(oban, Oban):
        return oban
    return Oban.get_instance(oban or DEFAULT_INSTANCE)


def instance_for_job(job: Job, oban: Oban | str | None = None) -> Oban:
    """The instance a job belongs to: ``oban`` if given, else its worker's ``oban=`` option."""
    if oban is not None:
        return instance(oban)
    try:
        name = getattr(resolve_worker(job.worker), "_oban_name", DEFAULT_INSTANCE)
    except WorkerResolutionError:
        name = DEFAULT_INSTANCE
    return instance(name)


def prefix(oban: Oban) -> str:
    """The schema holding the instance's tables (and Baton's)."""
    return str(oban._prefix)


def node(oban: Oban) -> str:
    """The instance's node name (given, or host name and pid)."""
    return str(oban._node)


async def dsn(oban: Oban) -> str:
    """The connection string of the instance's pool."""
    return str(await oban._query.dsn())


async def cancel_jobs(oban: Oban, job_ids: list[Job | int]) -> int:
    """Cancel jobs through Oban, which also signals the ones executing."""
    return int(await oban.cancel_many_jobs(job_ids)) if job_ids else 0


def cancellation(job: Job) -> asyncio.Event | None:
    """The event Oban sets when the executing ``job`` is cancelled; None outside a queue.

    Oban's producer makes it before running the job and sets it on the ``pkill`` signal
    that ``cancel_job(s)`` sends to every node (``job.cancelled()`` reads it). Waiting on
    it, rather than polling ``job.cancelled()``, sees a cancel as soon as the signal lands.
    """
    event = job._cancellation
    return event if isinstance(event, asyncio.Event) else None


def insert_channel(schema: str) -> str:
    """The Postgres channel on which Oban's stagers listen for newly available jobs."""
    return f"{schema}.oban_insert"


def events_channel(schema: str) -> str:
    """The Postgres channel carrying Baton's events for tables in ``schema``."""
    return f"{schema}.baton_events"


@asynccontextmanager
async def pooled(oban: Oban) -> AsyncIterator[AsyncConnection[Any]]:
    """A connection from the instance's pool."""
    async with oban._query.connection() as conn:
        yield conn


@asynccontextmanager
async def single(oban: Oban) -> AsyncIterator[AsyncConnection[Any]]:
    """A connection from the instance's pool for one statement, in autocommit mode.

    Oban's pool hands out connections outside autocommit, on which psycopg sends ``BEGIN``
    and, when the connection goes back, ``COMMIT`` as round trips of their own: three per
    statement instead of one, twice on every step's hand-off path. The connection goes back
    to the pool as it came, or is closed (and so replaced) if that cannot be restored.
    """
    async with oban._query.connection() as conn:
        await conn.set_autocommit(True)
        try:
            yield conn
        finally:
            try:
                await conn.set_autocommit(False)
            except Error:
                await conn.close()


async def caller_connection(conn: Any) -> Any:
    """The psycopg connection behind a caller's connection, cursor or SQLAlchemy session."""
    return await unwrap_connection(conn)


def discard_now(job: Job) -> None:
    """Make Oban's executor discard the job when the error being raised reaches it.

    Oban discards a failed job once ``attempt >= max_attempts``; the executor reads the
    in-memory value and the ack does not write it back, so the row keeps its own.
    """
    job.max_attempts = job.attempt


def _unwrapped(_job: Job, result: Any) -> Any:
    return result


def discard_unresolvable() -> None:
    """Have Oban discard a workflow step whose worker cannot be loaded at once; idempotent.

    Oban's executor turns a worker it cannot resolve (module not found, class not in the
    module) into an ordinary error, retried until the attempts run out: 20 by default, each
    failing the same way. For a workflow step that only delays the end of the workflow by
    the whole backoff, so the step is discarded at its first attempt; its error, Oban's own,
    names the module and the worker. Other jobs keep Oban's behaviour.
    """
    current = get_ext("executor.wrap_result", _unwrapped)
    if getattr(current, "_baton_unresolvable", False):
        return

    def wrap(job: Job, result: Any) -> Any:
        result = current(job, result)
        if isinstance(result, WorkerResolutionError) and "workflow_id" in job.meta:
            discard_now(job)
        return result

    wrap._baton_unresolvable = True  # type: ignore[attr-defined]
    put_ext("executor.wrap_result", wrap)


def is_worker_class(value: object) -> bool:
    """Whether ``value`` is a class that ``@oban.worker`` (so ``@baton.worker``) decorated.

    Oban marks such a class with its options (``_opts``) and its own ``new`` classmethod;
    anything else with a ``new`` is not a worker, and calling it could do anything.
    """
    if not isinstance(value, type):
        return False
    own = vars(value)
    made = getattr(own.get("new"), "__func__", None)
    return "_opts" in own and getattr(made, "__module__", None) == "oban.decorators"


def load_settings(
    config: str | None, dsn: str | None, prefix: str | None
) -> tuple[str | None, str]:
    """The DSN and prefix from ``oban.toml`` (or ``config``), ``OBAN_*`` variables and flags.

    Explicit values win over the environment, which wins over the file, as in ``oban``'s CLI.
    """
    conf = load_config(config, dsn=dsn, prefix=prefix)
    return conf.dsn, conf.prefix or "public"


def load_config(config: str | None, **overrides: Any) -> Any:
    """Oban's own CLI configuration, as ``oban start`` builds it.

    ``oban.toml`` (or ``config``), then ``OBAN_*`` variables, then the ``overrides`` that
    are not None. The result has ``dsn``, ``prefix``, ``queues``, ``node``…, and
    ``create_pool()`` / ``create_oban(pool)``, which honour every option of the file.
    """
    from oban._config import Config

    return Config.load(config, **{key: value for key, value in overrides.items() if value})


def _ack_order(ack: Any) -> tuple[str, int]:
    return (str(ack.job.meta.get("workflow_id", "")), ack.job.id or 0)


def _retry_acks_later(query: Any) -> None:
    """Wake the producers of ``query``'s instance that hold unacked jobs, in a moment.

    A producer keeps acks that failed (the database was unreachable) and sends them again
    only when woken: by a job of its own finishing, or by the stager finding available
    jobs in its queue. After an outage neither need happen — the unacked step is often
    what everything else waits for — and the job would stay ``executing`` in the database
    until the lifeline rescues it (``rescue_after``, 300 s by default). So until the acks
    go through, each failure schedules one more wake-up.
    """
    loop = asyncio.get_running_loop()
    due = getattr(query, "_baton_ack_retry", None)
    if due is not None and due[0] is loop and not due[1].cancelled():
        return  # a wake-up is already due in this event loop

    def wake() -> None:
        query._baton_ack_retry = None
        for oban in list(_instances.values()):
            if oban._query is query:
                for producer in oban._producers.values():
                    if producer._pending_acks and not producer._stopping.is_set():
                        producer.notify()

    query._baton_ack_retry = (loop, loop.call_later(ACK_RETRY_DELAY, wake))


def order_acks() -> None:
    """Have Oban ack each batch in workflow order, and retry acks lost to an outage; idempotent.

    Settling a step locks its workflow's row first (``baton_settle_step``). Two producers
    acking steps of the same two workflows in opposite orders could otherwise deadlock
    at commit; in one global order they queue instead. A batch that fails is retried
    (see ``_retry_acks_later``).
    """
    current = get_ext("query.ack_jobs", _ack_jobs)
    if getattr(current, "_baton_ordered", False):
        return

    async def ordered(query: Any, acks: list[Any]) -> list[int]:
        try:
            return await current(query, sorted(acks, key=_ack_order))  # type: ignore[no-any-return]
        except Exception:
            _retry_acks_later(query)
            raise

    ordered._baton_ordered = True  # type: ignore[attr-defined]
    put_ext("query.ack_jobs", ordered)


def _instance_of(query: Any) -> Oban | None:
    """The started Oban instance whose ``Query`` is ``query``."""
    for oban in list(_instances.values()):
        if oban._query is query:
            return oban
    return None


async def _no_stage_hook(_query: Any) -> None:
    return None


def before_stage(name: str, hook: Callable[[Oban], Awaitable[None]]) -> None:
    """Run ``hook(oban)`` at the start of every stager cycle of every instance; idempotent.

    Oban's stager runs on every started instance, with or without queues, every
    ``stager.interval`` seconds (1 s by default), before it makes due ``scheduled`` jobs
    available. ``hook`` must not raise: the stager would then skip that cycle's staging.
    Hooks are told apart by ``name``, so installing one twice installs it once. The hook
    gets the instance Oban registered under its name (``Oban.get_instance``): a started
    instance that a later one of the same name replaced there is skipped.
    """
    current = get_ext("stager.before_stage", _no_stage_hook)
    if name in getattr(current, "_baton_hooks", ()):
        return

    async def staged(query: Any) -> None:
        await current(query)
        oban = _instance_of(query)
        if oban is not None:
            await hook(oban)

    staged._baton_hooks = (*getattr(current, "_baton_hooks", ()), name)  # type: ignore[attr-defined]
    put_ext("stager.before_stage", staged)


# --- Oban's cron scheduler (baton.schedule) -------------------------------------------------


def check_cron(expression: str) -> None:
    """Raise ValueError (Oban's reason) unless Oban's scheduler accepts ``expression``."""
    from oban._scheduler import Expression

    Expression.parse(expression)


def add_cron(expression: str, timezone: str | None, key: str, new_job: Callable[[], Job]) -> Any:
    """Have Oban's scheduler insert ``new_job()`` at every minute ``expression`` matches.

    Oban's scheduler (on the leader node only, once a minute) builds each due entry's job
    with its class's ``new()`` and adds the tick to the job's meta (``cron_at``); ``key``
    names the entry in Oban's cron hash. Oban 0.7 offers no public way to register an
    entry other than decorating a worker class, nor to remove one; the entry returned
    here is what :func:`remove_cron` takes.
    """
    from zoneinfo import ZoneInfo

    from oban._scheduler import Expression, ScheduledEntry, _scheduled_entries

    source = type(key, (), {"new": staticmethod(new_job), "__module__": "baton.schedule"})
    entry = ScheduledEntry(
        expression=Expression.parse(expression),
        worker_cls=source,
        timezone=ZoneInfo(timezone) if timezone else None,
    )
    _scheduled_entries.append(entry)
    return entry


def remove_cron(entry: Any) -> None:
    """Take an entry :func:`add_cron` made off Oban's scheduler; idempotent."""
    from oban._scheduler import _scheduled_entries

    if entry in _scheduled_entries:
        _scheduled_entries.remove(entry)
