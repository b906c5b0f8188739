"""Baton's live web view: an ASGI app to mount into FastAPI or Starlette, or to serve.

Pages: ``/`` lists workflows, ``/workflows/<id>`` draws one as a graph with its steps'
attempts, errors, timings, result previews and LLM usage. Both stay live through
Server-Sent Events. JSON: ``/api/workflows``, ``/api/workflows/<id>``; streams:
``/api/events`` and ``/api/workflows/<id>/events`` (a ``snapshot`` first, then ``step``
and ``finished`` events); ``POST /api/workflows/<id>/cancel`` and ``/retry`` require the
page's CSRF token and a same-origin request. Every asset is served by the package.

Errors (each a :class:`baton.errors.BatonError` and a ``ValueError``)::

    InsecureBind        serve() beyond loopback without a token
    └── WeakToken       a blank token, or a short one beyond loopback
    InvalidHost         an allowed host that is not a host name

Needs the ``web`` extra: ``pip install 'baton-workflows[web]'``.

Example:
    >>> from fastapi import FastAPI
    >>> from baton.web import create_app
    >>> app = FastAPI()
    >>> app.mount("/baton", create_app(oban="Oban"))
"""

from __future__ import annotations

from ._serve import InsecureBind, InvalidHost, WeakToken, create_app, serve

__all__ = ["InsecureBind", "InvalidHost", "WeakToken", "create_app", "serve"]
