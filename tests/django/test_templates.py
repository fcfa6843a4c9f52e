"""Sending from templates: the core's Jinja renderer and Django's own template engines."""

from __future__ import annotations

from typing import Any

import pytest
from acumbamail_smtp import InvalidMessage, TemplateError
from acumbamail_smtp.integrations.django import AcumbamailMessage, pre_send, render_template, send_template

pytestmark = pytest.mark.django_db


def test_core_templates_from_the_acumbamail_templates_folders(use_relay) -> None:
    message = send_template("welcome", {"name": "Ana"}, to=["ana@example.com"], category="SIGNUP")
    [received] = use_relay.wait_for(1)
    assert received.subject == "Welcome, Ana"
    assert received.category == "SIGNUP"
    assert 'style="color: #123456;"' in received.html  # CSS inlined by the core
    assert "Hello Ana & friends" in received.text  # text derived from the HTML
    assert message.acumbamail_status.status == "sent"


def test_starter_templates_are_found_after_the_projects_folders(use_relay) -> None:
    send_template("password_reset", {"brand_name": "Shop", "name": "Ana",
                                     "reset_url": "https://shop.example.com/reset/abc"},
                  to=["ana@example.com"], category="PASSWORD_RECOVERY")
    [received] = use_relay.wait_for(1)
    assert "https://shop.example.com/reset/abc" in received.html
    assert received.category == "PASSWORD_RECOVERY"


def test_django_templates(use_relay) -> None:
    send_template("emails/receipt", {"name": "Bo <b>", "number": 42, "total": "9.99 €"},
                  to=["bo@example.com"], engine="django", category="RECEIPT", from_email="Billing <billing@example.com>")
    [received] = use_relay.wait_for(1)
    assert received.subject == "Receipt 42 for Bo <b>"  # one line
    assert "Thanks Bo &lt;b&gt;" in received.html  # Django autoescapes HTML
    assert 'style="font-weight: bold;"' in received.html
    assert received.text.strip() == "Thanks Bo <b>. Total: 9.99 €"  # subject and text are not escaped
    assert received.mail_from == "billing@example.com"


def test_django_templates_without_a_text_file_derive_it(use_relay) -> None:
    rendered = render_template("emails/notice", {"name": "Cy"}, engine="django")
    assert rendered.subject == "Notice for Cy"
    assert "Dear Cy, read this." in rendered.text.replace("*", "").replace("_", "")


def test_missing_templates_raise_before_sending(use_relay) -> None:
    with pytest.raises(TemplateError, match="emails/missing"):
        send_template("emails/missing", {}, to=["ana@example.com"], engine="django")
    with pytest.raises(TemplateError, match="nothing_here"):
        send_template("nothing_here", {}, to=["ana@example.com"])
    with pytest.raises(InvalidMessage, match="engine"):
        send_template("welcome", {"name": "x"}, to=["ana@example.com"], engine="mako")
    with pytest.raises(TemplateError, match="name"):  # an undefined variable is an error, not blank
        send_template("welcome", {}, to=["ana@example.com"])
    assert use_relay.messages == []


def test_a_template_message_renders_when_sent_after_pre_send(use_relay) -> None:
    def personalize(sender: Any, message: Any, **kwargs: Any) -> None:
        if isinstance(message, AcumbamailMessage):
            message.context["name"] = "Dee"

    message = AcumbamailMessage(to=["dee@example.com"], template_name="welcome", context={"name": "?"},
                                category="SIGNUP")
    pre_send.connect(personalize, weak=False)
    try:
        assert message.send() == 1
    finally:
        pre_send.disconnect(personalize)
    [received] = use_relay.wait_for(1)
    assert received.subject == "Welcome, Dee"


def test_template_messages_are_rendered_for_djangos_test_backend_too(settings) -> None:
    from django.core import mail

    assert settings.EMAIL_BACKEND == "django.core.mail.backends.locmem.EmailBackend"  # pytest-django's
    AcumbamailMessage(to=["ana@example.com"], template_name="welcome", context={"name": "Ana"},
                      category="SIGNUP").send()
    [sent] = mail.outbox
    assert sent.subject == "Welcome, Ana"
    assert sent.category == "SIGNUP"
    assert "Hello Ana" in sent.alternatives[0][0]
