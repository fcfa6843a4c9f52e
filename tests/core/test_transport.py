"""Mailer against the fake relay over real SMTP on 127.0.0.1: TLS, AUTH, reuse, faults, retries."""

from __future__ import annotations

import base64
import logging
import socket

import pytest
from acumbamail_smtp import (
    AuthenticationError,
    ConfigError,
    ConnectionFailed,
    InvalidMessage,
    Mailer,
    Message,
    PermanentError,
    RecipientsRefused,
    SendResult,
    TransientError,
)
from acumbamail_smtp.testserver import FakeRelay

from .conftest import PASSWORD, USERNAME


def msg(i: int = 0, **fields: object) -> Message:
    base: dict[str, object] = {"from_email": "Shop <shop@example.com>", "to": f"user{i}@example.org",
                               "subject": f"Message {i}", "text": f"body {i}", "html": f"<p>body {i}</p>",
                               "category": "SIGNUP"}
    base.update(fields)
    return Message(**base)  # type: ignore[arg-type]


def test_send_over_starttls_with_auth_arrives_with_category(relay: FakeRelay) -> None:
    message = msg()
    result = Mailer(relay.client_config()).send(message)
    assert result.status == "sent"
    assert result.accepted == ["user0@example.org"]
    received = relay.wait_for(1)[0]
    assert received.tls and received.authenticated_as == USERNAME
    assert received.category == "SIGNUP"
    assert received.id == result.queue_id
    assert received.message["Message-ID"] == result.message_id
    assert message.send_result is result
    assert received.message["Bcc"] is None


def test_implicit_tls_port(relay: FakeRelay) -> None:
    config = relay.client_config(port=relay.tls_port, security="tls")
    assert Mailer(config).send(msg()).status == "sent"
    assert relay.wait_for(1)[0].tls


def test_one_connection_for_a_thousand_messages(relay: FakeRelay) -> None:
    with Mailer(relay.client_config()) as mailer:
        results = mailer.send_many(msg(i) for i in range(1000))
    assert [r.status for r in results] == ["sent"] * 1000
    received = relay.wait_for(1000)
    assert relay.sessions == 1
    assert [m.message["Subject"] for m in received] == [f"Message {i}" for i in range(1000)]


def test_iter_send_is_lazy_one_ahead_and_in_order(relay: FakeRelay) -> None:
    produced: list[int] = []

    def messages():  # type: ignore[no-untyped-def]
        for i in range(5):
            produced.append(i)
            yield msg(i)

    with Mailer(relay.client_config()) as mailer:
        stream = mailer.iter_send(messages())
        first = next(stream)
        # Pipelining reads one message ahead (its envelope rides with the first one's data), no more.
        assert produced == [0, 1]
        rest = list(stream)
    assert first.accepted == ["user0@example.org"]
    assert [r.accepted[0] for r in rest] == [f"user{i}@example.org" for i in range(1, 5)]


def test_send_outside_a_context_opens_and_closes(relay: FakeRelay) -> None:
    mailer = Mailer(relay.client_config())
    mailer.send(msg(1))
    mailer.send(msg(2))
    assert relay.sessions == 2
    assert not mailer._conn.is_open


@pytest.mark.parametrize("fault", ["close_after", "drop_after"])
def test_lost_connection_mid_batch_resumes_without_loss_or_duplicates(relay: FakeRelay, fault: str) -> None:
    getattr(relay, fault)(7)
    messages = [msg(i) for i in range(20)]
    with Mailer(relay.client_config()) as mailer:
        results = mailer.send_many(messages)
    assert all(r.status == "sent" for r in results)
    received = relay.wait_for(20)
    ids = [m.message["Message-ID"] for m in received]
    assert sorted(ids) == sorted(r.message_id for r in results)
    assert len(set(ids)) == 20, "a message was received twice"
    assert relay.sessions == 2


