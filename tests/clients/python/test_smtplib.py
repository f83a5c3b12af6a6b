"""Mail sent with Python's smtplib, checked against the bytes smtplib wrote."""

import email
import email.policy
import smtplib
from email.message import EmailMessage

import pytest

from client_helpers import dot_stuffed, dot_unstuffed, message_bytes, parsed

CLIENT_TIMEOUT = 5


def connect(port):
    # local_hostname spares smtplib its socket.getfqdn() lookup for EHLO.
    return smtplib.SMTP("127.0.0.1", port, local_hostname="client.test",
                        timeout=CLIENT_TIMEOUT)


def assert_data_is_what_was_sent(message, payload):
    """Check that smtpcatch's data is the DATA payload smtplib wrote, unstuffed."""
    assert "data" in message, f"data_base64 in place of data: {message}"
    assert message_bytes(message) == dot_unstuffed(payload)
    assert message["size"] == len(dot_unstuffed(payload))


def test_sendmail_plain_text(smtpcatch, smtp_wire):
    # A str message: smtplib turns \n and a lone \r into CRLF, stuffs the
    # lines that start with '.', and adds the CRLF missing at the end.
    text = ("From: app@example.com\nTo: b@example.com\nSubject: Plain\n\n"
            "first line\n.\n..two dots\n.leading dot\rafter a lone CR\r\nno newline at the end")
    expected = (b"From: app@example.com\r\nTo: b@example.com\r\nSubject: Plain\r\n\r\n"
                b"first line\r\n.\r\n..two dots\r\n.leading dot\r\nafter a lone CR\r\n"
                b"no newline at the end\r\n")

    with connect(smtpcatch.port) as client:
        refused = client.sendmail("app@example.com", ["b@example.com", "c@example.com"], text)
    message = smtpcatch.next_message()

    assert refused == {}
    assert smtp_wire.data_payloads() == [dot_stuffed(expected)]
    assert message["event"] == "message"
    assert message["id"] == 1
    assert message["helo"] == "client.test"
    assert message["esmtp"] is True
    assert message["client"]["address"] == "127.0.0.1"
    assert message["mail_from"] == "app@example.com"
    assert message["rcpt_to"] == ["b@example.com", "c@example.com"]
    assert message["rcpt_params"] == [{}, {}]
    # smtplib declares the length before it adds the final CRLF.
    assert message["mail_params"] == {"SIZE": str(len(expected) - 2)}
    assert message["warnings"] == []
    assert message_bytes(message) == expected
    assert_data_is_what_was_sent(message, smtp_wire.data_payloads()[0])


def test_sendmail_two_messages_one_session(smtpcatch, smtp_wire):
    with connect(smtpcatch.port) as client:
        client.sendmail("a@example.com", ["first@example.com"], b"Subject: 1\r\n\r\none\r\n")
        client.sendmail("", ["second@example.com"], b"Subject: 2\r\n\r\n.\r\n")
    first = smtpcatch.next_message()
    second = smtpcatch.next_message()

    assert first["id"] == 1
    assert second["id"] == 2
    assert first["rcpt_to"] == ["first@example.com"]
    assert second["rcpt_to"] == ["second@example.com"]
    assert second["mail_from"] == "", "smtplib sends MAIL FROM:<> for an empty sender"
    assert first["client"] == second["client"]
    assert message_bytes(first) == b"Subject: 1\r\n\r\none\r\n"
    assert message_bytes(second) == b"Subject: 2\r\n\r\n.\r\n"
    for message, payload in zip([first, second], smtp_wire.data_payloads()):
        assert_data_is_what_was_sent(message, payload)


def make_multipart_message():
    msg = EmailMessage()
    msg["From"] = "Shop <shop@example.com>"
    msg["To"] = "Customer <customer@example.com>"
    msg["Subject"] = "Grüße: your order — 注文 #42"
    msg.set_content("Hello Zoë,\n.\n.a line that starts with a dot\nThanks!\n")
    msg.add_alternative("<p>Hello Zo&euml;,</p>\n<p>.</p>\n<p>Thanks!</p>\n", subtype="html")
    msg.add_attachment(bytes(range(256)) * 4, maintype="application",
                       subtype="octet-stream", filename="invoice.bin")
    return msg


