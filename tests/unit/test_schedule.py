"""``baton.schedule`` and template schedules, without a database: checks and registration."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from oban._scheduler import scheduled_entries

import baton
from baton import Tick, Workflow
from baton._schedule_template import schedule_template
from baton.errors import ScheduleError, TemplateError
from tests.support.steps import Echo

YEARLY = "0 0 1 1 *"


def build(tick: Tick) -> Workflow:
    return Workflow(name="ticked").add("a", Echo.new({"value": tick.at.isoformat()}))


@pytest.fixture(autouse=True)
def no_schedules_left() -> Iterator[None]:
    yield
    for registered in baton.schedules():
        baton.unschedule(registered.name)


def entries_named(name: str) -> list[object]:
    return [e for e in scheduled_entries() if e.worker_cls.__name__ == f"schedule:{name}"]


def test_a_schedule_is_an_entry_of_oban_s_scheduler_until_unscheduled() -> None:
    registered = baton.schedule("nightly", "0 3 * * *", build, timezone="Europe/Berlin")
    assert (registered.name, registered.cron, registered.timezone, registered.queue) == (
        "nightly",
        "0 3 * * *",
        "Europe/Berlin",
        "default",
    )
    assert baton.schedules() == (registered,)
    [entry] = entries_named("nightly")
    assert str(entry.timezone) == "Europe/Berlin"  # type: ignore[attr-defined]
    job = entry.worker_cls.new()  # type: ignore[attr-defined]
    assert (job.worker, job.args, job.queue) == (
        "baton._schedule.ScheduleTick",
        {"schedule": "nightly"},
        "default",
    )
    baton.unschedule("nightly")
    assert entries_named("nightly") == [] and baton.schedules() == ()


def test_the_tick_job_goes_to_the_schedule_s_queue() -> None:
    baton.schedule("hourly", "@hourly", build, queue="cron")
    [entry] = entries_named("hourly")
    assert entry.worker_cls.new().queue == "cron"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("cron", "reason"),
    [
        ("61 * * * *", "field 61 is out of range)"),
        ("* * *", "incorrect number of fields: * * *)"),
        ("@often", "incorrect number of fields: @often)"),
        ("*/0 * * * *", "unrecognized expression: */0)"),
        ("0 0 0 * *", "field 0 is out of range)"),
        ("1-99 * * * *", "range 1-99 is out of range)"),
    ],
)
def test_a_bad_cron_expression_is_refused_with_oban_s_reason(cron: str, reason: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        baton.schedule("bad", cron, build)
    message = str(raised.value)
    assert message.startswith(f"schedule 'bad': {cron!r} is not a cron expression Oban accepts")
    assert f"({reason}" in message and "'0 3 * * *'" in message
    assert "frozenset" not in message and "{0, 1" not in message
    assert baton.schedules() == () and entries_named("bad") == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cron": 5}, "schedule 'x': cron must be a string, got 5"),
        ({"timezone": "Mars/Olympus"}, "schedule 'x': unknown timezone 'Mars/Olympus'"),
        ({"timezone": ""}, "schedule 'x': timezone must be an IANA name, got ''"),
        ({"build": "not callable"}, "schedule 'x': build must be a function of a baton.Tick"),
        ({"queue": ""}, "schedule 'x': queue must be a queue name, got ''"),
    ],
)
def test_bad_options_are_refused_naming_the_schedule(
    options: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"cron": YEARLY, "build": build, **options}
    with pytest.raises(ScheduleError) as raised:
        baton.schedule("x", **arguments)  # type: ignore[arg-type]
    assert str(raised.value).startswith(message)
    assert baton.schedules() == ()


@pytest.mark.parametrize("name", ["", "-lead", "with space", "x" * 129, 7])
def test_a_bad_name_is_refused(name: object) -> None:
    with pytest.raises(ScheduleError, match="is invalid: use 1-128 characters"):
        baton.schedule(name, YEARLY, build)  # type: ignore[arg-type]


def test_a_name_registered_twice_is_refused_and_the_first_stays() -> None:
    first = baton.schedule("nightly", YEARLY, build)
    with pytest.raises(ScheduleError) as raised:
        baton.schedule("nightly", "@daily", build)
    assert str(raised.value) == (
        "schedule 'nightly' is already registered (cron '0 0 1 1 *'); pick another name, "
        "or baton.unschedule it first"
    )
    assert baton.schedules() == (first,) and len(entries_named("nightly")) == 1


def test_unscheduling_an_unknown_name_says_what_is_registered() -> None:
    baton.schedule("nightly", YEARLY, build)
    with pytest.raises(ScheduleError) as raised:
        baton.unschedule("nighlty")
    assert str(raised.value) == "no schedule 'nighlty' is registered (registered: nightly)"


# --- template files --------------------------------------------------------------------------

TEMPLATE = """
name = "report"
{schedule}

