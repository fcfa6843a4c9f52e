"""DjangoEventStore: the core's store contract on the ORM, time zones, migrations, and the admin."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from acumbamail_smtp import EventType, Reply, SendResult
from acumbamail_smtp.integrations.django import DjangoEventStore
from acumbamail_smtp.integrations.django.models import Event as EventRow
from acumbamail_smtp.integrations.django.models import Send, Suppression
from django.core.management import call_command
from django.test import Client

from tests.webhooks.helpers import T0, at, event, send_result
from tests.webhooks.store_contract import EventStoreContract

# The core's whole-batch tests (set-based duplicates and joins, event by event), on the ORM store.
from tests.webhooks.test_store_batches import (  # noqa: F401 (collected here, with this module's store)
    test_a_batch_of_1000_events_is_joined_event_by_event,
    test_a_post_of_1000_events_with_repeats_through_the_receiver,
    test_a_post_of_only_duplicates_changes_nothing,
    test_a_reused_queue_id_joins_the_send_to_the_same_recipient,
    test_duplicates_within_one_post_and_against_the_store_are_stored_once,
    test_events_whose_sends_are_recorded_later_are_joined_then,
)


@pytest.mark.django_db(transaction=True)  # the contract's burst test posts from eight threads
class TestDjangoEventStore(EventStoreContract):
    @pytest.fixture
    def store_factory(self):
        return DjangoEventStore


@pytest.mark.django_db
def test_rows_land_in_the_apps_tables() -> None:
    store = DjangoEventStore()
    store.record_sends([send_result(accepted=["Ana@Example.com"], refused={"bo@example.com": Reply(550, "no")})])
    store.store_events([event(EventType.HARD_BOUNCE, "ana@example.com", key="Q1", campaign_id=3)])
    store.suppress("ana@example.com", "hard_bounce")
    assert sorted(Send.objects.values_list("recipient", "status", "reply_code")) == [
        ("ana@example.com", "sent", None), ("bo@example.com", "refused", 550)]
    row = EventRow.objects.get()
    assert (row.type, row.category, row.raw) == ("hard_bounce", "ORDER", {"campaign_id": 3})
    assert Suppression.objects.get().reason == "hard_bounce"


@pytest.mark.django_db
@pytest.mark.parametrize("use_tz", [True, False])
def test_times_are_aware_utc_with_or_without_use_tz(settings, use_tz: bool) -> None:
    settings.USE_TZ = use_tz
    store = DjangoEventStore()
    store.record_sends([send_result(sent_at=T0)])
    store.store_events([event(EventType.OPENED, when=T0)])
    store.suppress("bo@example.com")
    (sent,) = list(store.sends(since=T0))
    (opened,) = list(store.events(until=datetime(2100, 1, 1, tzinfo=UTC)))
    (suppressed,) = list(store.suppressions())
    assert sent.sent_at == T0 and sent.sent_at.tzinfo is not None
    assert opened.timestamp == T0 and opened.timestamp.tzinfo is not None
    assert suppressed.created_at.tzinfo is not None


@pytest.mark.django_db
def test_an_event_stored_by_another_receiver_after_the_look_up_is_a_duplicate(monkeypatch) -> None:
    """Two receivers of the same event: the second looked up the stored ids before the first
    committed, so its insert meets the unique event_id. It must report the event as a duplicate,
    not announce it a second time. SQLite serializes the two (the tests' IMMEDIATE transactions),
    so the late look-up is simulated: the only fault here we cannot cause for real."""
    from acumbamail_smtp.integrations.django import store as store_module

    store = DjangoEventStore()
    store.record_sends([send_result(accepted=["ana@example.com"], queue_id="Q1", category="ORDER")])
    raced = event(EventType.OPENED, "ana@example.com", at(2), key="Q1")
    assert [e.event_id for e in store.store_events([raced]).new] == [raced.event_id]  # the first receiver

    real = store_module.split_duplicates
    look_ups: list[int] = []

    def late_look_up(events, stored):  # the first look-up of this call misses the committed event
        look_ups.append(len(stored))
        return real(events, set() if len(look_ups) == 1 else stored)

    monkeypatch.setattr(store_module, "split_duplicates", late_look_up)
    before = event(EventType.DELIVERED, "ana@example.com", at(1))  # joined by recipient
    after = event(EventType.CLICKED, "bo@example.com", at(3), url="https://shop.example.com/")
    outcome = store.store_events([before, raced, after])
    assert look_ups[0] == 1  # the look-up did find it: only our stand-in forgot it
    assert [e.event_id for e in outcome.new] == [before.event_id, after.event_id]
    assert [e.event_id for e in outcome.duplicates] == [raced.event_id]
    assert [(e.message_id, e.category) for e in outcome.new] == [("<m1@example.com>", "ORDER"), (None, None)]
    assert EventRow.objects.filter(event_id=raced.event_id).count() == 1
    assert sorted(EventRow.objects.values_list("type", "message_id")) == [
        ("clicked", None), ("delivered", "<m1@example.com>"), ("opened", "<m1@example.com>")]


@pytest.mark.django_db
def test_migrations_match_the_models() -> None:
    call_command("makemigrations", "acumbamail", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_admin_lists_everything_and_edits_the_suppression_list(admin_client: Client) -> None:
    store = DjangoEventStore()
    store.record_sends([SendResult("<m@x>", "sent", accepted=["ana@example.com"], category="SIGNUP",
                                   reply=Reply(250, "2.0.0 Ok: queued as QADMIN"))])
    store.store_events([event(EventType.DELIVERED, "ana@example.com", key="QADMIN")])
    for name in ("send", "event", "suppression"):
        page = admin_client.get(f"/admin/acumbamail/{name}/")
        assert page.status_code == 200, name
    assert b"QADMIN" in admin_client.get("/admin/acumbamail/send/").content
    assert admin_client.get("/admin/acumbamail/send/add/").status_code == 403  # written by the mailer only
    assert admin_client.get("/admin/acumbamail/event/add/").status_code == 403

    added = admin_client.post("/admin/acumbamail/suppression/add/", {"address": " Blocked@Example.COM ",
                                                                     "reason": "manual"})
    assert added.status_code == 302
    assert store.suppressed(["blocked@example.com"]) == {"blocked@example.com"}
    again = admin_client.post("/admin/acumbamail/suppression/add/", {"address": "BLOCKED@example.com",
                                                                     "reason": "manual"})
    assert again.status_code == 200  # the form shows the error
    assert b"already exists" in again.content
    bad = admin_client.post("/admin/acumbamail/suppression/add/", {"address": "nobody", "reason": "manual"})
    assert b"not an e-mail address" in bad.content

    removed = admin_client.post("/admin/acumbamail/suppression/blocked@example.com/delete/", {"post": "yes"})
    assert removed.status_code == 302
    assert store.suppressed(["blocked@example.com"]) == set()


@pytest.mark.django_db
def test_reports_run_on_the_django_store(use_relay, client: Client) -> None:
    from acumbamail_smtp import reports
    from django.core import mail

    from tests.django.settings import WEBHOOK_TOKEN
    from tests.django.test_webhooks import acumba, batch

    ana = mail.EmailMessage("Order", "b", None, ["ana@example.com"])
    ana.category = "ORDER"
    bo = mail.EmailMessage("Hi", "b", None, ["bo@example.com"])
    bo.category = "SIGNUP"
    mail.get_connection().send_messages([ana, bo])
    now = datetime.now(UTC).timestamp()
    body = batch(acumba("delivered", "ana@example.com", key=ana.acumbamail_status.queue_id, timestamp=now),
                 acumba("opens", "ana@example.com", key=ana.acumbamail_status.queue_id, timestamp=now + 1),
                 acumba("clicks", "ana@example.com", key=ana.acumbamail_status.queue_id, timestamp=now + 2,
                        url="https://shop.example.com/o/1"),
                 acumba("hard_bounces", "bo@example.com", key=bo.acumbamail_status.queue_id, timestamp=now,
                        reason="550 5.1.1 no such user"))
    assert client.post(f"/acumbamail/webhook/{WEBHOOK_TOKEN}/", body, content_type="application/json").status_code == 200

    store = DjangoEventStore()
    assert store.dialect == "sqlite"
    total = reports.summary(store)
    assert (total.sent, total.delivered, total.opened, total.clicked, total.hard_bounces) == (2, 1, 1, 1, 1)
    assert [s.key for s in reports.by_category(store)] == ["ORDER", "SIGNUP"]
    assert len(reports.by_day(store)) == 1
    assert reports.summary(store, since=datetime(2100, 1, 1, tzinfo=UTC)).sent == 0
    assert reports.summary(store, until=ana.acumbamail_status.sent_at).sent == 0
    assert [(u.url, u.clicks) for u in reports.clicks_by_url(store)] == [("https://shop.example.com/o/1", 1)]
    page = reports.recipients(store, status="hard_bounce")
    assert [(r.recipient, r.reason) for r in page.rows] == [("bo@example.com", "550 5.1.1 no such user")]



@pytest.fixture
def store(db):
    """What the core's batch tests imported above run on: the ORM store, in the test's transaction."""
    return DjangoEventStore()


def test_every_index_fits_mysql_utf8mb4_key_limit() -> None:
    """InnoDB refuses an index over 3072 bytes; utf8mb4 counts 4 bytes a character."""
    from acumbamail_smtp.integrations.django import models as tables
    from django.db.models import CharField

    for model in (tables.Send, tables.Event, tables.Suppression):
        for index in model._meta.indexes:
            fields = [model._meta.get_field(name.lstrip("-")) for name in index.fields]
            key = sum(4 * f.max_length if isinstance(f, CharField) and f.max_length else 8 for f in fields)
            assert key <= 3072, (index.name, key)


@pytest.mark.django_db
def test_a_message_id_longer_than_the_column_is_cut_consistently() -> None:
    long_id = "<" + "x" * 900 + "@example.com>"
    store = DjangoEventStore()
    store.store_events([event(EventType.DELIVERED, "ana@example.com", key="QLONG")])
    store.record_sends([SendResult(long_id, "sent", accepted=["ana@example.com"],
                                   reply=Reply(250, "2.0.0 Ok: queued as QLONG"))])
    (send,) = store.sends()
    (stored,) = store.events()
    assert send.message_id == stored.message_id == long_id[:400]
