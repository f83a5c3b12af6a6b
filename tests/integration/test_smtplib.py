"""Messages sent with Python's smtplib, compared byte for byte."""

import copy
import smtplib
from email.message import EmailMessage

CLIENT_TIMEOUT = 5.0


def make_message(subject, body, **headers):
    msg = EmailMessage()
    msg["From"] = "sender@example.com"
    msg["To"] = "rcpt@example.com"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(body)
    return msg


def wire_text(msg):
    """Return msg as smtplib sends it, before dot-stuffing: CRLF line endings."""
    return msg.as_bytes().replace(b"\n", b"\r\n")


def connect(port):
    return smtplib.SMTP("127.0.0.1", port, timeout=CLIENT_TIMEOUT)


def test_smtplib_two_messages_one_connection(smtpcatch):
    first = wire_text(make_message("First", "one\n"))
    second = wire_text(make_message("Second", "two\n.leading dot\n..two dots\n.\n"))

    with connect(smtpcatch.port) as client:
        client.sendmail("sender@example.com", ["first@example.com"], first)
        client.sendmail("sender@example.com", ["second@example.com"], second)
        client_port = client.sock.getsockname()[1]
    message1 = smtpcatch.next_message()
    message2 = smtpcatch.next_message()

    assert message1["id"] == 1
    assert message2["id"] == 2
    assert message1["data"] == first.decode("ascii")
    assert message2["data"] == second.decode("ascii")
    assert message1["rcpt_to"] == ["first@example.com"]
    assert message2["rcpt_to"] == ["second@example.com"]
    assert message1["client"] == {"address": "127.0.0.1", "port": client_port}
    assert message2["client"] == {"address": "127.0.0.1", "port": client_port}


def test_smtplib_message_fields(smtpcatch):
    data = wire_text(make_message("Fields", "body\n"))

    with connect(smtpcatch.port) as client:
        client.ehlo("client.example")
        client.sendmail("sender@example.com", ["rcpt@example.com"], data)
    message = smtpcatch.next_message()

    assert message["helo"] == "client.example"
    assert message["esmtp"] is True
    assert message["mail_from"] == "sender@example.com"
    assert message["size"] == len(data)
    assert message["data"] == data.decode("ascii")
    assert "data_base64" not in message


def test_smtplib_several_recipients(smtpcatch):
    rcpts = ["a@example.com", "b@example.org", "c@example.net", "a+tag@example.com"]
    data = wire_text(make_message("Many", "to many\n"))
    marker = wire_text(make_message("Marker", "next transaction\n"))

    with connect(smtpcatch.port) as client:
        refused = client.sendmail("sender@example.com", rcpts, data)
        client.sendmail("sender@example.com", ["marker@example.com"], marker)
    message = smtpcatch.next_message()
    following = smtpcatch.next_message()

    assert refused == {}
    assert message["rcpt_to"] == rcpts
    assert message["data"] == data.decode("ascii")
    # One line per transaction: the next line is the next transaction.
    assert following["id"] == 2
    assert following["data"] == marker.decode("ascii")


def test_smtplib_bcc_recipients(smtpcatch):
    msg = make_message("Hidden", "bcc body\n")
    msg["Bcc"] = "hidden1@example.com, hidden2@example.com"
    sent = copy.copy(msg)
    del sent["Bcc"]             # send_message() strips Bcc before sending.

    with connect(smtpcatch.port) as client:
        client.send_message(msg)
    message = smtpcatch.next_message()

    assert "rcpt@example.com" in message["rcpt_to"]
    assert "hidden1@example.com" in message["rcpt_to"]
    assert "hidden2@example.com" in message["rcpt_to"]
    assert len(message["rcpt_to"]) == 3
    assert message["data"] == wire_text(sent).decode("ascii")


def test_smtplib_only_bcc_recipient(smtpcatch):
    msg = EmailMessage()
    msg["From"] = "sender@example.com"
    msg["Subject"] = "Only Bcc"
    msg["Bcc"] = "secret@example.com"
    msg.set_content("nobody in To\n")

    with connect(smtpcatch.port) as client:
        client.send_message(msg)
    message = smtpcatch.next_message()

    assert message["rcpt_to"] == ["secret@example.com"]


def test_smtplib_smtputf8_message(smtpcatch):
    sender = "jörg@exämple.com"
    rcpt = "zoë@例え.jp"
    data = ("From: Jörg <jörg@exämple.com>\r\n"
            "To: Zoë <zoë@例え.jp>\r\n"
            "Subject: Grüße ✓\r\n"
            "\r\n"
            "Hällo wörld, 日本語 😀.\r\n"
            ".ünïcode after a dot\r\n").encode("utf-8")

    with connect(smtpcatch.port) as client:
        refused = client.sendmail(sender, [rcpt], data, mail_options=["SMTPUTF8"])
    message = smtpcatch.next_message()

    assert refused == {}
    assert message["mail_from"] == sender
    assert message["rcpt_to"] == [rcpt]
    assert message["mail_params"].get("SMTPUTF8") is True
    assert message["data"] == data.decode("utf-8")
    assert "data_base64" not in message
    assert message["size"] == len(data)


def test_smtplib_null_sender(smtpcatch):
    data = wire_text(make_message("Bounce", "delivery failed\n"))

    with connect(smtpcatch.port) as client:
        client.sendmail("", ["postmaster@example.com"], data)
    message = smtpcatch.next_message()

    assert message["mail_from"] == ""
    assert message["rcpt_to"] == ["postmaster@example.com"]
    assert message["data"] == data.decode("ascii")


def test_smtplib_helo_without_ehlo(smtpcatch):
    data = wire_text(make_message("Old client", "helo only\n"))

    with connect(smtpcatch.port) as client:
        client.helo("old.example")
        client.sendmail("sender@example.com", ["rcpt@example.com"], data)
    message = smtpcatch.next_message()

    assert message["helo"] == "old.example"
    assert message["esmtp"] is False
    assert message["data"] == data.decode("ascii")


def test_smtplib_recipients_past_limit(start_smtpcatch):
    # smtplib sends every RCPT and goes on with the accepted ones when only
    # some get 452. Those 452 replies must not count as session errors, or
    # the connection would close and the message would be lost.
    server = start_smtpcatch("--max-recipients", 3, "--max-errors", 2)
    recipients = [f"r{i}@example.com" for i in range(8)]
    msg = make_message("many recipients", "Hello.\n")

    with connect(server.port) as client:
        refused = client.sendmail("sender@example.com", recipients, msg.as_bytes())
    message = server.next_message()

    assert sorted(refused) == recipients[3:]
    assert all(code == 452 for code, _ in refused.values())
    assert message["rcpt_to"] == recipients[:3]
