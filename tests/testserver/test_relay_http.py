"""The fake relay's JSON API and web page, read with urllib over 127.0.0.1."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import EmailMessage

import pytest

from tests.testserver.relay_helpers import send

# No proxy: these requests must go straight to 127.0.0.1 whatever the environment says.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def rich_message() -> bytes:
    message = EmailMessage()
    message["From"] = "Shop <shop@example.com>"
    message["To"] = "ana@example.com"
    message["Subject"] = "Your <order> & more"
    message["ACUMBAMAIL-SMTPAPI"] = "ORDER_CONFIRMATION"
    message.set_content("Plain text\nsecond line")
    message.add_alternative(
        "<p onclick=\"alert('x')\">Hello <b>Ana</b></p><script>alert('boom')</script>", subtype="html"
    )
    message.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="invoice.pdf")
    return message.as_bytes().replace(b"\n", b"\r\n")


@pytest.fixture
def sent(acumbamail_relay, connect):
    client = connect(acumbamail_relay)
    send(client, rich_message(), ["ana@example.com"], sender="shop@example.com")
    [message] = acumbamail_relay.wait_for(1)
    return acumbamail_relay, message


def test_api_lists_messages(sent):
    relay, message = sent
    status, headers, body = fetch(f"{relay.http_url}/api/messages")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    [item] = json.loads(body)
    assert item["id"] == message.id
    assert item["mail_from"] == "shop@example.com"
    assert item["rcpt_tos"] == ["ana@example.com"]
    assert item["subject"] == "Your <order> & more"
    assert item["category"] == "ORDER_CONFIRMATION"
    assert item["received_at"] == message.received_at.isoformat()
    assert item["size"] == len(message.data)


def test_api_message_details_and_raw(sent):
    relay, message = sent
    status, _, body = fetch(f"{relay.http_url}/api/messages/{message.id}")
    assert status == 200
    details = json.loads(body)
    assert details["id"] == message.id
    assert details["text"] == "Plain text\nsecond line\n"
    assert "<b>Ana</b>" in details["html"]
    assert ["Subject", "Your <order> & more"] in details["headers"]
    assert details["raw"] == message.data.decode()

    status, headers, raw = fetch(f"{relay.http_url}/api/messages/{message.id}/raw")
    assert status == 200
    assert headers["Content-Type"] == "message/rfc822"
    assert raw == message.data


def test_api_unknown_message_is_404(sent):
    relay, _ = sent
    status, _, body = fetch(f"{relay.http_url}/api/messages/NOPE0000")
    assert status == 404
    assert json.loads(body)["error"] == "not found"
    assert fetch(f"{relay.http_url}/api/nothing")[0] == 404


def test_api_delete_clears(sent):
    relay, _ = sent
    status, _, body = fetch(f"{relay.http_url}/api/messages", method="DELETE")
    assert (status, json.loads(body)) == (200, {"deleted": 1})
    assert relay.messages == []
    assert json.loads(fetch(f"{relay.http_url}/api/messages")[2]) == []


def test_api_events(sent):
    relay, message = sent
    relay.emit_open("ana@example.com")
    events = json.loads(fetch(f"{relay.http_url}/api/events")[2])
    assert [(e["event"], e["email"], e["email_key"]) for e in events] == [
        ("delivered", "ana@example.com", message.id),
        ("opens", "ana@example.com", message.id),
    ]


def test_web_page_lists_messages_escaped(sent):
    relay, message = sent
    status, headers, body = fetch(f"{relay.http_url}/")
    page = body.decode()
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert f"href='/messages/{message.id}'" in page
    assert "Your &lt;order&gt; &amp; more" in page
    assert "<order>" not in page
    assert "shop@example.com" in page
    assert "ana@example.com" in page
    assert "ORDER_CONFIRMATION" in page
    assert "<script" not in page
    assert "http://" not in page.replace(relay.http_url, "") and "https://" not in page  # no CDN


def test_web_page_shows_a_message_safely(sent):
    relay, message = sent
    status, _, body = fetch(f"{relay.http_url}/messages/{message.id}")
    page = body.decode()
    assert status == 200
    assert "<iframe sandbox " in page
    assert 'srcdoc="&lt;p onclick=&quot;alert(&#x27;x&#x27;)&quot;&gt;Hello &lt;b&gt;Ana' in page
    assert "<script" not in page
    assert "Plain text\nsecond line" in page
    assert "invoice.pdf" in page
    assert f"/api/messages/{message.id}/raw" in page
    assert "Content-Type: multipart/alternative" in page or "multipart/mixed" in page  # the source

    status, headers, html_body = fetch(f"{relay.http_url}/messages/{message.id}/html")
    assert status == 200
    assert headers["Content-Security-Policy"].startswith("sandbox")
    assert b"<b>Ana</b>" in html_body


def test_web_page_unknown_message_is_404(sent):
    relay, _ = sent
    status, _, body = fetch(f"{relay.http_url}/messages/<script>")
    assert status == 404
    assert b"<script>" not in body


def test_web_clear_button(sent):
    relay, _ = sent
    status, _, body = fetch(f"{relay.http_url}/clear", method="POST")  # follows the 303 to /
    assert status == 200
    assert b"No messages yet." in body
    assert relay.messages == []


def test_http_false_has_no_api(acumbamail_relay_factory):
    relay = acumbamail_relay_factory(http=False)
    with pytest.raises(RuntimeError, match="HTTP API is off"):
        _ = relay.http_url
