"""A schedule firing every minute, registered at import by the worker processes of
``test_schedules.py`` (``worker_proc --import tests.support.schedule_steps``).

Never import this in the test process itself: its Oban instances would fire the
schedule into whatever database they run on.
"""

from __future__ import annotations

import baton
from baton import Tick, Workflow
from tests.support.proc_steps import Node

NAME = "every-minute"


def build(tick: Tick) -> Workflow:
    return Workflow(name=NAME).add("a", Node.new({"tick": tick.at.isoformat()}))


baton.schedule(NAME, "* * * * *", build)
