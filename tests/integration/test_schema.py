"""baton.install: idempotent, versioned, upgrading today's v5, honouring Oban's prefix."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from oban import Oban
from oban.schema import install_sql as oban_install_sql
from oban.testing import drain_queue
from psycopg import sql

import baton
from baton import Workflow, _oban
from baton.errors import SchemaError
from baton.store import _install, _sql
from tests.support.steps import ALT_INSTANCE, AltEcho, Echo

ALT = "baton_alt"
BARE = "baton_bare"
MISSING = "baton_missing"
FRESH = "baton_fresh"
V5_FIXTURE = Path(__file__).parents[1] / "fixtures" / "schema_v5.sql"
#: The versions an install records: the baseline's, then each migration's (numbers may be
#: skipped while parallel branches each add one).
ALL_VERSIONS = [
    *range(1, _install.BASELINE_VERSION + 1),
    *(version for version, _file in _install.MIGRATIONS),
]

# What two installs must agree on: tables and columns (in order, with types, defaults and
# nullability), constraints, indexes, functions with their whole definition, and triggers.
CATALOG = """
SELECT 'column', c.relname, a.attnum::text || ' ' || a.attname,
       format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
           || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE c.relnamespace = %(schema)s::text::regnamespace AND c.relkind IN ('r', 'p')
UNION ALL
SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = %(schema)s::text::regnamespace
UNION ALL
SELECT 'index', tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %(schema)s::text
UNION ALL
SELECT 'function', proname, pg_get_function_identity_arguments(oid), pg_get_functiondef(oid)
  FROM pg_proc WHERE pronamespace = %(schema)s::text::regnamespace
UNION ALL
SELECT 'trigger', tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
  FROM pg_trigger
 WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = %(schema)s::text::regnamespace)
   AND NOT tgisinternal
ORDER BY 1, 2, 3
"""


async def drop_schemas(conn: psycopg.AsyncConnection[Any]) -> None:
    for schema in (ALT, BARE, MISSING, FRESH):
        await conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


@pytest.fixture
async def scratch(
    conn: psycopg.AsyncConnection[Any],
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """The test connection, with the extra schemas dropped before and after the test."""
    await drop_schemas(conn)
    try:
        yield conn
    finally:
        await drop_schemas(conn)


async def versions(conn: psycopg.AsyncConnection[Any], schema: str) -> list[int]:
    rows = await (
        await conn.execute(
            sql.SQL("SELECT version FROM {}.baton_versions ORDER BY version").format(
                sql.Identifier(schema)
            )
        )
    ).fetchall()
    return [version for (version,) in rows]


async def catalog(conn: psycopg.AsyncConnection[Any], schema: str) -> list[tuple[str, ...]]:
    """The schema's catalog (see CATALOG), with its name written as ``{prefix}``."""
    rows = await (await conn.execute(CATALOG, {"schema": schema})).fetchall()
    return [tuple(value.replace(schema, "{prefix}") for value in row) for row in rows]


async def load_v5(conn: psycopg.AsyncConnection[Any], schema: str) -> None:
    """Build ``schema`` as an install of today's v001..v005 did, with versions 1..5 recorded."""
    script = sql.SQL(V5_FIXTURE.read_text(encoding="utf-8")).format(
        prefix=sql.Identifier(schema),
        channel=sql.Literal(_oban.insert_channel(schema)),
        events=sql.Literal(_oban.events_channel(schema)),
    )
    async with conn.transaction():
        await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        await conn.execute(oban_install_sql(schema))
        await conn.execute(script)
        await conn.execute(_sql.query("create_versions.sql", schema))
        for version in range(1, 6):
            await conn.execute(_sql.query("record_version.sql", schema), {"version": version})


async def run_alt_workflow(conn: psycopg.AsyncConnection[Any], oban_pool: Any) -> None:
    """Run a three-step workflow in the ALT schema to the end and check every step's result."""
    alt = Oban(pool=oban_pool, prefix=ALT, name=ALT_INSTANCE, leadership=False)
    wf = (
        Workflow(name="alt")
        .add("a", AltEcho.new({"value": {"n": 1}}))
        .add("b", AltEcho.new({"value": {"n": 2}}))
        .add("join", AltEcho.new(), deps=["a", "b"])
    )
    await wf.insert()  # the first step's worker names the baton_alt instance
    assert wf.steps["join"].job.state == "suspended"

    summary = await drain_queue(queue="default", oban=alt, with_scheduled=False, with_safety=True)

    assert summary["completed"] == 3
    rows = await (
        await conn.execute(
            "SELECT s.name, s.outcome, s.result, j.state::text FROM baton_alt.baton_steps s "
            "JOIN baton_alt.oban_jobs j ON j.id = s.job_id ORDER BY s.name"
        )
    ).fetchall()
    assert rows == [
        ("a", "completed", {"value": {"n": 1}}, "completed"),
        ("b", "completed", {"value": {"n": 2}}, "completed"),
        ("join", "completed", {"value": {"a": {"n": 1}, "b": {"n": 2}}}, "completed"),
    ]


