"""The install's SQL layout: each function defined once, in its own file, in a stated order."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import baton
from baton.store import _install

SQL_DIR = Path(__file__).parents[2] / "baton" / "sql"
DEFINITION = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+\{prefix\}\.(\w+)", re.I)
CALL = re.compile(r"\{prefix\}\.(baton_\w+)\(")


def test_no_sql_function_is_defined_twice_in_baton_sql() -> None:
    defined = Counter(
        name
        for path in SQL_DIR.rglob("*.sql")
        for name in DEFINITION.findall(path.read_text(encoding="utf-8"))
    )
    assert defined, "the scan found no function: has the layout moved?"
    assert [name for name, count in defined.items() if count > 1] == []


def test_each_function_file_defines_its_own_function_with_create_or_replace() -> None:
    for path in sorted((SQL_DIR / "functions").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        assert DEFINITION.findall(text) == [path.stem], path.name
        assert f"CREATE OR REPLACE FUNCTION {{prefix}}.{path.stem}(" in text, path.name


def test_the_install_order_lists_every_function_and_trigger_file_once() -> None:
    functions = sorted(path.stem for path in (SQL_DIR / "functions").glob("*.sql"))
    triggers = sorted(path.stem for path in (SQL_DIR / "triggers").glob("*.sql"))

    assert sorted(_install.FUNCTIONS) == functions
    assert len(set(_install.FUNCTIONS)) == len(_install.FUNCTIONS)
    assert sorted(_install.TRIGGERS) == triggers


def test_each_function_is_created_after_the_functions_it_calls() -> None:
    for position, name in enumerate(_install.FUNCTIONS):
        text = (SQL_DIR / "functions" / f"{name}.sql").read_text(encoding="utf-8")
        called = set(CALL.findall(text)) - {name}
        assert called <= set(_install.FUNCTIONS[:position]), (name, called)


def test_each_trigger_file_uses_a_function_created_before_it() -> None:
    for name in _install.TRIGGERS:
        text = (SQL_DIR / "triggers" / f"{name}.sql").read_text(encoding="utf-8")
        created = re.search(rf"^CREATE (CONSTRAINT )?TRIGGER {name}\n", text, re.MULTILINE)
        assert created is not None, name
        assert set(CALL.findall(text)) <= set(_install.FUNCTIONS), name


def test_migrations_are_numbered_after_the_baseline() -> None:
    versions = [version for version, _file in _install.MIGRATIONS]

    assert all(version > _install.BASELINE_VERSION for version in versions)
    assert len(set(versions)) == len(versions)
    assert baton.SCHEMA_VERSION == max([_install.BASELINE_VERSION, *versions])
