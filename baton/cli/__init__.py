"""The ``baton`` command line.

``install`` and ``demo``; ``start`` runs workers; ``run`` inserts a workflow from a
template file; ``list``, ``status``, ``watch`` and ``graph`` show workflows; ``cancel``
and ``retry`` change them; ``web`` serves the web view.

Connection settings follow the ``oban`` CLI: ``--dsn``, else ``DATABASE_URL``, else
``OBAN_DSN``, else ``dsn`` in ``oban.toml`` (or the file given with ``--config``); the
schema is ``--prefix``, else ``OBAN_PREFIX``, else ``prefix`` in the file, else ``public``.
Every failure prints one line (``Error: …``) and exits non-zero, never a traceback.
"""

from __future__ import annotations

from ._app import main

__all__ = ["main"]
