"""The core Message's ``date`` field (added for Flask-Mail's ``Message.date``): the Date header."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
from acumbamail_smtp import InvalidMessage, Message, prepare


def date_header(message: Message) -> str:
    [line] = [line for line in prepare(message).data.split(b"\r\n") if line.startswith(b"Date: ")]
    return line.decode()[len("Date: "):]


def base(**fields: object) -> Message:
    return Message(from_email="a@example.com", to="b@example.net", text="x", **fields)  # type: ignore[arg-type]


def test_an_aware_datetime_or_a_unix_time_sets_the_date_header() -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=2)))
    assert date_header(base(date=when)) == "Mon, 06 May 2024 07:08:09 +0200"
    assert parsedate_to_datetime(date_header(base(date=0.0))) == datetime(1970, 1, 1, tzinfo=UTC)


def test_without_a_date_the_header_is_now() -> None:
    sent = parsedate_to_datetime(date_header(base()))
    assert abs(sent - datetime.now(UTC)) < timedelta(days=1)


@pytest.mark.parametrize("bad", [datetime(2024, 1, 1), "yesterday", float("nan"), True, 1e300])
def test_a_bad_date_is_refused(bad: object) -> None:
    with pytest.raises(InvalidMessage, match="date"):
        prepare(base(date=bad))