[params.tick]
[params.owner]
default = "ops"

[[steps]]
name = "collect"
worker = "tests.support.steps.Echo"
args = {{ value = "${{tick}} for ${{owner}}" }}
"""


def template(tmp_path: Path, schedule: str) -> str:
    path = tmp_path / "report.toml"
    path.write_text(TEMPLATE.format(schedule=schedule))
    return str(path)


def test_a_template_schedule_builds_its_workflow_with_the_tick(tmp_path: Path) -> None:
    path = template(tmp_path, '[schedule]\ncron = "0 3 * * *"\nparams = { owner = "ana" }')
    registered = schedule_template(path)
    assert (registered.name, registered.cron, registered.timezone) == (
        "report",
        "0 3 * * *",
        None,
    )
    at = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    built = registered.build(Tick("report", at))
    assert isinstance(built, Workflow) and built.name == "report"
    assert built.steps["collect"].job.args == {"value": f"{at.isoformat()} for ana"}


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("", "schedule: missing: a template run on a schedule needs a [schedule] table"),
        ("[schedule]\ntimezone = 'UTC'", "schedule: missing 'cron'"),
        ("[schedule]\ncron = '0 3 * * *'\nevery = 3", "schedule: unknown key 'every'"),
        ("[schedule]\ncron = ''", "schedule.cron: expected a cron expression, got a blank"),
        ("schedule = 'nightly'", "schedule: expected a table with cron"),
        ("[schedule]\ncron = '0 3 * * *'\nparams = { nope = 1 }", "nope"),
    ],
)
def test_a_bad_schedule_table_names_the_file_and_entry(
    tmp_path: Path, schedule: str, message: str
) -> None:
    path = template(tmp_path, schedule)
    with pytest.raises(TemplateError) as raised:
        schedule_template(path)
    assert str(raised.value).startswith(f"{path}: ") and message in str(raised.value)
    assert baton.schedules() == ()


def test_a_bad_cron_in_a_template_names_the_file(tmp_path: Path) -> None:
    path = template(tmp_path, "[schedule]\ncron = '99 * * * *'")
    with pytest.raises(ScheduleError) as raised:
        schedule_template(path)
    assert str(raised.value).startswith(
        f"{path}: schedule 'report': '99 * * * *' is not a cron expression"
    )


def test_a_template_with_an_unknown_worker_fails_at_registration(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(
        "[schedule]\ncron = '@daily'\n\n[[steps]]\nname = 'a'\nworker = 'nowhere.Missing'\n"
    )
    with pytest.raises(TemplateError, match="nowhere"):
        schedule_template(str(path))
    assert baton.schedules() == ()


def test_a_missing_template_file_is_a_template_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError):
        schedule_template(str(tmp_path / "absent.toml"))


def test_a_sub_workflow_cannot_have_a_schedule() -> None:
    data = {
        "steps": [
            {
                "name": "sub",
                "workflow": {
                    "schedule": {"cron": "@daily"},
                    "steps": [{"name": "a", "worker": "tests.support.steps.Echo"}],
                },
            }
        ]
    }
    with pytest.raises(TemplateError, match="only the top-level template can have a schedule"):
        Workflow.from_dict(data)