def test_451_and_550_recipients_in_one_message_is_partially_refused(relay: FakeRelay) -> None:
    relay.soft_bounce("later@example.org")
    relay.hard_bounce("gone@example.org")
    result = Mailer(relay.client_config()).send(
        msg(to=["ok@example.org", "later@example.org"], cc="gone@example.org"))
    assert result.status == "partially_refused"
    assert result.accepted == ["ok@example.org"]
    assert result.refused["later@example.org"].code == 451
    assert result.refused["gone@example.org"].code == 550
    assert relay.wait_for(1)[0].rcpt_tos == ["ok@example.org"]


def test_every_recipient_refused_raises_with_the_result(relay: FakeRelay) -> None:
    relay.hard_bounce("gone@example.org")
    message = msg(to="gone@example.org")
    with pytest.raises(RecipientsRefused) as info:
        Mailer(relay.client_config()).send(message)
    assert info.value.result.status == "refused"
    assert info.value.result.refused["gone@example.org"].code == 550
    assert message.send_result is info.value.result
    assert relay.messages == []


def test_send_many_reports_refused_messages_and_goes_on(relay: FakeRelay) -> None:
    relay.hard_bounce("user1@example.org")
    with Mailer(relay.client_config()) as mailer:
        results = mailer.send_many(msg(i) for i in range(3))
    assert [r.status for r in results] == ["sent", "refused", "sent"]
    assert len(relay.wait_for(2)) == 2


def test_transient_data_failure_is_retried(relay: FakeRelay) -> None:
    relay.fail_next_data(code=451, times=2)
    result = Mailer(relay.client_config(max_tries=3)).send(msg())
    assert result.status == "sent"
    assert len(relay.wait_for(1)) == 1


def test_transient_failure_after_the_last_try_raises(relay: FakeRelay) -> None:
    relay.fail_next_data(code=452, times=5)
    with pytest.raises(TransientError) as info:
        Mailer(relay.client_config(max_tries=2)).send(msg())
    assert info.value.code == 452
    assert relay.messages == []


def test_permanent_data_failure_raises_permanent_error(relay: FakeRelay) -> None:
    relay.fail_next_data(code=554, text="5.7.1 rejected")
    with pytest.raises(PermanentError, match="554"):
        Mailer(relay.client_config()).send(msg())


def test_batch_that_cannot_finish_says_what_was_sent(relay: FakeRelay) -> None:
    with Mailer(relay.client_config(max_tries=1)) as mailer:
        mailer.send(msg(0))
        relay.fail_next_data(code=451, times=1)
        with pytest.raises(TransientError) as info:
            mailer.send_many([msg(1), msg(2)])
    outcomes = info.value.results
    assert outcomes is not None and len(outcomes) == 2
    assert isinstance(outcomes[0], TransientError)
    # Message 2 was already on the wire (pipelined behind 1): it finished, and the results say so.
    assert isinstance(outcomes[1], SendResult) and outcomes[1].status == "sent"
    assert relay.messages[-1].message["Message-ID"] == outcomes[1].message_id


def test_wrong_password_says_smtp_may_not_be_enabled(relay: FakeRelay) -> None:
    wrong = "wrong-Secret-99"
    with pytest.raises(AuthenticationError) as info:
        Mailer(relay.client_config(password=wrong)).send(msg())
    text = str(info.value)
    assert info.value.code == 535
    assert "may not be enabled" in text
    assert wrong not in text and wrong not in repr(info.value)
    assert relay.messages == []


def test_auth_refused_over_plain_connection(relay: FakeRelay) -> None:
    with pytest.raises(ConfigError, match="clear text"):
        relay.client_config(security="none")
    config = relay.client_config(security="none", allow_insecure=True)
    with pytest.raises(PermanentError, match="AUTH"):
        Mailer(config).send(msg())
    assert relay.messages == []