async def test_install_is_idempotent_and_records_its_version(
    conn: psycopg.AsyncConnection[Any], installed: str, oban_pool: Any, client: Oban
) -> None:
    assert await baton.install(installed) == baton.SCHEMA_VERSION
    assert await baton.install(installed) == baton.SCHEMA_VERSION
    assert await baton.install(oban_pool) == baton.SCHEMA_VERSION
    assert await baton.install(client) == baton.SCHEMA_VERSION

    assert await versions(conn, "public") == ALL_VERSIONS
    triggers = await (
        await conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.oban_jobs'::regclass "
            "AND tgname LIKE 'baton%' ORDER BY tgname"
        )
    ).fetchall()
    assert triggers == [
        ("baton_jobs_truncated",),
        ("baton_step_deleted",),
        ("baton_step_settled",),
        ("baton_step_skipped",),
    ]

    # The tables still work after the repeated installs.
    wf = await Workflow().add("a", Echo.new({"value": 1})).insert()
    await drain_queue(queue="default", oban=client, with_scheduled=False, with_safety=True)
    outcome = await (
        await conn.execute("SELECT outcome FROM baton_steps WHERE workflow_id = %s", (wf.id,))
    ).fetchone()
    assert outcome == ("completed",)


async def test_concurrent_installs_take_turns(
    scratch: psycopg.AsyncConnection[Any], installed: str
) -> None:
    results = await asyncio.gather(*(baton.install(installed, prefix=ALT) for _ in range(3)))

    assert results == [baton.SCHEMA_VERSION] * 3
    assert await versions(scratch, ALT) == ALL_VERSIONS


async def test_workflow_in_a_custom_prefix(
    scratch: psycopg.AsyncConnection[Any], installed: str, oban_pool: Any
) -> None:
    assert await baton.install(installed, prefix=ALT) == baton.SCHEMA_VERSION
    assert await versions(scratch, ALT) == ALL_VERSIONS

    await run_alt_workflow(scratch, oban_pool)
    public = await (
        await scratch.execute(
            "SELECT (SELECT count(*) FROM public.oban_jobs), "
            "(SELECT count(*) FROM public.baton_steps)"
        )
    ).fetchone()
    assert public == (0, 0)


async def test_insert_without_baton_installed_raises_schema_error(
    scratch: psycopg.AsyncConnection[Any], oban_pool: Any
) -> None:
    # Oban's tables are there, Baton's are not.
    await scratch.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(BARE)))
    async with scratch.transaction():
        await scratch.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(BARE)))
        await scratch.execute(oban_install_sql(BARE))
    bare = Oban(pool=oban_pool, prefix=BARE, name=BARE, leadership=False)
    wf = Workflow(name="bare").add("a", Echo.new({"value": 1}))

    with pytest.raises(SchemaError, match="baton install") as raised:
        await wf.insert(oban=bare)

    assert BARE in str(raised.value)
    jobs = await (await scratch.execute("SELECT count(*) FROM baton_bare.oban_jobs")).fetchone()
    assert jobs == (0,)
    assert wf.steps["a"].job.id is None


async def test_insert_into_a_missing_schema_raises_schema_error(
    scratch: psycopg.AsyncConnection[Any], oban_pool: Any
) -> None:
    missing = Oban(pool=oban_pool, prefix=MISSING, name=MISSING, leadership=False)
    wf = Workflow(name="missing").add("a", Echo.new({"value": 1}))

    with pytest.raises(SchemaError, match="baton install"):
        await wf.insert(oban=missing)

    assert wf.steps["a"].job.id is None


async def test_install_upgrades_today_s_v5_schema_to_a_fresh_install_s_catalog(
    scratch: psycopg.AsyncConnection[Any], installed: str, oban_pool: Any
) -> None:
    await load_v5(scratch, ALT)
    v5 = {name for kind, name, *_rest in await catalog(scratch, ALT) if kind == "function"}
    assert "baton_settle" in v5  # the eight-parameter settle function of v003/v004

    assert await baton.install(installed, prefix=ALT) == baton.SCHEMA_VERSION
    assert await baton.install(installed, prefix=FRESH) == baton.SCHEMA_VERSION

    upgraded = await catalog(scratch, ALT)
    assert upgraded == await catalog(scratch, FRESH)
    assert ("column", "baton_steps", "21 by_model", "boolean NOT NULL DEFAULT false") in upgraded
    functions = sorted(
        name for kind, name, *_rest in upgraded if kind == "function" and name.startswith("baton")
    )
    assert functions == sorted(_install.FUNCTIONS)  # v5's baton_settle and old trigger gone
    assert await versions(scratch, ALT) == ALL_VERSIONS
    await run_alt_workflow(scratch, oban_pool)


