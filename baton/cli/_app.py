"""The ``baton`` command group: every command, registered under its name."""

from __future__ import annotations

import click

from ._demo import demo
from ._install import install
from ._limits import limits
from ._prune import prune
from ._result import result
from ._run import run_command
from ._signal import signal_command
from ._start import start
from ._usage import usage
from ._web import web
from ._workflows import cancel, graph, list_command, retry, status, watch

COMMANDS = (
    install,
    demo,
    start,
    run_command,
    list_command,
    status,
    result,
    watch,
    graph,
    cancel,
    retry,
    signal_command,
    prune,
    usage,
    limits,
    web,
)


@click.group(commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="baton-workflows", prog_name="baton")
def main() -> None:
    """Baton: DAG workflows for Oban for Python."""
