"""What a drain does with each kind of failure: 4xx and dropped connections retry with the
configuration's backoff until the deadline, then fail; 5xx and refused recipients fail with the
reply; a connection lost after end-of-data is counted as ambiguous and retried."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from acumbamail_smtp import ConnectionFailed, Mailer, RelayConfig
from acumbamail_smtp.outbox import Outbox, drain
from acumbamail_smtp.testserver import FakeRelay

from .conftest import message, relay_ids


def once(relay: FakeRelay, **overrides: object) -> Mailer:
    """A mailer that tries each message once, as the worker's does: retries are the outbox's."""
    return Mailer(relay.client_config(max_tries=1, **overrides))


def test_a_4xx_is_retried_until_the_relay_takes_it(outbox: Outbox, relay: FakeRelay) -> None:
    [mid] = outbox.enqueue(message(1))
    relay.fail_next_data(451, "4.3.0 try again later", times=2)
    report = drain(outbox, once(relay, retry_backoff=0.0))
    assert (report.sent, report.retried, report.failed) == (1, 2, 0)
    assert relay_ids(relay) == {mid: 1}
    [sent] = outbox.list("sent")
    assert sent.attempts == 3


def test_a_retry_waits_for_the_backoff(outbox: Outbox, relay: FakeRelay) -> None:
    outbox.enqueue(message(1))
    relay.fail_next_data(451, "4.3.0 try again later")
    before = datetime.now(UTC)
    report = drain(outbox, once(relay, retry_backoff=30.0, retry_backoff_max=60.0))
    assert (report.sent, report.retried) == (0, 1)
    [queued] = outbox.list("queued")
    assert queued.send_after >= before + timedelta(seconds=30)
    assert "451" in (queued.last_error or "")
    assert drain(outbox, once(relay)).sent == 0  # not due yet


def test_past_the_deadline_a_transient_failure_fails(outbox: Outbox, relay: FakeRelay) -> None:
    outbox.enqueue(message(1))
    relay.fail_next_data(451, "4.3.0 try again later", times=5)
    report = drain(outbox, once(relay, retry_backoff=0.0), deadline=timedelta(0))
    assert (report.sent, report.retried, report.failed) == (0, 0, 1)
    [failed] = outbox.list("failed")
    assert failed.last_error is not None and "gave up after 1 attempt" in failed.last_error
    assert relay.messages == []


def test_a_5xx_fails_with_the_reply(outbox: Outbox, relay: FakeRelay) -> None:
    outbox.enqueue([message(1), message(2)])
    relay.fail_next_data(554, "5.7.1 message rejected as spam")
    report = drain(outbox, once(relay))
    assert (report.sent, report.failed, report.retried) == (1, 1, 0)
    [failed] = outbox.list("failed")
    assert "5.7.1 message rejected as spam" in (failed.last_error or "")
    assert outbox.retry() == 1 and outbox.stats().queued == 1  # the operator's way back
    assert drain(outbox, once(relay)).sent == 1


def test_a_refused_recipient_fails_with_the_reply(outbox: Outbox, relay: FakeRelay) -> None:
    outbox.enqueue(message(1))
    relay.hard_bounce("user1@example.com")
    assert drain(outbox, once(relay)).failed == 1
    [failed] = outbox.list("failed")
    assert "550" in (failed.last_error or "") and "user1@example.com" in (failed.last_error or "")


def test_every_recipient_deferred_at_rcpt_is_retried_not_failed(outbox: Outbox, relay: FakeRelay) -> None:
    [mid] = outbox.enqueue(message(1))
    relay.soft_bounce("user1@example.com")  # 451 at RCPT, every time
    report = drain(outbox, once(relay, retry_backoff=0.0), max_batches=2)
    assert (report.sent, report.failed) == (0, 0) and report.retried == 2
    [queued] = outbox.list("queued")
    assert queued.message_id == mid and "451" in (queued.last_error or "")


def test_a_dropped_connection_gives_the_batch_back(outbox: Outbox, relay: FakeRelay) -> None:
    ids = outbox.enqueue([message(n) for n in range(6)])
    relay.drop_after(2)
    first = drain(outbox, once(relay, retry_backoff=0.0))
    assert (first.sent, first.retried, first.ambiguous) == (2, 4, 0)
    second = drain(outbox, once(relay, retry_backoff=0.0))
    assert second.sent == 4
    assert relay_ids(relay) == dict.fromkeys(ids, 1)


def test_an_unreachable_relay_leaves_everything_queued(outbox: Outbox) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outbox.enqueue([message(n) for n in range(3)])
    mailer = Mailer(RelayConfig(host="127.0.0.1", port=port, username="u@example.com", password="made-up-pw-9",
                                security="none", allow_insecure=True, max_tries=1, timeout=2.0))
    report = drain(outbox, mailer)
    assert (report.sent, report.retried, report.failed) == (0, 3, 0)
    assert outbox.stats().queued == 3


class LosesReplyAfterData:
    """A tiny SMTP server on 127.0.0.1 that reads a whole message and hangs up instead of
    answering the end of DATA: the one ambiguous case of SMTP, which the fake relay cannot script."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.bodies: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as rfile:
                conn.sendall(b"220 ambiguous.example ESMTP\r\n")
                while line := rfile.readline():
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        conn.sendall(b"250 ambiguous.example\r\n")
                    elif verb == b"DATA":
                        conn.sendall(b"354 go ahead\r\n")
                        body = b"".join(iter(lambda: rfile.readline(), b".\r\n"))
                        self.bodies.append(body)
                        break  # hang up: no reply to the end of DATA
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        break
                    else:
                        conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def lossy() -> Iterator[LosesReplyAfterData]:
    server = LosesReplyAfterData()
    yield server
    server.close()


def _lossy_config(server: LosesReplyAfterData) -> RelayConfig:
    return RelayConfig(host="127.0.0.1", port=server.port, security="none", allow_insecure=True,
                       max_tries=1, retry_backoff=0.0, timeout=5.0)


def test_the_mailer_flags_a_reply_lost_after_data(lossy: LosesReplyAfterData) -> None:
    with pytest.raises(ConnectionFailed) as caught:
        Mailer(_lossy_config(lossy)).send(message(1))
    assert caught.value.ambiguous is True
    assert len(lossy.bodies) == 1


def test_a_reply_lost_after_data_is_counted_ambiguous_and_retried(outbox: Outbox,
                                                                  lossy: LosesReplyAfterData) -> None:
    [mid] = outbox.enqueue(message(1))
    report = drain(outbox, Mailer(_lossy_config(lossy)), max_batches=1)
    assert (report.ambiguous, report.retried, report.sent) == (1, 1, 0)
    [queued] = outbox.list("queued")
    assert queued.message_id == mid and "end-of-data" in (queued.last_error or "")
