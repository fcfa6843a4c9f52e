"""The report appears in the admin by itself, for staff only, over the app's ORM store."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.test import Client


@pytest.mark.django_db(transaction=True)
def test_admin_report_over_the_orm_store(use_relay) -> None:  # type: ignore[no-untyped-def]
    message = EmailMessage("Receipt", "thanks", "shop@example.com", ["ana@example.org"])
    message.category = "RECEIPT"  # type: ignore[attr-defined]
    assert get_connection().send_messages([message]) == 1
    user = get_user_model().objects.create_user("staff", password="made-up-pw-1", is_staff=True)
    client = Client()
    assert client.get("/admin/acumbamail/reports/summary.json").status_code == 302
    client.force_login(user)
    summary = client.get("/admin/acumbamail/reports/summary.json")
    assert summary.status_code == 200
    assert summary.json()["summary"]["sent"] == 1
    index = client.get("/admin/")
    assert b"/admin/acumbamail/reports/" in index.content
