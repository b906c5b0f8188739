"""``create_app`` and ``serve``: the web view's options, checked once, and uvicorn around it."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from oban import Oban
from starlette.applications import Starlette

from ..errors import BatonError
from ._app import build
from ._security import HostPolicy, is_loopback

logger = logging.getLogger("baton")

#: The shortest token accepted when the view listens beyond loopback.
MIN_TOKEN_LENGTH = 16


class InsecureBind(BatonError, ValueError):
    """``serve()`` was asked to listen beyond this machine without a token."""


class WeakToken(InsecureBind):
    """A blank token, or one shorter than 16 characters for a view beyond loopback."""


class InvalidHost(BatonError, ValueError):
    """An allowed host that is not a host name (no scheme, path or port)."""


class RedactQuery(logging.Filter):
    """Cuts the query string out of uvicorn's access log lines (it may hold ``?token=``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, mark, _query = args[2].partition("?")
            if mark:
                record.args = (*args[:2], f"{path}?[redacted]", *args[3:])
        return True


def _checked_token(token: str | None) -> str | None:
    if token is not None and not token.strip():
        raise WeakToken(
            "the token is blank: give one of at least 16 random characters "
            "(openssl rand -hex 16), or none at all on loopback"
        )
    return token


def create_app(
    *,
    oban: Oban | str | None = None,
    dsn: str | None = None,
    prefix: str = "public",
    token: str | None = None,
    csrf_secret: str | None = None,
    title: str = "Baton",
    allowed_hosts: Iterable[str] | None = None,
) -> Starlette:
    """The web view as a Starlette app.

    Args:
        oban: the Oban instance (or its name) whose database to show; default ``"Oban"``,
            looked up at the first request, so the app may be made before the instance.
        dsn: show this database instead, through a small pool of the app's own.
        prefix: the schema of the tables when ``dsn`` is given.
        token: require this secret: ``Authorization: Bearer <token>``, or open any page
            once with ``?token=<token>``, which sets an HttpOnly session cookie.
        csrf_secret: derive the CSRF token from this secret (else from ``token``, else
            at random), so that several processes serving one app accept each other's
            pages' cancel and retry requests.
        title: shown in page titles.
        allowed_hosts: host names (``Host`` header, any port) the app answers besides
            ``127.0.0.1``, ``localhost`` and ``[::1]``; ``"*"`` answers any. By default an
            app without a token answers only those loopback names (a guard against DNS
            rebinding), and an app with a token answers any host.

    Raises:
        WeakToken: ``token`` is blank.
        InvalidHost: an allowed host is not a host name.
        InvalidDSN: ``dsn`` cannot be parsed; raised here, before any request, with the
            password hidden.
    """
    try:
        hosts = HostPolicy.of(allowed_hosts, with_token=token is not None)
    except ValueError as error:
        raise InvalidHost(str(error)) from None
    return build(
        oban=oban,
        dsn=dsn,
        prefix=prefix,
        token=_checked_token(token),
        csrf_secret=csrf_secret,
        title=title,
        hosts=hosts,
    )


async def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    token: str | None = None,
    oban: Oban | str | None = None,
    dsn: str | None = None,
    prefix: str = "public",
    allow_insecure: bool = False,
    allowed_hosts: Iterable[str] | None = None,
    log_level: str = "info",
) -> None:
    """Serve the web view with uvicorn until interrupted.

    The access log shows each request's path without its query string, so that a
    ``?token=`` login does not land in it.

    Args:
        host: the address to listen on; loopback (``127.0.0.1``) by default.
        port: the TCP port.
        token: required from clients (see :func:`create_app`); needed for a host other
            than loopback unless ``allow_insecure`` is true, and then of at least 16
            characters.
        oban: the Oban instance (or its name) whose database to show.
        dsn: show this database instead.
        prefix: the schema of the tables when ``dsn`` is given.
        allow_insecure: listen beyond loopback without a token anyway.
        allowed_hosts: see :func:`create_app`.
        log_level: uvicorn's log level.

    Raises:
        InsecureBind: ``host`` is not loopback, no ``token`` was given and
            ``allow_insecure`` is false.
        WeakToken: the token is blank, or shorter than 16 characters beyond loopback.
        InvalidHost: an allowed host is not a host name.
    """
    import uvicorn

    _checked_token(token)
    if not is_loopback(host):
        if token is None and not allow_insecure:
            raise InsecureBind(
                f"refusing to serve the web view on {host!r} without a token: anyone who "
                "can reach it could cancel and retry workflows; pass token=... (env "
                "BATON_WEB_TOKEN for baton web), or allow_insecure=True if something else "
                "guards it"
            )
        if token is not None and len(token) < MIN_TOKEN_LENGTH:
            raise WeakToken(
                f"the token is {len(token)} characters long: beyond loopback it needs at "
                f"least {MIN_TOKEN_LENGTH} random characters (openssl rand -hex 16)"
            )
    app = create_app(oban=oban, dsn=dsn, prefix=prefix, token=token, allowed_hosts=allowed_hosts)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    address = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
    if token is None:
        logger.info("Baton web view on %s", address)
    else:
        logger.info(
            "Baton web view on %s (open %s?token=<token> once, with the token it was "
            "started with, or send Authorization: Bearer <token>)",
            address,
            address,
        )
    access = logging.getLogger("uvicorn.access")
    redact = RedactQuery()
    access.addFilter(redact)
    try:
        await uvicorn.Server(config).serve()
    finally:
        access.removeFilter(redact)
