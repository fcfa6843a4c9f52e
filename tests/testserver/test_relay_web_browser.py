"""The fake relay's web page in headless Chromium: readable at phone and desktop widths, and a
message's own HTML cannot run scripts."""

from __future__ import annotations

import pytest

from tests.testserver.relay_helpers import send

pytestmark = pytest.mark.browser

HOSTILE_HTML = (
    "<html><head><title>x</title></head><body><p id=greeting>Hello Ana</p>"
    "<script>parent.document.title = 'pwned'; document.title = 'pwned';</script></body></html>"
)


def message_with_html(subject: str) -> bytes:
    return (
        "From: shop@example.com\r\nTo: a-very-long-recipient-address-for-narrow-screens@example.com\r\n"
        f"Subject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
        "ACUMBAMAIL-SMTPAPI: PASSWORD_RECOVERY\r\n\r\n" + HOSTILE_HTML + "\r\n"
    ).encode()


@pytest.mark.parametrize("width", [375, 1024])
def test_pages_fit_the_screen_and_sandbox_the_message(browser, acumbamail_relay, connect, width):
    relay = acumbamail_relay
    send(
        connect(relay),
        message_with_html("A subject long enough to wrap on a narrow phone screen, surely"),
        ["a-very-long-recipient-address-for-narrow-screens@example.com"],
    )
    [message] = relay.wait_for(1)

    browser.open(f"{relay.http_url}/", width=width)
    assert browser.run("return document.querySelectorAll('tbody tr').length") == 1
    assert browser.horizontal_overflow() == 0
    assert browser.console_errors() == []
    browser.screenshot(f"fake-relay-index-{width}")

    browser.open(f"{relay.http_url}/messages/{message.id}", width=width)
    assert browser.horizontal_overflow() == 0
    browser.screenshot(f"fake-relay-message-{width}")
    frame = browser.driver.find_element("css selector", "iframe")
    assert frame.get_attribute("sandbox") == ""
    assert browser.run("return document.title") != "pwned"
    browser.driver.switch_to.frame(frame)
    try:
        assert browser.run("return document.getElementById('greeting').textContent") == "Hello Ana"
        assert browser.run("return document.title") == "x"  # the script in the message never ran
    finally:
        browser.driver.switch_to.default_content()
