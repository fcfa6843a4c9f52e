"""The mailers with an event store: suppressed recipients get no RCPT, and every send is recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from acumbamail_smtp import AsyncMailer, Mailer, RecipientsRefused, SQLiteEventStore
from acumbamail_smtp.testserver import FakeRelay

from .test_transport import msg


@pytest.fixture
def store(tmp_path: Path) -> SQLiteEventStore:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    store.suppress("Bounced@Example.org", reason="hard_bounce")
    return store


def test_suppressed_recipient_is_skipped_and_reported(relay: FakeRelay, store: SQLiteEventStore) -> None:
    mailer = Mailer(relay.client_config(), store=store)
    result = mailer.send(msg(to=["ok@example.org", "bounced@example.org"]))
    assert result.status == "partially_refused"
    assert result.suppressed == ["bounced@example.org"]
    assert result.accepted == ["ok@example.org"]
    assert relay.wait_for(1)[0].rcpt_tos == ["ok@example.org"]
    with pytest.raises(RecipientsRefused) as info:
        mailer.send(msg(to="bounced@example.org"))
    assert info.value.result.suppressed == ["bounced@example.org"]
    assert relay.sessions == 1, "a message with only suppressed recipients must not even connect"
    rows = list(store.sends())
    assert {(r.recipient, r.status) for r in rows} == {
        ("ok@example.org", "sent"), ("bounced@example.org", "suppressed")}
    sent = next(r for r in rows if r.status == "sent")
    assert sent.queue_id == result.queue_id
    assert sent.category == "SIGNUP"
    assert sent.message_id == result.message_id


def test_batch_records_every_message(relay: FakeRelay, store: SQLiteEventStore) -> None:
    with Mailer(relay.client_config(), store=store) as mailer:
        results = mailer.send_many(msg(i) for i in range(250))
    recorded = {r.message_id for r in store.sends()}
    assert recorded == {r.message_id for r in results}


async def test_async_mailer_uses_the_store(relay: FakeRelay, store: SQLiteEventStore) -> None:
    async with AsyncMailer(relay.client_config(), store=store) as mailer:
        results = await mailer.send_many([msg(1), msg(2, to="bounced@example.org")])
        with pytest.raises(RecipientsRefused):
            await mailer.send(msg(3, to="BOUNCED@example.org"))
    assert [r.status for r in results] == ["sent", "refused"]
    assert results[1].suppressed == ["bounced@example.org"]
    assert len(relay.wait_for(1)) == 1
    statuses = sorted((r.recipient, r.status) for r in store.sends())
    assert statuses == [("bounced@example.org", "suppressed"), ("bounced@example.org", "suppressed"),
                        ("user1@example.org", "sent")]


def test_batched_store_reads_the_list_once_and_records_at_flush(relay: FakeRelay,
                                                                store: SQLiteEventStore) -> None:
    from acumbamail_smtp import BatchedSendStore

    batched = BatchedSendStore(store)
    messages = [msg(i) for i in range(3)] + [msg(9, to="bounced@example.org")]
    batched.prefetch(r for m in messages for r in m.recipients())
    store.suppress("user1@example.org", reason="manual")  # after the prefetch: the batch keeps its view
    with Mailer(relay.client_config(), store=batched) as mailer:
        results = mailer.send_many(messages)
    assert [r.status for r in results] == ["sent", "sent", "sent", "refused"]
    assert results[3].suppressed == ["bounced@example.org"]
    assert list(store.sends()) == [], "nothing is recorded before flush"
    batched.flush()
    assert len(list(store.sends())) == 4
    assert batched.suppressed(["user1@example.org"]) == {"user1@example.org"}, "a new batch reads again"
