"""A template file's ``[schedule]`` table, registered as a schedule (``baton start --schedule``).

The template is read and checked once, when the schedule is registered: its workflow is
built then with the schedule's params, so a bad template fails ``baton start`` rather
than a tick at 3 a.m. Every tick builds the workflow again from the same data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._schedule import Schedule, Tick, schedule
from .errors import ScheduleError
from .workflow import Workflow
from .workflow import _template_checks as checks
from .workflow import _template_files as files

SCHEDULE_KEYS = ("cron", "name", "timezone", "queue", "params")
#: A param of this name, when the template declares it, gets the tick's time (ISO 8601).
TICK_PARAM = "tick"


def _params(data: Mapping[str, Any], given: Mapping[str, Any], tick: Tick) -> dict[str, Any]:
    declared = data.get("params")
    if isinstance(declared, Mapping) and TICK_PARAM in declared and TICK_PARAM not in given:
        return {**given, TICK_PARAM: tick.at.isoformat()}
    return dict(given)


def schedule_template(path: str) -> Schedule:
    """Register the schedule a template file's ``[schedule]`` table describes.

    The table has ``cron`` and optionally ``name`` (default: the template's ``name``,
    else the file's stem), ``timezone``, ``queue`` and ``params`` (values for the
    template's params at every tick). A template param named ``tick`` that no value is
    given for gets the tick's time.

    Raises:
        TemplateError: the file cannot be read, has no ``[schedule]`` table, the table
            is malformed, or the template's workflow cannot be built.
        ScheduleError: the cron expression or timezone is bad, or the name is taken.
    """
    data = checks.table(files.parse(Path(path), path), checks.Where(path), "a template table")
    where = checks.Where(path).key("schedule")
    if "schedule" not in data:
        raise where.error(
            "missing: a template run on a schedule needs a [schedule] table with cron, "
            "such as cron = '0 3 * * *'"
        )
    entry = checks.table(data["schedule"], where, "a table with cron, name, timezone, params")
    checks.known_keys(entry, SCHEDULE_KEYS, where, "a schedule")
    if "cron" not in entry:
        raise where.error("missing 'cron', such as cron = '0 3 * * *'")
    cron = checks.text(entry["cron"], where.key("cron"), "a cron expression")
    default_name = data.get("name") if isinstance(data.get("name"), str) else Path(path).stem
    name = checks.text(entry.get("name", default_name), where.key("name"), "a schedule name")
    timezone = entry.get("timezone")
    if timezone is not None:
        timezone = checks.text(timezone, where.key("timezone"), "an IANA timezone name")
    queue = checks.text(entry.get("queue", "default"), where.key("queue"), "a queue name")
    given = checks.table(entry.get("params", {}), where.key("params"), "a table of params")

    def build(tick: Tick) -> Workflow:
        return Workflow.from_dict(data, params=_params(data, given, tick))

    # Check it all now, with errors naming the file: the template, params, workers.
    now = Tick(name, datetime.now(UTC).replace(second=0, microsecond=0))
    Workflow.from_file(path, params=_params(data, given, now))
    try:
        return schedule(name, cron, build, timezone=timezone, queue=queue)
    except ScheduleError as error:
        raise ScheduleError(f"{path}: {error}") from error
