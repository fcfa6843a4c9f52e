"""The health endpoint of the Django adapter, over Django's test client, against the fake relay."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_health_answers_200_with_each_check(client: Any, use_relay: Any) -> None:
    response = client.get(reverse("acumbamail:health"))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"relay", "store"}
    assert use_relay.password not in response.content.decode()


def test_health_answers_503_when_the_relay_refuses(client: Any, use_relay: Any) -> None:
    use_relay.fail_auth()
    response = client.get(reverse("acumbamail:health"))
    assert response.status_code == 503
    assert response.json()["checks"]["relay"]["ok"] is False
    assert client.get(reverse("acumbamail:health") + "?relay=0").status_code == 200
