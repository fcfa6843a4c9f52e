"""The webhook endpoint through Django's test client: verification through the core, status codes,
storage, suppression and the tracking signal."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from acumbamail_smtp import Event, EventType
from acumbamail_smtp.integrations.django import tracking
from acumbamail_smtp.integrations.django.apps import AcumbamailConfig
from acumbamail_smtp.integrations.django.models import Event as EventRow
from acumbamail_smtp.integrations.django.models import Suppression
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from tests.django.settings import WEBHOOK_TOKEN

pytestmark = pytest.mark.django_db

URL = "/acumbamail/webhook/"


def acumba(name: str, email: str, key: str | None = "Q1", timestamp: float = 1734436800.5,
           **extra: Any) -> dict[str, Any]:
    """One event as Acumbamail posts it."""
    item = {"email_key": key, "timestamp": timestamp, "email": email, "event": name,
            "campaign_id": None, "list_id": None, "subscriber_fields": {}, **extra}
    return item


def batch(*events: dict[str, Any]) -> str:
    return json.dumps({str(n): e for n, e in enumerate(events, 1)})


def post(client: Client, body: str, url: str = f"{URL}{WEBHOOK_TOKEN}/", **extra: Any) -> Any:
    return client.post(url, body, content_type="application/json", **extra)


@pytest.fixture
def signalled() -> Iterator[list[tuple[Any, Event]]]:
    seen: list[tuple[Any, Event]] = []

    def handler(sender: Any, event: Event, **kwargs: Any) -> None:
        seen.append((sender, event))

    tracking.connect(handler, weak=False)
    yield seen
    tracking.disconnect(handler)


def test_the_urls_are_mounted_where_the_project_includes_them() -> None:
    assert reverse("acumbamail:webhook") == URL
    assert reverse("acumbamail:webhook-token", args=["abc"]) == f"{URL}abc/"


def test_events_are_stored_and_signalled_once(client: Client, signalled) -> None:
    body = batch(acumba("delivered", "Ana@Example.com"), acumba("opens", "ana@example.com", timestamp=1734436900))
    response = post(client, body)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "received": 2, "stored": 2, "duplicates": 0, "suppressed": 0}
    assert sorted(EventRow.objects.values_list("type", "recipient")) == [
        ("delivered", "ana@example.com"), ("opened", "ana@example.com")]
    assert [(sender, event.type) for sender, event in signalled] == [
        (AcumbamailConfig, EventType.DELIVERED), (AcumbamailConfig, EventType.OPENED)]
    again = post(client, body)  # Acumbamail retried: stored and signalled once
    assert again.json()["duplicates"] == 2
    assert len(signalled) == 2
    assert EventRow.objects.count() == 2


def test_token_in_the_query_string(client: Client) -> None:
    response = post(client, batch(acumba("delivered", "ana@example.com")), url=f"{URL}?token={WEBHOOK_TOKEN}")
    assert response.status_code == 200
    assert EventRow.objects.count() == 1


@pytest.mark.parametrize(("url", "status"), [(URL, 401), (f"{URL}wrong-token/", 403),
                                             (f"{URL}?token=wrong", 403)])
def test_bad_or_missing_tokens_store_nothing(client: Client, url: str, status: int, signalled) -> None:
    response = post(client, batch(acumba("hard_bounces", "ana@example.com")), url=url)
    assert response.status_code == status
    assert response.json()["status"] == "error"
    assert WEBHOOK_TOKEN not in response.content.decode()
    assert EventRow.objects.count() == 0
    assert Suppression.objects.count() == 0
    assert signalled == []


def test_only_post_is_allowed(client: Client) -> None:
    assert client.get(f"{URL}{WEBHOOK_TOKEN}/").status_code == 405
    assert client.put(f"{URL}{WEBHOOK_TOKEN}/", "{}").status_code == 405


def test_csrf_exempt() -> None:
    strict = Client(enforce_csrf_checks=True)
    assert post(strict, batch(acumba("delivered", "ana@example.com"))).status_code == 200


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"1": "not an event", "2": 3})])
def test_bad_payloads_are_400(client: Client, body: str) -> None:
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["status"] == "error"


def test_form_encoded_posts_are_accepted(client: Client) -> None:
    response = client.post(f"{URL}{WEBHOOK_TOKEN}/", {"event": "clicks", "email": "ana@example.com",
                                                      "timestamp": "1734436800", "url": "https://shop.example.com/x"})
    assert response.status_code == 200
    assert EventRow.objects.get().url == "https://shop.example.com/x"


def test_too_large_is_413(client: Client, settings) -> None:
    settings.ACUMBAMAIL = {**settings.ACUMBAMAIL, "WEBHOOK_MAX_BODY": 64}
    response = post(client, batch(acumba("delivered", "ana@example.com")))
    assert response.status_code == 413
    assert EventRow.objects.count() == 0


def test_hard_bounces_and_complaints_suppress(client: Client) -> None:
    response = post(client, batch(acumba("hard_bounces", "gone@example.com"),
                                  acumba("complaints", "angry@example.com"),
                                  acumba("soft_bounces", "full@example.com")))
    assert response.json()["suppressed"] == 2
    assert sorted(Suppression.objects.values_list("address", "reason")) == [
        ("angry@example.com", "complaint"), ("gone@example.com", "hard_bounce")]


def test_soft_bounce_limit_from_settings(client: Client, settings) -> None:
    settings.ACUMBAMAIL = {**settings.ACUMBAMAIL, "SOFT_BOUNCE_LIMIT": 2}
    post(client, batch(acumba("soft_bounces", "full@example.com", timestamp=1734436800)))
    assert Suppression.objects.count() == 0
    post(client, batch(acumba("soft_bounces", "full@example.com", timestamp=1734436900)))
    assert Suppression.objects.get().reason == "soft_bounce"


def test_events_join_the_send_they_report_on(client: Client, use_relay) -> None:
    message = mail.EmailMessage("Order", "b", None, ["ana@example.com"])
    message.category = "ORDER_CONFIRMATION"
    message.send()
    queue_id = message.acumbamail_status.queue_id
    post(client, batch(acumba("opens", "ana@example.com", key=queue_id, timestamp=4102444800)))
    row = EventRow.objects.get()
    assert (row.category, row.message_id) == ("ORDER_CONFIRMATION", message.acumbamail_status.message_id)


def test_basic_auth_challenges(client: Client, settings) -> None:
    settings.ACUMBAMAIL = {"WEBHOOK_BASIC_AUTH": "acumbamail:made-up-basic"}
    response = post(client, batch(acumba("delivered", "ana@example.com")), url=URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic realm=")
    credentials = base64.b64encode(b"acumbamail:made-up-basic").decode()
    ok = post(client, batch(acumba("delivered", "ana@example.com")), url=URL,
              HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert ok.status_code == 200


def test_no_verification_configured_is_a_configuration_error(client: Client, settings) -> None:
    settings.ACUMBAMAIL = {}
    with pytest.raises(ImproperlyConfigured, match=r'ACUMBAMAIL\["WEBHOOK_TOKEN"\]'):
        post(client, batch(acumba("delivered", "ana@example.com")))
    settings.ACUMBAMAIL = {"WEBHOOK_TOKEN": "  "}
    with pytest.raises(ImproperlyConfigured, match=r'ACUMBAMAIL\["WEBHOOK_TOKEN"\]: must be a non-empty'):
        post(client, batch(acumba("delivered", "ana@example.com")))
    settings.ACUMBAMAIL = {"WEBHOOK_INSECURE": True}
    assert post(client, batch(acumba("delivered", "ana@example.com")), url=URL).status_code == 200


def test_a_failing_tracking_receiver_does_not_fail_the_post(client: Client) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("tracking bug")

    tracking.connect(broken, weak=False)
    try:
        response = post(client, batch(acumba("delivered", "ana@example.com")))
    finally:
        tracking.disconnect(broken)
    assert response.status_code == 200
    assert EventRow.objects.count() == 1