def test_send_message_multipart_utf8(smtpcatch, smtp_wire):
    msg = make_multipart_message()
    # as_bytes() with the SMTP policy is what send_message writes, once
    # the MIME boundaries are fixed; this call fixes them in msg.
    expected = msg.as_bytes(policy=email.policy.SMTP)

    with connect(smtpcatch.port) as client:
        # The text parts are 8-bit UTF-8, so they need BODY=8BITMIME.
        client.send_message(msg, mail_options=["BODY=8BITMIME"])
    message = smtpcatch.next_message()

    assert message["mail_from"] == "shop@example.com"
    assert message["rcpt_to"] == ["customer@example.com"]
    assert message["mail_params"] == {"SIZE": str(len(expected)), "BODY": "8BITMIME"}
    assert message["warnings"] == []
    assert message_bytes(message) == expected
    assert smtp_wire.data_payloads() == [dot_stuffed(expected)]
    assert_data_is_what_was_sent(message, smtp_wire.data_payloads()[0])

    received = parsed(message)
    assert received["Subject"] == "Grüße: your order — 注文 #42"
    text = received.get_body(preferencelist=("plain",)).get_content()
    html = received.get_body(preferencelist=("html",)).get_content()
    assert text == "Hello Zoë,\n.\n.a line that starts with a dot\nThanks!\n"
    assert html == "<p>Hello Zo&euml;,</p>\n<p>.</p>\n<p>Thanks!</p>\n"
    attachments = list(received.iter_attachments())
    assert [part.get_filename() for part in attachments] == ["invoice.bin"]
    assert attachments[0].get_content() == bytes(range(256)) * 4


def test_send_message_large_attachment(smtpcatch):
    # The message line is about 7 MB, about a hundred times what a Linux
    # pipe holds by default (64 KiB), and it still arrives whole.
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.com"
    msg["Subject"] = "Large"
    msg.set_content("See the attachment.\n")
    msg.add_attachment(bytes(range(256)) * (20 * 1024), maintype="application",
                       subtype="octet-stream", filename="large.bin")
    expected = msg.as_bytes(policy=email.policy.SMTP)

    with connect(smtpcatch.port) as client:
        client.send_message(msg)
    message = smtpcatch.next_message()

    assert len(expected) > 5 * 1024 * 1024
    assert message["size"] == len(expected)
    assert message_bytes(message) == expected
    attachment = next(parsed(message).iter_attachments())
    assert attachment.get_content() == bytes(range(256)) * (20 * 1024)


def test_send_message_8bit_without_8bitmime(smtpcatch):
    # send_message declares BODY=8BITMIME only for non-ASCII addresses, so
    # an 8-bit body sent without mail_options is flagged, and still accepted.
    msg = make_multipart_message()
    expected = msg.as_bytes(policy=email.policy.SMTP)

    with connect(smtpcatch.port) as client:
        client.send_message(msg)
    message = smtpcatch.next_message()

    assert message["mail_params"] == {"SIZE": str(len(expected))}
    assert message["warnings"] == ["8bit_without_8bitmime"]
    assert message_bytes(message) == expected


def test_send_message_bcc_only_in_envelope(smtpcatch, smtp_wire):
    msg = EmailMessage()
    msg["From"] = "app@example.com"
    msg["To"] = "to1@example.com, To Two <to2@example.com>"
    msg["Cc"] = "cc@example.com"
    msg["Bcc"] = "hidden1@example.com, Hidden <hidden2@example.com>"
    msg["Subject"] = "Bcc"
    msg.set_content("Only the envelope names the Bcc recipients.\n")
    without_bcc = EmailMessage()
    for name, value in msg.items():
        if name != "Bcc":
            without_bcc[name] = value
    without_bcc.set_payload(msg.get_payload())

    with connect(smtpcatch.port) as client:
        client.send_message(msg)
    message = smtpcatch.next_message()
    data = message_bytes(message)

    # smtplib takes the recipients from To, Bcc and Cc, in that order.
    assert message["rcpt_to"] == ["to1@example.com", "to2@example.com",
                                  "hidden1@example.com", "hidden2@example.com",
                                  "cc@example.com"]
    assert b"bcc:" not in data.lower()
    assert b"hidden" not in data
    assert email.message_from_bytes(data)["Bcc"] is None
    assert email.message_from_bytes(data)["Cc"] == "cc@example.com"
    assert data == without_bcc.as_bytes(policy=email.policy.SMTP)
    assert_data_is_what_was_sent(message, smtp_wire.data_payloads()[0])
    assert msg["Bcc"] is not None, "send_message must not change the caller's message"


