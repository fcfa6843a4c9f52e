"""The connection hook: ``Mailer(connection=...)`` and ``AsyncMailer(connection=...)`` replace the
SMTP exchange while the shared policy (suppression, results, recording, retries, batch errors,
the per-connection limit) still applies; both mailers report a stopped batch the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
from acumbamail_smtp import (
    AsyncMailer,
    Mailer,
    RecipientsRefused,
    RelayConfig,
    SQLiteEventStore,
    TransientError,
)
from acumbamail_smtp.message.model import PreparedMessage
from acumbamail_smtp.result import Reply, SendResult
from acumbamail_smtp.smtp import BATCH_STOPPED, AsyncRecordingConnection, RecordingConnection
from acumbamail_smtp.testserver import FakeRelay

from .test_transport import msg

#: Never dialled: the hooked mailers must not open a socket.
NOWHERE = RelayConfig(host="127.0.0.1", port=9, max_tries=2, retry_backoff=0, retry_backoff_max=0)


class Failing:
    """A connection that answers 451 to the message for ``fail_to`` (every try) and accepts the
    others; it counts opens and closes."""

    def __init__(self, fail_to: str) -> None:
        self.fail_to = fail_to
        self.seen: list[PreparedMessage] = []
        self.opens = self.closes = 0
        self.is_open = False

    def open(self) -> None:
        self.opens += 1
        self.is_open = True

    def send(self, prepared: PreparedMessage) -> SendResult:
        self.seen.append(prepared)
        if self.fail_to in prepared.recipients:
            raise TransientError("relay answered 451 try later to end of DATA", code=451, text="try later")
        return SendResult(prepared.message_id, "sent", list(prepared.recipients),
                          reply=Reply(250, "2.0.0 Ok: queued as HOOK1"), category=prepared.category)

    def discard(self) -> None:
        self.is_open = False

    def close(self) -> None:
        self.closes += 1
        self.is_open = False


class AsyncFailing:
    """:class:`Failing` for the AsyncMailer."""

    def __init__(self, fail_to: str) -> None:
        self.sync = Failing(fail_to)

    @property
    def is_open(self) -> bool:
        return self.sync.is_open

    async def open(self) -> None:
        self.sync.open()

    async def send(self, prepared: PreparedMessage) -> SendResult:
        return self.sync.send(prepared)

    def discard(self) -> None:
        self.sync.discard()

    async def close(self) -> None:
        self.sync.close()


@pytest.fixture
def store(tmp_path: Path) -> SQLiteEventStore:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    store.suppress("gone@example.org", reason="hard_bounce")
    return store


def test_mailer_sends_through_the_given_connection_with_suppression(relay: FakeRelay,
                                                                    store: SQLiteEventStore) -> None:
    connection = RecordingConnection()
    mailer = Mailer(relay.client_config(), store=store, connection=connection)
    message = msg(to=["ana@example.org", "Gone@Example.org"])
    result = mailer.send(message)
    with pytest.raises(RecipientsRefused):
        mailer.send(msg(to="gone@example.org"))
    [prepared] = connection.prepared
    assert prepared.recipients == ["ana@example.org"] and prepared.suppressed == ["Gone@Example.org"]
    assert (result.status, result.accepted, result.suppressed) == ("partially_refused", ["ana@example.org"],
                                                                    ["Gone@Example.org"])
    assert result.queue_id is not None and result.queue_id.startswith("RECORDED")
    assert message.send_result is result
    rows = list(store.sends())
    assert sorted((r.recipient, r.status) for r in rows) == [
        ("ana@example.org", "sent"), ("gone@example.org", "suppressed"), ("gone@example.org", "suppressed")]
    assert relay.sessions == 0 and relay.messages == []


async def test_async_mailer_sends_through_the_given_connection_with_suppression(
        relay: FakeRelay, store: SQLiteEventStore) -> None:
    connection = AsyncRecordingConnection()
    async with AsyncMailer(relay.client_config(), store=store, connection=connection) as mailer:
        message = msg(to=["ana@example.org", "gone@example.org"])
        result = await mailer.send(message)
        many = await mailer.send_many([msg(1), msg(2, to="gone@example.org")])
    assert [p.recipients for p in connection.prepared] == [["ana@example.org"], ["user1@example.org"]]
    assert result.status == "partially_refused" and result.suppressed == ["gone@example.org"]
    assert [r.status for r in many] == ["sent", "refused"]
    assert message.send_result is result
    assert len(list(store.sends())) == 4
    assert relay.sessions == 0 and relay.messages == []


def test_a_custom_connection_gets_every_try_and_the_per_connection_limit() -> None:
    connection = Failing(fail_to="nobody@example.org")
    with Mailer(NOWHERE, connection=connection, max_per_connection=2) as mailer:
        results = mailer.send_many([msg(i) for i in range(5)])
    assert [r.queue_id for r in results] == ["HOOK1"] * 5
    assert [p.recipients[0] for p in connection.seen] == [f"user{i}@example.org" for i in range(5)]
    assert connection.opens == 3  # 2 + 2 + 1


async def test_an_async_custom_connection_gets_the_per_connection_limit() -> None:
    connection = AsyncFailing(fail_to="nobody@example.org")
    async with AsyncMailer(NOWHERE, pool_size=1, connection=connection, max_per_connection=2) as mailer:
        results = await mailer.send_many([msg(i) for i in range(5)])
    assert [r.queue_id for r in results] == ["HOOK1"] * 5
    assert connection.sync.opens == 3 and connection.sync.closes == 3  # two on the limit, one at the end


def outcome_names(exc: TransientError) -> list[str]:
    assert exc.results is not None
    return [o.status if isinstance(o, SendResult) else f"{type(o).__name__}: {o}" for o in exc.results]


EXPECTED = ["sent", "sent", "TransientError: relay answered 451 try later to end of DATA",
            f"SendError: {BATCH_STOPPED}", f"SendError: {BATCH_STOPPED}"]


def test_mailer_reports_a_stopped_batch_one_entry_per_message() -> None:
    connection = Failing(fail_to="user2@example.org")
    with pytest.raises(TransientError) as caught:
        Mailer(NOWHERE, connection=connection).send_many([msg(i) for i in range(5)])
    assert outcome_names(caught.value) == EXPECTED
    assert len(connection.seen) == 4  # two tries of the third message, none of the last two


async def test_async_mailer_reports_a_stopped_batch_as_the_mailer_does() -> None:
    connection = AsyncFailing(fail_to="user2@example.org")
    messages = [msg(i) for i in range(5)]
    with pytest.raises(TransientError) as caught:
        await AsyncMailer(NOWHERE, pool_size=1, connection=connection).send_many(messages)
    assert outcome_names(caught.value) == EXPECTED
    assert len(connection.sync.seen) == 4
    assert [m.send_result is not None for m in messages] == [True, True, False, False, False]


async def test_a_stopped_async_batch_has_an_entry_per_message_with_concurrency() -> None:
    connection = AsyncFailing(fail_to="user0@example.org")
    with pytest.raises(TransientError) as caught:
        await AsyncMailer(NOWHERE, pool_size=3, connection=connection).send_many([msg(i) for i in range(6)])
    names = outcome_names(caught.value)
    assert len(names) == 6 and names[0].startswith("TransientError")
    assert set(names[1:]) <= {"sent", f"SendError: {BATCH_STOPPED}"}
