"""The crash suite: random DAG workflows on several worker processes that get SIGKILLed.

Run it with ``python -m tests.chaos.run`` (see ``docs/reliability.md``, "Crash suite").
"""
