"""fastapi-mail 1.6's documented behaviour, run once with ``FastMail`` and once with the drop-in
``AcumbamailFastMail`` (only the class changes), both sending to the fake relay over STARTTLS
(fastapi-mail trusts the relay's CA through ``CERT_BUNDLE``, as we do)."""

from __future__ import annotations

from typing import Any

import pytest
from acumbamail_smtp.errors import InvalidMessage
from acumbamail_smtp.integrations.fastapi import AcumbamailFastMail, EmptyMessagesList
from acumbamail_smtp.testserver import FakeRelay
from fastapi_mail import FastMail, MessageSchema, MessageType
from fastapi_mail.errors import EmptyMessagesList as FastMailEmptyMessagesList

from tests.fastapi.test_fastapi_mail import connection_config

MAILERS = [pytest.param(FastMail, id="fastapi_mail"), pytest.param(AcumbamailFastMail, id="acumbamail")]


@pytest.mark.parametrize("mailer_class", MAILERS)
async def test_suppress_send_set_on_the_config_after_construction(relay: FakeRelay, mailer_class: Any) -> None:
    """fastapi-mail's documented test pattern: ``fm.config.SUPPRESS_SEND = 1``, then record."""
    fm = mailer_class(connection_config(relay))
    fm.config.SUPPRESS_SEND = 1
    with fm.record_messages() as outbox:
        await fm.send_message(MessageSchema(subject="testing", recipients=["ana@example.org"],
                                            body="test", subtype=MessageType.plain))
        assert len(outbox) == 1
        assert outbox[0]["subject"] == "testing"
    assert relay.messages == []
    fm.config.SUPPRESS_SEND = 0
    await fm.send_message(MessageSchema(subject="real", recipients=["ana@example.org"], body="b",
                                        subtype=MessageType.plain))
    assert [m.subject for m in relay.wait_for(1)] == ["real"]


@pytest.mark.parametrize("mailer_class", MAILERS)
async def test_custom_headers_without_a_body(relay: FakeRelay, mailer_class: Any) -> None:
    """fastapi-mail's "custom SMTP headers" example: headers, and no body."""
    message = MessageSchema(subject="Fastapi-Mail module", recipients=["ana@example.org"],
                            headers={"X-Custom-Header": "your custom value"}, subtype=MessageType.html)
    await mailer_class(connection_config(relay)).send_message(message)
    [received] = relay.wait_for(1)
    assert received.message["X-Custom-Header"] == "your custom value"
    assert received.subject == "Fastapi-Mail module" and received.rcpt_tos == ["ana@example.org"]


@pytest.mark.parametrize("mailer_class", MAILERS)
async def test_an_empty_list_raises_empty_messages_list(relay: FakeRelay, mailer_class: Any) -> None:
    with pytest.raises(FastMailEmptyMessagesList):
        await mailer_class(connection_config(relay)).send_message([])
    assert relay.sessions == 0


async def test_our_empty_list_error_is_also_an_invalid_message(relay: FakeRelay) -> None:
    with pytest.raises(InvalidMessage) as caught:
        await AcumbamailFastMail(connection_config(relay)).send_message([])
    assert isinstance(caught.value, EmptyMessagesList)
