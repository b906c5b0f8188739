"""``baton web``: serve the live web view.

``baton.web`` needs the optional ``web`` extra (starlette, uvicorn), so it is imported
only when the command runs; without it the command says so in one line.
"""

from __future__ import annotations

import importlib.util
import logging
import sys

import click

from ._connection import probe, settings
from ._exits import first_line, run_or_exit
from ._options import connection


@click.command()
@connection
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--token",
    envvar="BATON_WEB_TOKEN",
    help="Require this token from clients (needed beyond loopback, 16+ characters). "
    "Prefer the env BATON_WEB_TOKEN: an option shows in process lists.",
)
@click.option(
    "--allow-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests for this host name (repeatable; '*' for any). Without a "
    "token only 127.0.0.1, localhost and [::1] are answered.",
)
@click.option(
    "--allow-insecure",
    is_flag=True,
    help="Listen beyond loopback without a token (something else must guard it).",
)
def web(
    config: str | None,
    dsn: str | None,
    prefix: str | None,
    host: str,
    port: int,
    token: str | None,
    allowed_hosts: tuple[str, ...],
    allow_insecure: bool,
) -> None:
    """Serve the live web view of the workflows."""
    if importlib.util.find_spec("baton.web") is None:
        raise click.ClickException("the web view (baton.web) is not part of this installation")
    try:
        from .. import web as view
    except ImportError as error:
        raise click.ClickException(
            f"the web view needs the 'web' extra: pip install 'baton-workflows[web]' "
            f"({first_line(error)})"
        ) from None
    url, schema = settings(config, dsn, prefix)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")

    async def run() -> None:
        await probe(url, schema)
        await view.serve(
            host,
            port,
            token=token,
            dsn=url,
            prefix=schema,
            allow_insecure=allow_insecure,
            allowed_hosts=allowed_hosts or None,
        )

    run_or_exit(run())
