"""The README's example test, verbatim."""

import smtplib


def test_signup_sends_mail(smtpcatch):
    # The code under test would send this mail; smtplib stands in for it.
    with smtplib.SMTP("127.0.0.1", smtpcatch.port) as client:
        client.sendmail("app@example.com", ["new.user@example.com"],
                        "Subject: Welcome\r\n\r\nHello\r\n")
    message = smtpcatch.next_message()
    assert message["rcpt_to"] == ["new.user@example.com"]
    assert message["data"] == "Subject: Welcome\r\n\r\nHello\r\n"