def test_send_message_smtputf8_address(smtpcatch, smtp_wire):
    msg = EmailMessage()
    msg["From"] = "Zoë <zoë@example.com>"
    msg["To"] = "用户@例子.广告"
    msg["Subject"] = "Ünïcödé everywhere"
    msg.set_content("Grüße\n")
    # send_message flattens with utf8=True when an address is not ASCII.
    expected = msg.as_bytes(policy=email.policy.SMTP.clone(utf8=True))

    with connect(smtpcatch.port) as client:
        client.send_message(msg)
    message = smtpcatch.next_message()

    assert message["mail_from"] == "zoë@example.com"
    assert message["rcpt_to"] == ["用户@例子.广告"]
    assert message["mail_params"] == {"SIZE": str(len(expected)), "SMTPUTF8": True,
                                      "BODY": "8BITMIME"}
    assert message["warnings"] == []
    assert message_bytes(message) == expected
    assert "From: Zoë <zoë@example.com>\r\n" in message["data"]
    assert "Subject: Ünïcödé everywhere\r\n" in message["data"]
    assert_data_is_what_was_sent(message, smtp_wire.data_payloads()[0])


def test_sendmail_smtputf8_option(smtpcatch):
    with connect(smtpcatch.port) as client:
        client.sendmail("josé@example.com", ["ünï@example.com"],
                        "Subject: hi\r\n\r\nbody\r\n".encode("utf-8"),
                        mail_options=["SMTPUTF8"])
    message = smtpcatch.next_message()

    assert message["mail_from"] == "josé@example.com"
    assert message["rcpt_to"] == ["ünï@example.com"]
    assert message["mail_params"]["SMTPUTF8"] is True
    assert message["warnings"] == []


def test_sendmail_bytes_with_bare_lf(smtpcatch, smtp_wire):
    # smtplib sends bytes unchanged, but stuffs a '.' after a bare LF too.
    # RFC 5321 lines end only at CRLF, so that '.' is not unstuffed, and
    # the data keeps two dots where the caller wrote one.
    data = b"Subject: bare LF\r\n\r\nline\n.dot after a bare LF\r\n"

    with connect(smtpcatch.port) as client:
        client.sendmail("a@example.com", ["b@example.com"], data)
    message = smtpcatch.next_message()

    assert smtp_wire.data_payloads() == [
        b"Subject: bare LF\r\n\r\nline\n..dot after a bare LF\r\n.\r\n"]
    assert message_bytes(message) == b"Subject: bare LF\r\n\r\nline\n..dot after a bare LF\r\n"
    assert message["warnings"] == ["bare_lf"]
    assert_data_is_what_was_sent(message, smtp_wire.data_payloads()[0])


def test_smtpcatch_replies_seen_by_smtplib(smtpcatch):
    with connect(smtpcatch.port) as client:
        code, features = client.ehlo("client.test")
        assert code == 250
        assert client.has_extn("smtputf8")
        assert client.has_extn("8bitmime")
        assert client.has_extn("pipelining")
        assert client.esmtp_features["size"] == str(64 * 1024 * 1024)
        assert client.noop()[0] == 250
        assert client.verify("someone@example.com")[0] == 252
        assert client.mail("a@example.com") == (250, b"2.1.0 Sender OK")
        assert client.rcpt("b@example.com") == (250, b"2.1.5 Recipient OK")
        assert client.rset()[0] == 250
    # RSET dropped the transaction, so no message line is written.
    with connect(smtpcatch.port) as client:
        client.sendmail("a@example.com", ["after-rset@example.com"], b"\r\n")
    assert smtpcatch.next_message()["rcpt_to"] == ["after-rset@example.com"]


def test_next_message_timeout_shows_lines(smtpcatch):
    with connect(smtpcatch.port) as client:
        client.sendmail("a@example.com", ["only@example.com"], b"Subject: only one\r\n\r\n")
    smtpcatch.next_message()

    with pytest.raises(pytest.fail.Exception) as failure:
        smtpcatch.next_message(timeout=0.2)

    text = str(failure.value)
    assert "smtpcatch wrote no line within 0.2 s" in text
    assert "'event': 'ready'" in text
    assert "'rcpt_to': ['only@example.com']" in text
