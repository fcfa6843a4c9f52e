"""Capture every log record at DEBUG from every logger, and find a secret anywhere in one (its
message, arguments, extras such as Django's ``request``, or its traceback). Shared by the
Django, Flask and FastAPI webhook tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def capture_everything(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """Every logger at DEBUG, non-propagating ones included; yields caplog's records."""
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for log in loggers:
        caplog.set_level(logging.DEBUG, logger=log.name)
    detached = [log for log in loggers if not log.propagate]
    for log in detached:
        log.addHandler(caplog.handler)
    try:
        yield caplog.records
    finally:
        for log in detached:
            log.removeHandler(caplog.handler)


def records_with(records: list[logging.LogRecord], secret: str) -> list[str]:
    """The records (as text) in which ``secret`` appears anywhere."""
    found = []
    formatter = logging.Formatter()
    for record in records:
        parts = [record.getMessage(), *(repr(value) for value in vars(record).values())]
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
        text = "\n".join(parts)
        if secret in text:
            found.append(f"{record.name} {record.levelname}: {record.getMessage()}")
    return found
