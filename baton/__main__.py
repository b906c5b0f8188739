"""``python -m baton``: the ``baton`` command line."""

from __future__ import annotations

from baton.cli import main

main()
