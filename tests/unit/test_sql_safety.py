"""Every SQL value is a parameter and every identifier goes through ``psycopg.sql``.

Scans ``baton/`` (the Python source and the ``.sql`` files), so adding an f-string query, a
``%``-formatted or concatenated statement, or a ``.sql`` file that interpolates a value
fails here. The checkers are tested on bad snippets too, so they cannot pass vacuously.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "baton"
SQL_DIR = PACKAGE / "sql"

# Upper-case SQL words in a string literal that is being formatted mean SQL is being built.
SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|TRUNCATE|GRANT|LISTEN|NOTIFY|"
    r"WHERE|FROM|JOIN|VALUES|RETURNING|SET LOCAL)\b"
)
# Statements Baton runs that are built by a function instead of a literal or a .sql file.
BUILDERS = {
    "_sql.query",  # a .sql file with {prefix} bound as sql.Identifier
    "_sql.script",  # likewise, with the two channel names bound as sql.Literal
    # Oban's install SQL interpolates the prefix unquoted: install() accepts only prefixes
    # matching _schema.PREFIX_PATTERN (tests/integration/test_bad_inputs.py).
    "oban_install_sql",
}
# The only place a non-literal becomes sql.SQL: the loader of baton/sql/*.sql.
SQL_LOADER = ("_sql.py", "text")
PLACEHOLDERS = {"prefix", "step_input"}  # step_input: the step-input columns, composed
SCRIPT_PLACEHOLDERS = {"prefix", "channel", "events"}
# The DDL scripts of baton install (_sql.script): the baseline, migrations, functions, triggers.
SCRIPT_DIRS = {"schema", "functions", "triggers"}


def _dotted(node: ast.AST) -> str:
    match node:
        case ast.Name(id=name):
            return name
        case ast.Attribute(value=value, attr=attr):
            return f"{_dotted(value)}.{attr}"
    return ""


def _literal_text(node: ast.AST) -> str | None:
    """The literal parts of a string being formatted, or None if ``node`` formats none."""
    match node:
        case ast.JoinedStr(values=values):
            return "".join(
                v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
        case ast.BinOp(left=left, op=ast.Mod() | ast.Add(), right=right):
            parts = [_literal_text(left) or "", _literal_text(right) or ""]
            for side in (left, right):
                if isinstance(side, ast.Constant) and isinstance(side.value, str):
                    parts.append(side.value)
            return "".join(parts)
        case ast.Call(func=ast.Attribute(value=ast.Constant(value=str() as text), attr="format")):
            return text
    return None


def _is_safe_statement(node: ast.AST, assigned: dict[str, list[ast.AST]], depth: int = 0) -> bool:
    """Whether an ``execute()`` statement is a literal, a loaded .sql file, or composed."""
    match node:
        case ast.Constant(value=str()):
            return True
        case ast.Call(func=func) if _dotted(func) in BUILDERS:
            return True
        case ast.Call(
            func=ast.Attribute(value=ast.Call(func=inner, args=[ast.Constant(value=str())]))
        ) if _dotted(inner) == "sql.SQL":
            return True  # sql.SQL("… {} …").format(sql.Identifier(…))
        case ast.Name(id=name) if depth < 3 and assigned.get(name):
            return all(_is_safe_statement(value, assigned, depth + 1) for value in assigned[name])
    return False


def python_violations(source: str, filename: str) -> list[str]:
    """Lines of ``source`` that build SQL from strings or execute an unvetted statement."""
    tree = ast.parse(source, filename)
    assigned: dict[str, list[ast.AST]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(node.value)
    messages = {  # an exception's message is never executed
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.Raise)
        for inner in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        text = _literal_text(node)
        if text is not None and SQL_WORDS.search(text) and id(node) not in messages:
            found.append(f"{filename}:{node.lineno}: SQL built by string formatting")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name.endswith(".execute") and node.args and not name.startswith("telemetry."):
            if not _is_safe_statement(node.args[0], assigned):
                found.append(f"{filename}:{node.lineno}: execute() of an unvetted statement")
        if name in ("sql.SQL", "SQL") and node.args:
            argument = node.args[0]
            loader = (
                filename.endswith(SQL_LOADER[0])
                and isinstance(argument, ast.Call)
                and _dotted(argument.func) == SQL_LOADER[1]
            )
            if not isinstance(argument, ast.Constant) and not loader:
                found.append(f"{filename}:{node.lineno}: sql.SQL() of a non-literal")
    return found


def sql_file_violations(text: str, filename: str, script: bool) -> list[str]:
    """Placeholders other than the bound identifiers, and values not passed as %(name)s."""
    found = []
    allowed = SCRIPT_PLACEHOLDERS if script else PLACEHOLDERS
    fields = {field for _text, field, _spec, _conv in string.Formatter().parse(text) if field}
    for field in sorted(fields - allowed):
        found.append(f"{filename}: interpolates {{{field}}}; only {sorted(allowed)} are bound")
    code = re.sub(r"--[^\n]*", "", text)  # comments may hold apostrophes
    literals = re.findall(r"'(?:[^'\n]|'')*'", code)
    if any(re.search(r"\{(prefix|channel|events)\}|%\([a-z_]+\)s", lit) for lit in literals):
        found.append(f"{filename}: a bound name or parameter inside quotes")
    if not script:  # scripts run without parameters: '%' there is plain text
        for match in re.finditer(r"%(?!\([a-z_]+\)s|%)", text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{filename}:{line}: '%' that is not a %(name)s parameter")
    return found


def test_baton_python_builds_no_sql_from_strings() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += python_violations(path.read_text(encoding="utf-8"), str(path))
    assert found == []


def test_every_sql_file_binds_only_identifiers_and_takes_values_as_parameters() -> None:
    files = sorted(SQL_DIR.rglob("*.sql"))
    assert len(files) > 20
    found = []
    for path in files:
        script = not SCRIPT_DIRS.isdisjoint(path.relative_to(SQL_DIR).parts[:-1])
        found += sql_file_violations(path.read_text(encoding="utf-8"), path.name, script)
    assert found == []


def test_every_query_file_uses_its_prefix_as_an_identifier() -> None:
    """Each table a query names is ``{prefix}.``-qualified, so no search_path can redirect it."""
    for path in sorted(SQL_DIR.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        assert re.findall(r"(?<![.\w])(baton_\w+|oban_\w+)", text) == [], path.name


BAD_PYTHON = [
    pytest.param('await conn.execute(f"SELECT * FROM jobs WHERE id = {job_id}")', id="f-string"),
    pytest.param('await conn.execute("DELETE FROM jobs WHERE id = %s" % job_id)', id="percent"),
    pytest.param('await conn.execute("UPDATE t SET a = {}".format(value))', id="str-format"),
    pytest.param('await conn.execute("SELECT * FROM " + table)', id="concatenation"),
    pytest.param("await conn.execute(sql.SQL(user_text))", id="sql-of-a-variable"),
    pytest.param('query = f"SELECT {column} FROM t"\nawait cur.execute(query)', id="via-variable"),
    pytest.param("await conn.execute(make_query(name))", id="unvetted-builder"),
]


@pytest.mark.parametrize("snippet", BAD_PYTHON)
def test_the_python_checker_catches_sql_built_from_strings(snippet: str) -> None:
    source = "async def f(conn, cur, job_id, value, table, user_text, name):\n" + "".join(
        f"    {line}\n" for line in snippet.splitlines()
    )
    assert python_violations(source, "snippet.py")


def test_the_python_checker_accepts_baton_s_own_forms() -> None:
    source = (
        "async def f(conn, prefix, params):\n"
        "    statement = _sql.query('store_result.sql', prefix)\n"
        "    await conn.execute(statement, params)\n"
        "    await conn.execute(_sql.query('lock_workflow.sql', prefix), params)\n"
        "    await conn.execute('SELECT to_regclass(%s)', (prefix,))\n"
        "    await conn.execute(sql.SQL('LISTEN {}').format(sql.Identifier(prefix)))\n"
        "    raise ValueError(f'no workflow with id {prefix!r}')\n"
    )
    assert python_violations(source, "snippet.py") == []


BAD_SQL = [
    pytest.param("SELECT * FROM {prefix}.t WHERE id = {workflow_id}", id="value-placeholder"),
    pytest.param("SELECT * FROM {prefix}.t WHERE id = '%(id)s'", id="quoted-parameter"),
    pytest.param("SELECT * FROM {prefix}.t WHERE id = %s", id="positional-parameter"),
    pytest.param("SELECT * FROM {prefix}.t WHERE name LIKE 'a%'", id="bare-percent"),
    pytest.param("SELECT pg_notify('{channel}', 'x')", id="channel-outside-a-script"),
    pytest.param("SELECT * FROM {schema}.t", id="unknown-identifier"),
]


@pytest.mark.parametrize("text", BAD_SQL)
def test_the_sql_file_checker_catches_interpolated_values(text: str) -> None:
    assert sql_file_violations(text, "bad.sql", script=False)


def test_the_sql_file_checker_catches_a_quoted_identifier_in_a_script() -> None:
    assert sql_file_violations("SELECT pg_notify('{events}', 'x')", "999_x.sql", script=True)
    assert not sql_file_violations("SELECT pg_notify({events}, 'x%')", "999_x.sql", script=True)
