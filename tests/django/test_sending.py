"""The backend as a drop-in for Django's SMTP backend, over real SMTP to the fake relay."""

from __future__ import annotations

import threading
from email.message import MIMEPart
from email.mime.image import MIMEImage
from pathlib import Path

import django
import pytest
from acumbamail_smtp import AuthenticationError, InvalidMessage, RecipientsRefused, SendResult
from acumbamail_smtp.integrations.django import AcumbamailMessage, EmailBackend
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.utils.translation import gettext_lazy

pytestmark = pytest.mark.django_db

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def test_acumbamail_example_settings_send_over_starttls_with_auth_and_the_category(use_relay) -> None:
    message = EmailMessage("Welcome", "Hello Ana", None, ["ana@example.com"])
    message.category = "SIGNUP"
    assert message.send() == 1
    [received] = use_relay.wait_for(1)
    assert received.tls is True
    assert received.authenticated_as == use_relay.username
    assert received.category == "SIGNUP"
    assert received.message.get_all("ACUMBAMAIL-SMTPAPI") == ["SIGNUP"]
    assert received.rcpt_tos == ["ana@example.com"]
    assert received.mail_from == "shop@example.com"
    assert received.subject == "Welcome"
    assert received.text.strip() == "Hello Ana"
    assert EmailBackend().config.security == "starttls"


def test_send_mail_with_html_and_the_default_category(use_relay, settings) -> None:
    settings.ACUMBAMAIL = {**settings.ACUMBAMAIL, "DEFAULT_CATEGORY": "NOTICE"}
    count = mail.send_mail("Ñandú news", "Plain ✓", "News <news@example.com>", ["ana@example.com"],
                           html_message="<p>Rich ✓</p>")
    assert count == 1
    [received] = use_relay.wait_for(1)
    assert received.category == "NOTICE"
    assert received.subject == "Ñandú news"
    assert received.text.strip() == "Plain ✓"
    assert received.html.strip() == "<p>Rich ✓</p>"
    assert received.mail_from == "news@example.com"


def test_implicit_tls_with_email_use_ssl(settings, relay) -> None:
    from acumbamail_smtp.integrations.django.testing import relay_settings

    for name, value in relay_settings(relay, tls=True).items():
        setattr(settings, name, value)
    assert EmailBackend().config.security == "tls"
    assert mail.send_mail("TLS", "body", None, ["ana@example.com"]) == 1
    [received] = relay.wait_for(1)
    assert received.tls is True


def test_backend_arguments_override_the_settings(use_relay, settings) -> None:
    settings.EMAIL_PORT = 1  # nothing listens there: only the arguments can reach the relay
    connection = mail.get_connection(port=use_relay.tls_port, use_ssl=True)
    assert connection.send_messages([EmailMessage("Args", "body", None, ["ana@example.com"])]) == 1
    [received] = use_relay.wait_for(1)
    assert received.tls is True
    with pytest.raises(AuthenticationError):
        mail.get_connection(port=use_relay.port, password="not-the-password").send_messages(
            [EmailMessage("Args", "body", None, ["ana@example.com"])])


def test_send_mass_mail_uses_one_connection(use_relay) -> None:
    data = [(f"Subject {n}", f"Body {n}", None, [f"r{n}@example.com"]) for n in range(3)]
    assert mail.send_mass_mail(data) == 3
    received = use_relay.wait_for(3)
    assert [m.subject for m in received] == ["Subject 0", "Subject 1", "Subject 2"]
    assert use_relay.sessions == 1


def test_mail_admins(use_relay) -> None:
    mail.mail_admins("Disk full", "90% used")
    [received] = use_relay.wait_for(1)
    assert received.rcpt_tos == ["ops@example.com"]
    assert received.subject == "[shop] Disk full"
    assert received.mail_from == "server@example.com"


