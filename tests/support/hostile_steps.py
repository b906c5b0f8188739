"""A worker whose error, like an LLM's output, holds terminal control sequences."""

from __future__ import annotations

from typing import Any

import baton

#: Clears the screen, retitles the window, and reverses the text after it.
HOSTILE_ERROR = "\x1b[2J\x1b]0;pwned\x07 upstream said \u202eno"


@baton.worker(queue="default", max_attempts=1)
class Hostile:
    async def perform_workflow(self, job: Any) -> Any:
        raise RuntimeError(HOSTILE_ERROR)