def test_server_without_starttls_is_an_error_not_a_downgrade() -> None:
    with FakeRelay(username=USERNAME, password=PASSWORD, starttls=False) as relay:
        with pytest.raises(ConnectionFailed, match="STARTTLS") as info:
            Mailer(relay.client_config()).send(msg())
        assert info.value.retryable is False
        assert relay.messages == []


def test_certificate_that_does_not_verify_is_refused(relay: FakeRelay) -> None:
    config = relay.client_config(ca_file=None)  # the system trust store does not know the fake CA
    with pytest.raises(ConnectionFailed, match="TLS") as info:
        Mailer(config).send(msg())
    assert info.value.retryable is False
    assert isinstance(info.value.__cause__, Exception)


def test_unreachable_relay_is_connection_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from acumbamail_smtp import RelayConfig

    config = RelayConfig(host="127.0.0.1", port=port, security="starttls", max_tries=2, retry_backoff=0)
    with pytest.raises(ConnectionFailed, match=f"127.0.0.1:{port}"):
        Mailer(config).send(msg())


def test_slow_relay_times_out(relay: FakeRelay) -> None:
    relay.delay_replies(1.0)
    with pytest.raises(ConnectionFailed):
        Mailer(relay.client_config(timeout=0.3, max_tries=1)).send(msg())


def test_invalid_message_never_opens_a_connection(relay: FakeRelay) -> None:
    with pytest.raises(InvalidMessage, match="header injection"):
        Mailer(relay.client_config()).send(msg(subject="Hi\r\nBcc: victim@example.org"))
    with pytest.raises(InvalidMessage):
        Mailer(relay.client_config()).send_many([msg(1), msg(2, to="bad")])
    assert relay.sessions == 0


def test_smtputf8_local_part(relay: FakeRelay) -> None:
    result = Mailer(relay.client_config()).send(msg(to="josé@example.org"))
    received = relay.wait_for(1)[0]
    assert received.smtputf8 and received.rcpt_tos == ["josé@example.org"]
    assert result.status == "sent"


def test_auth_is_redacted_and_the_secret_never_leaks(relay: FakeRelay, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    Mailer(relay.client_config()).send(msg())
    errors: list[BaseException] = []
    for config in (relay.client_config(password=PASSWORD + "x"), relay.client_config(ca_file=None)):
        try:
            Mailer(config).send(msg())
        except Exception as exc:
            errors.append(exc)
    assert len(errors) == 2
    conversation = caplog.text
    assert "MAIL FROM" in conversation.upper() or "mail from" in conversation, "conversation not logged"
    assert "redacted" in conversation
    plain = base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, plain, base64.b64encode(PASSWORD.encode()).decode()):
        assert secret not in conversation
        for exc in errors:
            chain: BaseException | None = exc
            while chain is not None:
                assert secret not in str(chain) and secret not in repr(chain)
                chain = chain.__cause__ or chain.__context__


def test_recipients_all_deferred_are_retried_then_reported(relay: FakeRelay,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    relay.soft_bounce("later@example.org")
    caplog.set_level(logging.WARNING, logger="acumbamail_smtp.transport")
    with pytest.raises(RecipientsRefused) as info:
        Mailer(relay.client_config(max_tries=3)).send(msg(to="later@example.org"))
    assert info.value.result.refused["later@example.org"].code == 451
    retries = [r for r in caplog.records if "every recipient deferred" in r.getMessage()]
    assert len(retries) == 2
    assert relay.messages == []


async def test_async_recipients_all_deferred_are_retried(relay: FakeRelay,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    from acumbamail_smtp import AsyncMailer

    relay.soft_bounce("later@example.org")
    caplog.set_level(logging.WARNING, logger="acumbamail_smtp.transport")
    async with AsyncMailer(relay.client_config(max_tries=2)) as mailer:
        with pytest.raises(RecipientsRefused):
            await mailer.send(msg(to="later@example.org"))
    assert len([r for r in caplog.records if "every recipient deferred" in r.getMessage()]) == 1