def test_attachments_mimebase_and_inline_images(use_relay, tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n")
    message = EmailMultiAlternatives("Files", "See attached", None, ["ana@example.com"])
    message.attach_alternative('<p>Logo: <img src="cid:logo"></p>', "text/html")
    message.attach("notes.txt", "some notes", "text/plain")
    message.attach("data.bin", b"\x00\x01\x02", "application/octet-stream")
    message.attach_file(str(report))
    image = MIMEImage(PNG, "png")
    image.add_header("Content-ID", "<logo>")
    image.add_header("Content-Disposition", "inline", filename="logo.png")
    message.attach(image)
    assert message.send() == 1
    [received] = use_relay.wait_for(1)
    parts = {part.get_filename(): part for part in received.message.iter_attachments()}
    assert parts["notes.txt"].get_content().strip() == "some notes"
    assert parts["data.bin"].get_content() == b"\x00\x01\x02"
    assert parts["report.csv"].get_content().replace("\r\n", "\n") == "a,b\n1,2\n"
    inline = [p for p in received.message.walk() if p.get("Content-ID") == "<logo>"]
    assert len(inline) == 1
    assert inline[0].get_content() == PNG
    assert "cid:logo" in received.html


if django.VERSION >= (6, 0):  # Django 6.0 takes email.message.MIMEPart attachments (5.2 does not)

    def test_mimepart_inline_image(use_relay) -> None:
        part = MIMEPart()
        part.set_content(PNG, maintype="image", subtype="png", disposition="inline", filename="logo.png",
                         cid="<logo>")
        message = EmailMultiAlternatives("Part", "text", None, ["ana@example.com"])
        message.attach_alternative('<img src="cid:logo">', "text/html")
        message.attach(part)
        assert message.send() == 1
        [received] = use_relay.wait_for(1)
        [inline] = [p for p in received.message.walk() if p.get("Content-ID") == "<logo>"]
        assert inline.get_content() == PNG


def test_lazy_translation_strings_as_addresses_and_subject(use_relay) -> None:
    message = EmailMessage(gettext_lazy("Lazy subject"), gettext_lazy("Lazy body"),
                           gettext_lazy("Lazy <lazy@example.com>"), [gettext_lazy("ana@example.com")],
                           cc=[gettext_lazy("Bo <bo@example.com>")])
    assert message.send() == 1
    [received] = use_relay.wait_for(1)
    assert received.subject == "Lazy subject"
    assert received.mail_from == "lazy@example.com"
    assert sorted(received.rcpt_tos) == ["ana@example.com", "bo@example.com"]


def test_connection_reuse_with_open_close_and_with(use_relay) -> None:
    connection = mail.get_connection()
    assert connection.open() is True
    assert connection.open() is False
    for n in range(2):
        assert connection.send_messages([EmailMessage(f"m{n}", "b", None, ["ana@example.com"])]) == 1
    connection.close()
    connection.close()  # twice is fine
    assert use_relay.sessions == 1
    with mail.get_connection() as shared:
        EmailMessage("w1", "b", None, ["ana@example.com"], connection=shared).send()
        EmailMessage("w2", "b", None, ["ana@example.com"], connection=shared).send()
    assert use_relay.sessions == 2
    assert [m.subject for m in use_relay.wait_for(4)] == ["m0", "m1", "w1", "w2"]


def test_send_messages_returns_the_number_sent(use_relay) -> None:
    connection = mail.get_connection()
    messages = [EmailMessage("one", "b", None, ["ana@example.com"]),
                EmailMessage("nobody", "b", None, []),
                EmailMessage("two", "b", None, ["bo@example.com"])]
    assert connection.send_messages(messages) == 2
    assert connection.send_messages([]) == 0
    assert [m.subject for m in use_relay.wait_for(2)] == ["one", "two"]
    assert messages[1].acumbamail_status is None


def test_fail_silently_hides_relay_failures_only(use_relay, settings) -> None:
    use_relay.fail_auth()
    assert mail.get_connection(fail_silently=True).send_messages(
        [EmailMessage("x", "b", None, ["ana@example.com"])]) == 0
    with pytest.raises(AuthenticationError):
        mail.send_mail("x", "b", None, ["ana@example.com"])
    use_relay.fail_auth(False)
    with pytest.raises(InvalidMessage, match="not-an-address"):  # an invalid message always raises
        mail.get_connection(fail_silently=True).send_messages(
            [EmailMessage("x", "b", None, ["not-an-address"])])
    settings.EMAIL_PORT = "twenty-five"
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT"):  # so does a configuration error
        mail.get_connection(fail_silently=True)
    assert use_relay.messages == []


def test_everything_is_validated_before_anything_is_sent(use_relay) -> None:
    good = EmailMessage("good", "b", None, ["ana@example.com"])
    bad = EmailMessage("bad", "b", None, ["bo@example.com"], headers={"Bcc": "hidden@example.com"})
    with pytest.raises(InvalidMessage, match="Bcc"):
        mail.get_connection().send_messages([good, bad])
    assert use_relay.messages == []


def test_bcc_is_in_the_envelope_not_in_the_headers(use_relay) -> None:
    message = EmailMessage("Hidden", "b", None, ["ana@example.com"], bcc=["hidden@example.com"],
                           cc=["ANA@example.com"])
    assert message.send() == 1
    [received] = use_relay.wait_for(1)
    assert sorted(received.rcpt_tos) == ["ana@example.com", "hidden@example.com"]  # one RCPT per address
    assert b"hidden@example.com" not in received.data
    assert received.message.get("Bcc") is None


def test_acumbamail_status_is_attached(use_relay) -> None:
    message = EmailMessage("Status", "b", None, ["ana@example.com"])
    message.send()
    [received] = use_relay.wait_for(1)
    status = message.acumbamail_status
    assert isinstance(status, SendResult)
    assert status.status == "sent"
    assert status.queue_id == received.id
    assert status.message_id == received.message["Message-ID"]
    assert status.accepted == ["ana@example.com"]


def test_partially_and_wholly_refused_messages(use_relay) -> None:
    use_relay.refuse_recipient("bad@example.com")
    partial = EmailMessage("Partial", "b", None, ["ana@example.com", "bad@example.com"])
    assert partial.send() == 1
    assert partial.acumbamail_status.status == "partially_refused"
    assert partial.acumbamail_status.refused["bad@example.com"].code == 550
    refused = EmailMessage("Refused", "b", None, ["bad@example.com"])
    with pytest.raises(RecipientsRefused) as caught:
        refused.send()
    assert caught.value.result.status == "refused"
    assert refused.acumbamail_status is caught.value.result
    quiet = EmailMessage("Refused quietly", "b", None, ["bad@example.com"])
    assert mail.get_connection(fail_silently=True).send_messages([quiet]) == 0
    assert quiet.acumbamail_status.status == "refused"
    assert [m.subject for m in use_relay.messages] == ["Partial"]


def test_category_from_header_attribute_and_typed_message(use_relay) -> None:
    by_header = EmailMessage("h", "b", None, ["ana@example.com"], headers={"Acumbamail-SmtpApi": "ORDER"})
    both = EmailMessage("both", "b", None, ["ana@example.com"], headers={"ACUMBAMAIL-SMTPAPI": "OLD"})
    both.category = "NEW"
    typed = AcumbamailMessage("typed", "b", None, ["ana@example.com"], category="PASSWORD RECOVERY")
    assert mail.get_connection().send_messages([by_header, both, typed]) == 3
    received = use_relay.wait_for(3)
    assert [m.category for m in received] == ["ORDER", "NEW", "PASSWORD RECOVERY"]
    assert [len(m.message.get_all("ACUMBAMAIL-SMTPAPI")) for m in received] == [1, 1, 1]
    assert typed.acumbamail_status.category == "PASSWORD RECOVERY"


def test_an_invalid_category_is_refused_before_sending(use_relay) -> None:
    message = AcumbamailMessage("x", "b", None, ["ana@example.com"], category="   ")
    with pytest.raises(InvalidMessage, match="category"):
        message.send()
    assert use_relay.messages == []


@pytest.mark.django_db(transaction=True)  # the threads write the send records themselves
def test_one_connection_shared_by_threads(use_relay) -> None:
    connection = mail.get_connection()
    counts: list[int] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for k in range(5):
                counts.append(connection.send_messages(
                    [EmailMessage(f"t{n}-{k}", "b", None, [f"t{n}@example.com"])]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    with connection:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert counts == [1] * 20
    assert len(use_relay.wait_for(20)) == 20
    assert use_relay.sessions == 1


def test_secrets_stay_out_of_errors_and_repr(use_relay, settings) -> None:
    backend = EmailBackend()
    assert use_relay.password not in repr(backend)
    assert use_relay.password not in repr(backend.config)
    settings.EMAIL_HOST_USER = ""
    with pytest.raises(ImproperlyConfigured) as caught:
        EmailBackend()
    assert "EMAIL_HOST_USER" in str(caught.value)
    assert use_relay.password not in str(caught.value)
