"""``baton.schedule``: a workflow built at every tick of a cron expression.

Ticks come from Oban's own scheduler: once a minute the leader node inserts a tick job
(``ScheduleTick``) for every schedule due that minute. Whichever node runs the job calls
the schedule's build and inserts the workflow in the transaction that claims the tick
(``baton_schedule_ticks``), so each tick builds exactly one workflow however many jobs
run for it. A tick that passes while no node runs is not replayed.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import oban
from oban import Job

from . import _oban, store
from .errors import ScheduleError, WorkflowError
from .workflow import Workflow

logger = logging.getLogger("baton")

NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}")
_ALLOWED_SET = re.compile(r": (frozenset\()?\{[\d, ]*\}\)?")
#: Attempts of a tick job: a node without the schedule, or a database error, is retried.
TICK_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Tick:
    """One tick of a schedule, handed to its build.

    Attributes:
        schedule: the schedule's name.
        at: the minute the tick is for (UTC), the same on every attempt of its job.
    """

    schedule: str
    at: datetime


type Build = Callable[[Tick], Workflow | Awaitable[Workflow]]


@dataclass(frozen=True, slots=True)
class Schedule:
    """A registered schedule (``baton.schedule``): its name, cron, timezone and build."""

    name: str
    cron: str
    build: Build
    timezone: str | None
    queue: str
    oban: str
    _entry: Any = field(repr=False, compare=False)


_schedules: dict[str, Schedule] = {}


def _checked(name: object, cron: object, build: object, timezone: object, queue: object) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ScheduleError(
            f"schedule name {name!r} is invalid: use 1-128 characters from "
            "A-Z a-z 0-9 _ . : - (not starting with . : or -)"
        )
    if name in _schedules:
        raise ScheduleError(
            f"schedule {name!r} is already registered (cron {_schedules[name].cron!r}); "
            "pick another name, or baton.unschedule it first"
        )
    if not isinstance(cron, str):
        raise ScheduleError(f"schedule {name!r}: cron must be a string, got {cron!r}")
    try:
        _oban.check_cron(cron)
    except ValueError as error:
        reason = _ALLOWED_SET.sub("", str(error))  # Oban appends the whole set of values
        raise ScheduleError(
            f"schedule {name!r}: {cron!r} is not a cron expression Oban accepts ({reason}); "
            "use five fields, minute hour day month weekday, such as '0 3 * * *', or "
            "@hourly, @daily, @weekly, @monthly, @yearly"
        ) from error
    if not callable(build):
        raise ScheduleError(
            f"schedule {name!r}: build must be a function of a baton.Tick returning a "
            f"baton.Workflow, got {build!r}"
        )
    if timezone is not None:
        if not isinstance(timezone, str) or not timezone:
            raise ScheduleError(
                f"schedule {name!r}: timezone must be an IANA name, got {timezone!r}"
            )
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ScheduleError(
                f"schedule {name!r}: unknown timezone {timezone!r} (use an IANA name such "
                "as 'Europe/Berlin')"
            ) from error
    if not isinstance(queue, str) or not queue:
        raise ScheduleError(f"schedule {name!r}: queue must be a queue name, got {queue!r}")


def schedule(
    name: str,
    cron: str,
    build: Build,
    *,
    timezone: str | None = None,
    queue: str = "default",
    oban: str = _oban.DEFAULT_INSTANCE,
) -> Schedule:
    """Build and insert a workflow at every tick of ``cron``, on Oban's scheduler.

    Register the same schedules in every worker process (at import of your workers
    module, say): the leader node fires each tick as a job in ``queue``, and whichever
    node runs it calls ``build(tick)`` and inserts the workflow it returns. Each tick
    builds exactly one workflow, however many nodes run. Ticks are evaluated once a
    minute while some node runs; a tick missed while none ran is not replayed.

    Args:
        name: the schedule's name, unique in the process (``nightly-brief``).
        cron: five fields (minute hour day month weekday) or a nickname (``@daily``), in
            Oban's syntax.
        build: called with a :class:`Tick`; returns (or, async, resolves to) the
            ``baton.Workflow`` to insert, not yet inserted.
        timezone: the IANA timezone ``cron`` is read in (default: Oban's, UTC).
        queue: the queue the tick job runs in; some node must run it.
        oban: the name of the Oban instance whose database the workflows go to.

    Returns:
        The registered schedule.

    Raises:
        ScheduleError: the name is invalid or taken, the cron expression or timezone is
            bad, or ``build`` is not callable. Nothing is registered then.

    Example:
        >>> baton.schedule(
        ...     "nightly-brief",
        ...     "0 3 * * *",
        ...     lambda tick: baton.Workflow(name="brief").add("fetch", Fetch.new()),
        ...     timezone="Europe/Berlin",
        ... )
    """
    _checked(name, cron, build, timezone, queue)

    def tick_job() -> Job:
        return ScheduleTick.new({"schedule": name}, queue=queue)  # type: ignore[attr-defined,no-any-return]

    entry = _oban.add_cron(cron, timezone, f"schedule:{name}", tick_job)
    registered = Schedule(name, cron, build, timezone, queue, oban, entry)
    _schedules[name] = registered
    return registered


def unschedule(name: str) -> None:
    """Stop firing the schedule ``name`` in this process.

    Raises:
        ScheduleError: no schedule of that name is registered.
    """
    registered = _schedules.pop(name, None) if isinstance(name, str) else None
    if registered is None:
        known = ", ".join(sorted(_schedules)) or "none"
        raise ScheduleError(f"no schedule {name!r} is registered (registered: {known})")
    _oban.remove_cron(registered._entry)


def schedules() -> tuple[Schedule, ...]:
    """The schedules registered in this process, by name."""
    return tuple(_schedules[name] for name in sorted(_schedules))


@oban.worker(queue="default", max_attempts=TICK_ATTEMPTS)
class ScheduleTick:
    """The job Oban's scheduler inserts for a schedule's tick; it builds the workflow."""

    async def process(self, job: Job) -> None:
        await run_tick(job)


async def run_tick(job: Job) -> str | None:
    """Build and insert the workflow of the tick ``job`` stands for.

    Returns:
        The id of the workflow inserted, or None when the tick already had one.
    """
    name, cron_at = job.args.get("schedule"), job.meta.get("cron_at")
    if not isinstance(name, str) or not isinstance(cron_at, str):
        _oban.discard_now(job)
        raise ScheduleError(
            f"job {job.id} is not a schedule's tick: it needs args {{'schedule': name}} and "
            "the cron_at meta of Oban's scheduler"
        )
    registered = _schedules.get(name)
    if registered is None:
        raise ScheduleError(
            f"schedule {name!r} is not registered in this process (pid {os.getpid()}): "
            "register it with baton.schedule (or baton start --schedule FILE) on every node "
            f"that runs queue {job.queue!r}"
        )
    tick = Tick(name, datetime.fromisoformat(cron_at))
    built: object = registered.build(tick)
    if inspect.isawaitable(built):
        built = await built
    if not isinstance(built, Workflow):
        _oban.discard_now(job)
        raise ScheduleError(
            f"schedule {name!r}: build returned {type(built).__name__}, not a baton.Workflow"
        )
    instance = _oban.instance(registered.oban)
    try:
        async with _oban.pooled(instance) as conn, conn.transaction():
            if not await store.claim_tick(conn, _oban.prefix(instance), name, tick.at, built.id):
                logger.info("schedule %r: tick %s already built its workflow", name, cron_at)
                return None
            await built.insert(conn)
    except WorkflowError:
        _oban.discard_now(job)  # the same build makes the same invalid workflow again
        raise
    logger.info("schedule %r: tick %s inserted workflow %s", name, cron_at, built.id)
    return built.id
