"""Baton's live web view: an ASGI app to mount into FastAPI or Starlette, or to serve.

Pages: ``/`` lists workflows, ``/workflows/<id>`` draws one as a graph with its steps'
attempts, errors, timings, result previews and LLM usage. Both stay live through
Server-Sent Events. JSON: ``/api/workflows``, ``/api/workflows/<id>``; streams:
``/api/events`` and ``/api/workflows/<id>/events`` (a ``snapshot`` first, then ``step``
and ``finished`` events); ``POST /api/workflows/<id>/cancel`` and ``/retry`` require the
page's CSRF token and a same-origin request. Every asset is served by the package.

Needs the ``web`` extra: ``pip install 'baton-workflows[web]'``.

Example:
    >>> from fastapi import FastAPI
    >>> from baton.web import create_app
    >>> app = FastAPI()
    >>> app.mount("/baton", create_app(oban="Oban"))
"""

from __future__ import annotations

import logging

from oban import Oban
from starlette.applications import Starlette

from ..errors import BatonError
from ._app import build
from ._security import is_loopback

__all__ = ["InsecureBind", "create_app", "serve"]

logger = logging.getLogger("baton")


class InsecureBind(BatonError, ValueError):
    """``serve()`` was asked to listen beyond this machine without a token."""


def create_app(
    *,
    oban: Oban | str | None = None,
    dsn: str | None = None,
    prefix: str = "public",
    token: str | None = None,
    csrf_secret: str | None = None,
    title: str = "Baton",
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

    Raises:
        InvalidDSN: ``dsn`` cannot be parsed; raised here, before any request, with the
            password hidden.
    """
    return build(
        oban=oban, dsn=dsn, prefix=prefix, token=token, csrf_secret=csrf_secret, title=title
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
    log_level: str = "info",
) -> None:
    """Serve the web view with uvicorn until interrupted.

    Args:
        host: the address to listen on; loopback (``127.0.0.1``) by default.
        port: the TCP port.
        token: required from clients (see :func:`create_app`); needed for a host other
            than loopback unless ``allow_insecure`` is true.
        oban: the Oban instance (or its name) whose database to show.
        dsn: show this database instead.
        prefix: the schema of the tables when ``dsn`` is given.
        allow_insecure: listen beyond loopback without a token anyway.
        log_level: uvicorn's log level.

    Raises:
        InsecureBind: ``host`` is not loopback, no ``token`` was given and
            ``allow_insecure`` is false.
    """
    import uvicorn

    if not token and not allow_insecure and not is_loopback(host):
        raise InsecureBind(
            f"refusing to serve the web view on {host!r} without a token: anyone who can "
            "reach it could cancel and retry workflows; pass token=... (baton web --token), "
            "or allow_insecure=True if something else guards it"
        )
    app = create_app(oban=oban, dsn=dsn, prefix=prefix, token=token)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    logger.info("Baton web view on http://%s:%s/", host, port)
    await uvicorn.Server(config).serve()
