"""Run Oban's own test suite twice, plainly and beside Baton, and print the difference.

    python -m tests.oban_suite --oban-src PATH [--dsn-base postgresql://postgres@127.0.0.1]

PATH is a checkout of oban-bg/oban-py (its ``test/`` directory is used; its ``oban/`` is
not: the tests run against the installed oban). The suite's conftest connects to the
database ``oban_py_test`` on ``--dsn-base``; this script creates it for each run and drops
it afterwards, and refuses to start when it already exists. Run 1 installs Oban's schema
(``oban install``) and runs the suite; run 2 installs Baton's (``baton install``, which
includes Oban's tables and adds Baton's triggers on ``oban_jobs``) and runs the suite with
``baton`` imported as a pytest plugin (``-p baton``). The tests are copied to a temporary
directory first, so the checkout's own ``oban`` package cannot shadow the installed one.
Recorded results: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import psycopg
from psycopg import sql

DATABASE = "oban_py_test"  # fixed by the suite's conftest

PYTEST_INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
markers =
    oban: configure Oban instance options for a test
timeout = 120
"""


def outcomes(report: Path) -> dict[str, str]:
    """Each test's outcome (passed, failed, error, skipped) from a JUnit XML report."""
    found: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314 - our own report
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if "failure" in kinds:
            found[name] = "failed"
        elif "error" in kinds:
            found[name] = "error"
        elif "skipped" in kinds:
            found[name] = "skipped"
        else:
            found[name] = "passed"
    return found


def admin(dsn_base: str, statement: sql.Composable) -> None:
    with psycopg.connect(f"{dsn_base}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def exists(dsn_base: str) -> bool:
    with psycopg.connect(f"{dsn_base}/postgres", autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
    return row is not None


def run(label: str, dsn_base: str, tests: Path, install: list[str], plugins: list[str]) -> Path:
    """Create the database, install a schema, run the suite; the JUnit report's path."""
    admin(dsn_base, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    try:
        subprocess.run([*install, "--dsn", f"{dsn_base}/{DATABASE}"], check=True)
        report = tests.parent / f"{label}.xml"
        command = [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "--continue-on-collection-errors",
            *(arg for plugin in plugins for arg in ("-p", plugin)),
            f"--junitxml={report}", "test",
        ]  # fmt: skip
        print(f"== {label}: {' '.join(command[1:])}", flush=True)
        subprocess.run(command, cwd=tests.parent, env={"DSN_BASE": dsn_base, **_env()}, check=False)
        return report
    finally:
        admin(
            dsn_base,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)),
        )


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "DSN_BASE"}


def summary(found: dict[str, str]) -> str:
    counts = Counter(found.values())
    return ", ".join(f"{counts[kind]} {kind}" for kind in ("passed", "failed", "error", "skipped"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oban-src", type=Path, required=True, help="oban-py checkout")
    parser.add_argument("--dsn-base", default="postgresql://postgres@127.0.0.1")
    args = parser.parse_args(argv)
    source = args.oban_src / "test"
    if not (source / "conftest.py").is_file():
        parser.error(f"{source} holds no conftest.py: give a checkout of oban-bg/oban-py")
    if exists(args.dsn_base):
        parser.error(f"database {DATABASE!r} exists on {args.dsn_base}: drop it first")

    with tempfile.TemporaryDirectory(prefix="oban_suite_") as tmp:
        tests = Path(tmp) / "suite" / "test"
        shutil.copytree(source, tests)
        (tests.parent / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
        oban_cli = [sys.executable, "-m", "oban", "install"]
        baton_cli = [sys.executable, "-m", "baton", "install"]
        plain = outcomes(run("plain", args.dsn_base, tests, oban_cli, []))
        beside = outcomes(run("baton", args.dsn_base, tests, baton_cli, ["baton"]))

    print(f"oban {version('oban')}, suite from {args.oban_src}")
    print(f"plain:        {summary(plain)}")
    print(f"with Baton:   {summary(beside)}")
    changed = sorted(
        (name, plain.get(name, "absent"), beside.get(name, "absent"))
        for name in plain.keys() | beside.keys()
        if plain.get(name) != beside.get(name)
    )
    print(f"differences:  {len(changed)}")
    for name, before, after in changed:
        print(f"  {name}: {before} -> {after}")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
