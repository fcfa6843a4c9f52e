"""The HTTP API client for the SMTP webhook, against a fake of Acumbamail's endpoints on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from acumbamail_smtp import ConfigError, EventType
from acumbamail_smtp.webhooks.api import AcumbamailAPI, ApiError, webhook_events

from tests.webhooks.fake_api import GOOD_TOKEN, FakeAcumbamailAPI


@pytest.fixture
def api() -> Iterator[FakeAcumbamailAPI]:
    with FakeAcumbamailAPI() as fake:
        yield fake


def client(api: FakeAcumbamailAPI, token: str = GOOD_TOKEN, timeout: float = 10.0) -> AcumbamailAPI:
    return AcumbamailAPI(token, base_url=api.base_url, timeout=timeout)


def test_configure_sends_every_flag_and_returns_the_id(api: FakeAcumbamailAPI) -> None:
    webhook_id = client(api).configure_smtp_webhook("https://app.example.com/hooks/t0k",
                                                    events=["delivered", "hard_bounces", "complaint"])
    assert webhook_id == 41
    assert api.problems == []
    ((function, fields),) = api.requests
    assert function == "configSMTPWebhook"
    assert fields == {"callback_url": "https://app.example.com/hooks/t0k", "auth_token": GOOD_TOKEN,
                      "response_type": "json", "active": "1", "delivered": "1", "hard_bounce": "1",
                      "soft_bounce": "0", "complain": "1", "opens": "0", "click": "0"}


def test_configure_defaults_to_every_event_and_can_switch_it_off(api: FakeAcumbamailAPI) -> None:
    client(api).configure_smtp_webhook("https://app.example.com/h", active=False)
    fields = api.requests[0][1]
    assert [fields[f] for f in ("delivered", "hard_bounce", "soft_bounce", "complain", "opens", "click")] == ["1"] * 6
    assert fields["active"] == "0"


def test_show_normalizes_the_info(api: FakeAcumbamailAPI) -> None:
    acumbamail = client(api)
    acumbamail.configure_smtp_webhook("https://app.example.com/h", events="opens,clicks,soft_bounce")
    assert acumbamail.get_smtp_webhook() == {
        "id": 41, "url": "https://app.example.com/h", "active": True,
        "events": ["soft_bounce", "opened", "clicked"]}
    assert api.requests[-1][0] == "getSMTPWebhook"
    assert api.problems == []


def test_rate_limit_is_explained(api: FakeAcumbamailAPI) -> None:
    api.mode = "rate_limited"
    with pytest.raises(ApiError, match="rate limit") as info:
        client(api).get_smtp_webhook()
    assert info.value.status == 429
    assert "10 requests per minute" in str(info.value)


def test_bad_token_is_explained_and_never_echoed(api: FakeAcumbamailAPI) -> None:
    with pytest.raises(ApiError, match="refused the auth token") as info:
        client(api, token="wrong-token-123").get_smtp_webhook()
    assert info.value.status == 401
    assert "wrong-token-123" not in str(info.value)


def test_other_http_errors_are_scrubbed_of_the_token(api: FakeAcumbamailAPI) -> None:
    api.mode = "error"
    with pytest.raises(ApiError, match="HTTP 500") as info:
        client(api).get_smtp_webhook()
    assert GOOD_TOKEN not in str(info.value)
    assert "***" in str(info.value)


def test_non_json_answers_and_timeouts(api: FakeAcumbamailAPI) -> None:
    api.mode = "garbage"
    with pytest.raises(ApiError, match="not JSON"):
        client(api).get_smtp_webhook()
    api.mode = "slow"
    with pytest.raises(ApiError, match="did not answer within"):
        client(api, timeout=0.2).get_smtp_webhook()


def test_unreachable_api() -> None:
    unreachable = AcumbamailAPI(GOOD_TOKEN, base_url="http://127.0.0.1:1/api/1/", timeout=5)
    with pytest.raises(ApiError, match="cannot reach"):
        unreachable.get_smtp_webhook()


def test_configuration_errors(monkeypatch: pytest.MonkeyPatch, api: FakeAcumbamailAPI) -> None:
    monkeypatch.delenv("ACUMBAMAIL_AUTH_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="ACUMBAMAIL_AUTH_TOKEN"):
        AcumbamailAPI(base_url=api.base_url)
    monkeypatch.setenv("ACUMBAMAIL_AUTH_TOKEN", GOOD_TOKEN)
    assert GOOD_TOKEN not in repr(AcumbamailAPI(base_url=api.base_url))
    with pytest.raises(ConfigError, match="base_url"):
        AcumbamailAPI(base_url="ftp://example.com/")
    with pytest.raises(ConfigError, match="callback_url"):
        client(api).configure_smtp_webhook("/relative/path")
    with pytest.raises(ConfigError, match="not a webhook event"):
        client(api).configure_smtp_webhook("https://app.example.com/h", events=["subscribes"])
    assert api.requests == []


def test_webhook_events_accepts_every_spelling() -> None:
    assert webhook_events("hard_bounces, opens ,click,complain") == [
        EventType.HARD_BOUNCE, EventType.OPENED, EventType.CLICKED, EventType.COMPLAINT]
    assert webhook_events(None)[0] is EventType.DELIVERED
    assert len(webhook_events(None)) == 6
    with pytest.raises(ConfigError, match="at least one"):
        webhook_events(" , ")
