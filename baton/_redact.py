"""Passwords kept out of what Baton prints and logs.

libpq repeats a whole connection string when it cannot parse it, password included, and
such messages reach the CLI's one-line errors, the web view's 503 page and log records.
:func:`redact` hides the password of every URL (``user:password@``) and of every
``password=`` setting (also ``sslpassword=``, quoted or not) in a text; the filter on the
``baton`` logger applies it to each of Baton's log records, their tracebacks included.
:func:`check_dsn` refuses a connection string that cannot be parsed, before anything
tries to connect with it.
"""

from __future__ import annotations

import logging
import re
import traceback

from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict

from .errors import InvalidDSN

HIDDEN = "***"

# scheme://user:password@ — the password runs to the last "@" before a space, so an
# unescaped "@" in it is hidden too.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s]*):\S*@")
# password=value, sslpassword = 'quoted \' value': a quoted value to its closing quote
# (backslash escapes as libpq reads them), else to the next space.
_SETTING = re.compile(r"(?P<head>password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|\S+)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the password of each connection string in it replaced by ``***``.

    Example:
        >>> redact('missing "=" after "postgresql://app:Hunter2@db/x" in connection info')
        'missing "=" after "postgresql://app:***@db/x" in connection info'
        >>> redact("host=db password='a b' user=app")
        'host=db password=*** user=app'
    """
    text = _URL_PASSWORD.sub(rf"\g<head>:{HIDDEN}@", text)
    return _SETTING.sub(rf"\g<head>{HIDDEN}", text)


def check_dsn(dsn: str, option: str = "dsn") -> str:
    """``dsn`` if libpq can parse it (connecting is not tried).

    Args:
        dsn: a connection string, URL or ``key=value`` form.
        option: how the message names where it came from: ``"--dsn"``, ``"DATABASE_URL"``.

    Raises:
        InvalidDSN: it cannot be parsed; the message says why, without the password.
    """
    try:
        conninfo_to_dict(dsn)
    except ProgrammingError as error:
        # not chained: the cause's message holds the password
        raise InvalidDSN(f"invalid {option}: {redact(str(error).strip())}{_hint(dsn)}") from None
    return dsn


def _hint(dsn: str) -> str:
    if dsn != dsn.strip():
        return " (it starts or ends with white space)"
    scheme, separator, _ = dsn.partition("://")
    if separator and "+" in scheme:
        return f" (libpq takes postgresql:// URLs, not {scheme}://)"
    return ""


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and traceback with :func:`redact`; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


LOG_FILTER = RedactingFilter()
logging.getLogger("baton").addFilter(LOG_FILTER)


#: Keys whose values are secrets wherever they appear in a captured call (compared in
#: lower case, with ``-`` read as ``_``): authorization headers, API keys, tokens.
SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "api_key",
        "apikey",
        "x_api_key",
        "api_token",
        "x_goog_api_key",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "secret",
        "client_secret",
        "aws_secret_access_key",
        "private_key",
        "password",
        "cookie",
        "set_cookie",
    }
)
# "Bearer <token>" anywhere, and OpenAI/Anthropic-style keys (sk-…, sk-ant-…). Each pattern
# starts with a literal, so a long text (a base64 image) is scanned in linear time; the
# URL pattern of redact() is not used on captured calls for that reason: it starts at
# every letter of a long run of letters and digits.
_URL_IN_TEXT = re.compile(r"(?P<head>://[^:@/\s]*):\S*@")
_BEARER = re.compile(r"(?P<head>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_API_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")


def is_secret_key(name: str) -> bool:
    """Whether a mapping key names a secret (``Authorization``, ``api_key``, ``x-api-key``)."""
    return name.lower().replace("-", "_") in SECRET_KEYS


def redact_secrets(text: str) -> str:
    """``text`` with bearer tokens, ``sk-`` API keys and DSN passwords replaced by ``***``.

    Example:
        >>> redact_secrets("Authorization: Bearer abc.def and key sk-proj-12345678")
        'Authorization: Bearer *** and key ***'
    """
    text = _BEARER.sub(rf"\g<head>{HIDDEN}", text)
    text = _URL_IN_TEXT.sub(rf"\g<head>:{HIDDEN}@", _API_KEY.sub(HIDDEN, text))
    return _SETTING.sub(rf"\g<head>{HIDDEN}", text)