async def test_baseline_then_each_migration_in_turn_matches_a_fresh_install(
    scratch: psycopg.AsyncConnection[Any], tmp_path: Path
) -> None:
    """Table migrations run through the install's own path, each once, in version order.

    Two test-only migrations follow Baton's own (none yet): ALT gets the baseline and Baton's
    migrations, then the first probe, then the second (three installs, as three releases
    would); FRESH gets them all in one install.
    """
    latest = baton.SCHEMA_VERSION + 2
    (tmp_path / f"{latest - 1:03}_probe.sql").write_text(
        "CREATE TABLE {prefix}.baton_probe (id integer);\n"
    )
    (tmp_path / f"{latest:03}_probe_note.sql").write_text(
        "ALTER TABLE {prefix}.baton_probe ADD COLUMN note text NOT NULL DEFAULT '';\n"
    )
    (tmp_path / "README.md").write_text("not a migration\n")
    probes = _sql.migrations(tmp_path)
    assert [version for version, _file in probes] == [latest - 1, latest]
    migrations = [*_install.MIGRATIONS, *probes]

    for known in range(len(_install.MIGRATIONS), len(migrations) + 1):
        returned = await _install.install(scratch, ALT, migrations=migrations[:known])
        assert returned == max([_install.BASELINE_VERSION, *(v for v, _f in migrations[:known])])
    assert await _install.install(scratch, ALT, migrations=migrations) == latest  # idempotent
    assert await _install.install(scratch, FRESH, migrations=migrations) == latest

    assert await versions(scratch, ALT) == [*ALL_VERSIONS, latest - 1, latest]
    assert await versions(scratch, FRESH) == [*ALL_VERSIONS, latest - 1, latest]
    stepwise = await catalog(scratch, ALT)
    assert stepwise == await catalog(scratch, FRESH)
    assert ("column", "baton_probe", "2 note", "text NOT NULL DEFAULT ''::text") in stepwise


async def test_install_refuses_a_schema_older_than_the_baseline(
    scratch: psycopg.AsyncConnection[Any], installed: str
) -> None:
    await scratch.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(ALT)))
    await scratch.execute(_sql.query("create_versions.sql", ALT))
    for version in (1, 2, 3):
        await scratch.execute(_sql.query("record_version.sql", ALT), {"version": version})

    with pytest.raises(SchemaError, match="version 3, from before version 5"):
        await baton.install(installed, prefix=ALT)

    assert await versions(scratch, ALT) == [1, 2, 3]


async def test_a_trigger_is_recreated_only_when_its_file_changed(
    scratch: psycopg.AsyncConnection[Any], installed: str
) -> None:
    comments = (
        "SELECT tgname, obj_description(oid, 'pg_trigger'), oid FROM pg_trigger "
        "WHERE tgrelid = 'baton_alt.oban_jobs'::regclass AND tgname LIKE 'baton%' ORDER BY 1"
    )
    await baton.install(installed, prefix=ALT)
    first = await (await scratch.execute(comments)).fetchall()
    assert [(name, comment) for name, comment, _oid in first] == [
        (name, _install.trigger_digest(name)) for name in sorted(_install.TRIGGERS)
    ]

    await baton.install(installed, prefix=ALT)
    assert await (await scratch.execute(comments)).fetchall() == first  # same triggers

    # As if baton_step_settled.sql had changed since the trigger was created.
    await scratch.execute("COMMENT ON TRIGGER baton_step_settled ON baton_alt.oban_jobs IS 'old'")
    await baton.install(installed, prefix=ALT)
    (truncated, deleted, settled, skipped) = await (await scratch.execute(comments)).fetchall()
    assert (truncated, deleted, skipped) == (first[0], first[1], first[3])
    assert settled[:2] == first[2][:2]
    assert settled[2] != first[2][2]  # dropped and created again


async def test_install_repairs_a_disabled_trigger_and_a_dropped_function(
    scratch: psycopg.AsyncConnection[Any], installed: str, oban_pool: Any
) -> None:
    """The install verifies what is there, not its version table: a disabled trigger is
    created again, and a function dropped (with the triggers that used it) comes back."""
    state = (
        "SELECT tgname, tgenabled, obj_description(oid, 'pg_trigger') FROM pg_trigger "
        "WHERE tgrelid = 'baton_alt.oban_jobs'::regclass AND tgname LIKE 'baton%' ORDER BY 1"
    )
    await baton.install(installed, prefix=ALT)
    healthy = await (await scratch.execute(state)).fetchall()
    assert healthy == [
        (name, "O", _install.trigger_digest(name)) for name in sorted(_install.TRIGGERS)
    ]

    await scratch.execute("ALTER TABLE baton_alt.oban_jobs DISABLE TRIGGER baton_jobs_truncated")
    await scratch.execute("DROP FUNCTION baton_alt.baton_job_changed() CASCADE")
    assert [name for name, *_rest in await (await scratch.execute(state)).fetchall()] == [
        "baton_jobs_truncated",
        "baton_step_skipped",
    ]
    await baton.install(installed, prefix=ALT)

    assert await (await scratch.execute(state)).fetchall() == healthy
    await run_alt_workflow(scratch, oban_pool)
