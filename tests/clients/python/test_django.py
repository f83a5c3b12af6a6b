"""Mail sent through Django's SMTP email backend."""

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.utils import DNS_NAME
from django.test.utils import override_settings

from client_helpers import dot_stuffed, dot_unstuffed, message_bytes, parsed


@pytest.fixture
def django_smtp(smtpcatch, monkeypatch):
    """Point Django's SMTP backend at smtpcatch and yield the smtpcatch fixture's server."""
    # Django caches socket.getfqdn(), its EHLO name and Message-ID domain,
    # for the process. Clearing the cache makes it take the name that the
    # no_name_lookup fixture sets.
    monkeypatch.delattr(DNS_NAME, "_fqdn", raising=False)
    # Settings can be configured once per process, and a pytest-xdist worker
    # runs several tests: the first configures, every test overrides.
    if not settings.configured:
        settings.configure(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1", EMAIL_PORT=smtpcatch.port, EMAIL_TIMEOUT=5,
            DEFAULT_FROM_EMAIL="webmaster@example.com")
    with override_settings(EMAIL_HOST="127.0.0.1", EMAIL_PORT=smtpcatch.port):
        yield smtpcatch


def test_django_send_mail(django_smtp, smtp_wire):
    sent = mail.send_mail("Welcome, Zoë", "Hello\n.\nBye\n", None,
                          ["new.user@example.com", "Admin <admin@example.com>"])
    message = django_smtp.next_message()

    assert sent == 1
    assert message["helo"] == "client.test"
    assert message["mail_from"] == "webmaster@example.com"
    assert message["rcpt_to"] == ["new.user@example.com", "admin@example.com"]
    assert message["warnings"] == []
    payloads = smtp_wire.data_payloads()
    assert len(payloads) == 1
    assert message_bytes(message) == dot_unstuffed(payloads[0])
    assert dot_stuffed(message_bytes(message)) == payloads[0]
    assert message["size"] == len(message_bytes(message))

    received = parsed(message)
    assert received["Subject"] == "Welcome, Zoë"
    assert received["To"] == "new.user@example.com, Admin <admin@example.com>"
    assert received["Message-ID"].endswith("@client.test>")
    assert received.get_content() == "Hello\n.\nBye\n"


def test_django_email_message_attachment(django_smtp, smtp_wire):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    message_object = mail.EmailMessage(
        subject="Report", body="Attached: the report.\n.\n",
        from_email="reports@example.com",
        to=["boss@example.com"], cc=["team@example.com"],
        bcc=["archive@example.com", "audit@example.com"],
        reply_to=["noreply@example.com"], headers={"X-Report-Id": "42"})
    message_object.attach("report.csv", "name,total\nZoë,3\n", "text/csv")
    message_object.attach("chart.png", png, "image/png")

    sent = message_object.send()
    message = django_smtp.next_message()
    data = message_bytes(message)

    assert sent == 1
    assert message["mail_from"] == "reports@example.com"
    # Django lists To, then Cc, then Bcc in the envelope.
    assert message["rcpt_to"] == ["boss@example.com", "team@example.com",
                                  "archive@example.com", "audit@example.com"]
    assert b"bcc:" not in data.lower()
    assert b"archive@example.com" not in data
    payloads = smtp_wire.data_payloads()
    assert len(payloads) == 1
    assert data == dot_unstuffed(payloads[0])
    assert dot_stuffed(data) == payloads[0]

    received = parsed(message)
    assert received["Subject"] == "Report"
    assert received["Cc"] == "team@example.com"
    assert received["Reply-To"] == "noreply@example.com"
    assert received["X-Report-Id"] == "42"
    assert received.get_body(preferencelist=("plain",)).get_content() == "Attached: the report.\n.\n"
    attachments = {part.get_filename(): part for part in received.iter_attachments()}
    assert sorted(attachments) == ["chart.png", "report.csv"]
    assert attachments["report.csv"].get_content() == "name,total\nZoë,3\n"
    assert attachments["chart.png"].get_content() == png
    # The CSV part is 8-bit UTF-8, and Django's backend does not send
    # BODY=8BITMIME for it, so smtpcatch flags the message.
    assert message["mail_params"] == {"SIZE": str(len(data))}
    assert message["warnings"] == ["8bit_without_8bitmime"]
