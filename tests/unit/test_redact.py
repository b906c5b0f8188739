"""Passwords hidden in messages (``baton._redact``): every connection-string form libpq takes."""

from __future__ import annotations

import logging

import pytest

from baton._redact import check_dsn, redact
from baton.errors import InvalidDSN

SECRET = "Hunter2"  # noqa: S105 (the password the tests look for)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://app:Hunter2@db/x", "postgresql://app:***@db/x"),
        (
            'after "postgresql+psycopg://app:Hunter2@db/x" in',
            'after "postgresql+psycopg://app:***@db/x" in',
        ),
        ("postgres://:Hunter2@db", "postgres://:***@db"),
        ("postgresql://app:Hun@ter2@db/x", "postgresql://app:***@db/x"),
        ("host=db password=Hunter2 user=app", "host=db password=*** user=app"),
        ("host=db password = Hunter2", "host=db password = ***"),
        ("host=db password='Hunter2 x' user=app", "host=db password=*** user=app"),
        (r"password='Hun\'ter2' user=app", "password=*** user=app"),
        ("host=db sslpassword=Hunter2", "host=db sslpassword=***"),
        ("postgresql://db/x?user=app&password=Hunter2", "postgresql://db/x?user=app&password=***"),
        ("PASSWORD=Hunter2", "PASSWORD=***"),
        (
            "postgresql://app@db:5432/x has no password",
            "postgresql://app@db:5432/x has no password",
        ),
    ],
)
def test_redact_hides_each_form_of_password(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("dsn", "says"),
    [
        ("postgresql+psycopg://postgres:Hunter2@127.0.0.1/db", "not postgresql+psycopg://"),
        (" postgresql://postgres:Hunter2@127.0.0.1/db", "starts or ends with white space"),
        ("postgresql://postgres:Hunter2@[::1/db", 'matching "]"'),
        ("host=127.0.0.1 password='Hunter2", "unterminated quoted string"),
    ],
)
def test_check_dsn_refuses_without_the_password(dsn: str, says: str) -> None:
    with pytest.raises(InvalidDSN) as raised:
        check_dsn(dsn, "--dsn")
    message = str(raised.value)
    assert message.startswith("invalid --dsn: ")
    assert says in message
    assert SECRET not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_check_dsn_accepts_a_valid_one() -> None:
    assert check_dsn("postgresql://app:Hunter2@db/x") == "postgresql://app:Hunter2@db/x"


def test_baton_log_records_are_redacted_with_their_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("baton")
    with caplog.at_level(logging.WARNING, logger="baton"):
        logger.warning("lost %s", "postgresql://app:Hunter2@db/x")
        try:
            raise RuntimeError("password=Hunter2 refused")
        except RuntimeError:
            logger.exception("sweep failed")
    assert [r.getMessage() for r in caplog.records] == [
        "lost postgresql://app:***@db/x",
        "sweep failed",
    ]
    assert "password=*** refused" in caplog.text
    assert SECRET not in caplog.text
