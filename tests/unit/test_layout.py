"""The package layout: no import circle in ``baton``, no module using another's privates,
every SQL execution in the store, every module under 400 lines, and a layout table in
``docs/architecture.md`` that lists every module and nothing that is gone.

Reads ``baton/**.py`` with ``ast``, so every import counts: at module level, inside
functions, and under ``if TYPE_CHECKING:``. Importing ``baton.p.m`` from outside the
package ``baton.p`` also runs ``baton/p/__init__.py``, so it counts as importing
``baton.p`` too. The checkers are tested on snippets, so they cannot pass vacuously.
"""

from __future__ import annotations

import ast
import glob
import re
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "baton"
# The one adapter to Oban's private API (its docstring says why): it reads Oban's privates.
OBAN_ADAPTER = "baton._oban"
# Private-looking names that are public API: os._exit is documented.
PUBLIC_UNDERSCORED = {"os._exit"}
# namedtuple's public methods carry an underscore so as not to clash with field names
# (urllib.parse's SplitResult._replace, say).
NAMEDTUPLE_API = {"_replace", "_asdict", "_fields", "_make"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def baton_modules() -> dict[str, ast.Module]:
    """Every module of ``baton`` by dotted name (a package by its own name), parsed."""
    return {
        module_name(path): ast.parse(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _package_of(module: str, known: set[str]) -> str:
    """The package a module's relative imports start from."""
    is_package = any(name.startswith(module + ".") for name in known)
    return module if is_package else module.rpartition(".")[0]


def _resolve(module: str, node: ast.ImportFrom, known: set[str]) -> str:
    if not node.level:
        return node.module or ""
    base = _package_of(module, known)
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    return f"{base}.{node.module}" if node.module else base


def imported(module: str, tree: ast.Module, known: set[str]) -> Iterator[str]:
    """The module every import in ``tree`` names: ``from x import y`` names ``x.y`` when
    that is a module, else ``x``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node, known)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                yield child if child in known else base


def import_graph(modules: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Each baton module to the baton modules and packages importing it runs."""
    known = set(modules)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module, tree in modules.items():
        for target in imported(module, tree, known):
            if target not in known:
                continue
            graph[module].add(target)
            package = target.rpartition(".")[0]
            while package and not (module == package or module.startswith(package + ".")):
                graph[module].add(package)  # its __init__ runs first
                package = package.rpartition(".")[0]
    for module in graph:
        graph[module].discard(module)
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return list(error.args[1])
    return None


def private_uses(modules: dict[str, ast.Module]) -> list[str]:
    """Each use of a baton module's private name from outside that module.

    Caught: ``from m import _name`` and ``m._name`` where ``m`` is a baton module (a
    private *module*, such as ``from . import _sql``, is the package's own layout and
    allowed). Attribute access on instances of another module's classes is not seen.
    """
    known = set(modules)
    found = []
    for module, tree in modules.items():
        bound: dict[str, str] = {}  # local name -> baton module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = _resolve(module, node, known)
                for alias in node.names:
                    child = f"{base}.{alias.name}"
                    if child in known:
                        bound[alias.asname or alias.name] = child
                    elif base in known and _private(alias.name) and base != module:
                        found.append(f"{module}:{node.lineno}: from {base} import {alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in known and alias.asname:
                        bound[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and _private(node.attr)
                and f"{bound[node.value.id]}.{node.attr}" not in known
            ):
                found.append(f"{module}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def foreign_attributes(modules: dict[str, ast.Module]) -> list[str]:
    """Each ``x._name`` read in a module that never defines ``_name`` itself.

    A module may read the private attributes it defines (``self._steps = ...``, a method
    ``def _graft``, a module global); reading one it does not define, on any object, is a
    reach-in to another module's internals, such as ``workflow._expand(...)`` from outside
    the builder. ``self._name`` set elsewhere (``setattr``) counts as the module's own.
    """
    found = []
    for module, tree in modules.items():
        if module == OBAN_ADAPTER:
            continue
        own = set()
        for node in ast.walk(tree):
            match node:
                case ast.Attribute(attr=name, ctx=ast.Store()) | ast.Name(id=name, ctx=ast.Store()):
                    own.add(name)
                case ast.FunctionDef(name=name) | ast.AsyncFunctionDef(name=name):
                    own.add(name)
                case ast.ClassDef(name=name):
                    own.add(name)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or not _private(node.attr):
                continue
            if node.attr in NAMEDTUPLE_API:
                continue
            text = ast.unparse(node)
            self_access = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if node.attr not in own and not self_access and text not in PUBLIC_UNDERSCORED:
                found.append(f"{module}:{node.lineno}: {text}")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_baton_has_no_import_cycle() -> None:
    graph = import_graph(baton_modules())
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])


def test_the_builder_is_imported_one_way() -> None:
    """The runtime uses the builder; nothing the builder imports imports it back."""
    graph = import_graph(baton_modules())
    assert "baton.workflow" in graph["baton._expansion"]
    store = [module for module in graph if module.startswith("baton.store")]
    assert "baton.store._steps" in store
    assert not any(
        target.startswith("baton.workflow") for module in store for target in graph[module]
    )


def test_no_baton_module_uses_another_s_private_names() -> None:
    modules = baton_modules()
    assert private_uses(modules) == []


def test_no_baton_module_reads_another_s_private_attributes() -> None:
    assert foreign_attributes(baton_modules()) == []


def _graph_of(sources: dict[str, str]) -> dict[str, set[str]]:
    return import_graph({name: ast.parse(source) for name, source in sources.items()})


@pytest.mark.parametrize(
    "sources",
    [
        pytest.param({"baton.a": "from . import b", "baton.b": "from .a import x"}, id="direct"),
        pytest.param(
            {
                "baton.a": "def f():\n    from .b import g",
                "baton.b": "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from .a import f",
            },
            id="function-level-and-type-checking",
        ),
        pytest.param(
            {
                "baton.p": "from ._m import x",
                "baton.p._m": "from .. import c",
                "baton.c": "from .p._n import y",
                "baton.p._n": "y = 1",
            },
            id="through-a-package-init",
        ),
    ],
)
def test_the_cycle_checker_catches_cycles(sources: dict[str, str]) -> None:
    assert cycle(_graph_of(sources)) is not None


def test_the_cycle_checker_accepts_siblings_of_one_package() -> None:
    sources = {
        "baton.p": "from ._m import x\nfrom ._n import y",
        "baton.p._m": "from ._n import y\nfrom .. import c",
        "baton.p._n": "y = 1",
        "baton.c": "z = 1",
    }
    assert cycle(_graph_of(sources)) is None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from ._b import _hidden", "baton.a:1: from baton._b import _hidden"),
        ("from . import _b\n_b._hidden()", "baton.a:2: _b._hidden"),
        ("import baton._b as b\nb._hidden", "baton.a:2: b._hidden"),
    ],
)
def test_the_private_checker_catches_reach_ins(source: str, expected: str) -> None:
    modules = {name: ast.parse(text) for name, text in {"baton.a": source, "baton._b": ""}.items()}
    assert private_uses(modules) == [expected]


def test_the_private_checker_accepts_private_modules_and_own_names() -> None:
    sources = {
        "baton.a": "from . import _b\nfrom ._b import public\n_b.public()\n_own = 1\n",
        "baton._b": "",
    }
    modules = {name: ast.parse(text) for name, text in sources.items()}
    assert private_uses(modules) == []


def test_the_attribute_checker_catches_a_reach_in_and_accepts_own_names() -> None:
    source = (
        "class W:\n"
        "    def __init__(self):\n"
        "        self._steps = {}\n"
        "    def _expand(self): ...\n"
        "def f(w, other):\n"
        "    w._expand(w._steps)\n"
        "    return other._graft()\n"
    )
    assert foreign_attributes({"baton.a": ast.parse(source)}) == ["baton.a:7: other._graft"]


STORE = PACKAGE / "store"
MAX_LINES = 400
#: Methods of psycopg connections and cursors that send SQL or read its rows.
EXECUTING = {"execute", "executemany", "cursor", "fetchone", "fetchall", "fetchmany", "copy"}


def executions(source: str) -> list[tuple[int, str]]:
    """``(line, call)`` of each call of an executing method, bar Oban's ``telemetry.execute``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr not in EXECUTING:
            continue
        owner = node.func.value
        if isinstance(owner, ast.Name) and owner.id == "telemetry":
            continue
        found.append((node.lineno, ast.unparse(node.func)))
    return found


def test_no_module_outside_the_store_executes_sql() -> None:
    outside = {
        str(path.relative_to(PACKAGE)): calls
        for path in sorted(PACKAGE.rglob("*.py"))
        if STORE not in path.parents and (calls := executions(path.read_text(encoding="utf-8")))
    }

    assert outside == {}


def test_the_store_is_where_sql_is_executed() -> None:
    inside = [path for path in STORE.rglob("*.py") if executions(path.read_text(encoding="utf-8"))]

    assert inside, "the check finds the store's own executions"


@pytest.mark.parametrize(
    "snippet",
    [
        "await conn.execute(query)",
        "cursor = conn.cursor()",
        "rows = await cursor.fetchall()",
        "await (await conn.execute('SELECT 1')).fetchone()",
    ],
)
def test_the_check_sees_an_execution(snippet: str) -> None:
    assert executions(snippet)


def test_the_check_lets_telemetry_events_through() -> None:
    assert executions("telemetry.execute('baton.step.completed', {})") == []


def test_every_module_is_under_the_size_limit() -> None:
    lines = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }

    assert {path: count for path, count in lines.items() if count >= MAX_LINES} == {}


ARCHITECTURE = ROOT / "docs" / "architecture.md"


def documented_paths() -> set[str]:
    """The paths in the first column of the layout tables of docs/architecture.md."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    layout = text[text.index("## Layout") : text.index("\n## ", text.index("## Layout") + 1)]
    cells = [line.split("|")[1] for line in layout.splitlines() if line.startswith("| `")]
    return {path for cell in cells for path in re.findall(r"`([^`]+)`", cell)}


def test_the_architecture_doc_lists_every_module_and_no_other() -> None:
    modules = {str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py")}
    listed = documented_paths()

    assert sorted(modules - listed) == [], "modules missing from docs/architecture.md"
    gone = [path for path in listed if not glob.glob(str(ROOT / path))]
    assert gone == [], "docs/architecture.md lists paths that do not exist"
