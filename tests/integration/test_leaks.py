"""LeakSanitizer check: mixed traffic, then a clean stop with SIGTERM.

LeakSanitizer looks for leaks when the process exits. A leak makes the
process print a "LeakSanitizer: detected memory leaks" report on stderr and
exit with status 1 (ASan's default exitcode) instead of 0. So each
smtpcatch started here is stopped with SIGTERM and must exit with status 0
and a stderr without sanitizer reports. The traffic covers the paths that
free memory early: RSET, a replaced greeting, rejected commands, a
discarded over-size message, a client gone mid-DATA, an idle timeout, and
sessions still open mid-transaction when the server stops.
"""

import os
import smtplib
import socket
import struct

import pytest

from conftest import sanitizer_lines, smtpcatch_binary
from smtp_client import RawSmtp, open_session, send_message

MAX_SIZE = 10000
IDLE_TIMEOUT = 0.2
MAX_RCPTS = 1000                    # smtpcatch's recipient limit per message.
SAFETY_TIMEOUT = 20                 # --timeout, in case the test never stops smtpcatch.

SIMPLE_DATA = b"Subject: leak check\r\n\r\nHello\r\n"


@pytest.fixture
def leak_detection(monkeypatch):
    """Skip unless smtpcatch has ASan, and turn LeakSanitizer on for it."""
    with open(smtpcatch_binary(), "rb") as binary:
        if b"__asan_init" not in binary.read():
            pytest.skip("SMTPCATCH_BIN is not built with AddressSanitizer, so LeakSanitizer "
                        "cannot run; build with -DSC_SANITIZE=ON as scripts/test does")
    options = os.environ.get("ASAN_OPTIONS", "")
    # A later option wins, so this keeps other options and forces leak detection.
    monkeypatch.setenv("ASAN_OPTIONS", f"{options}:detect_leaks=1" if options else "detect_leaks=1")


def send_normal_messages(port):
    """Send four messages with smtplib and return how many were accepted."""
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com", "c@example.com"], SIMPLE_DATA)
        client.sendmail("a@example.com", ["b@example.com"],
                        "Subject: 8-bit\r\n\r\nGrüße, 日本語\r\n".encode("utf-8"),
                        mail_options=["BODY=8BITMIME"])
        # Not valid UTF-8, so the message line carries data_base64.
        client.sendmail("a@example.com", ["b@example.com"],
                        b"Subject: latin-1\r\n\r\nGr\xfc\xdfe\r\n")
        client.sendmail("<>", ["b@example.com"], SIMPLE_DATA)
    return 4


def reset_mid_transaction(port):
    """Drop transactions with RSET and a second EHLO, and return the messages accepted."""
    with open_session(port) as client:
        assert client.command("MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME").code == 250
        assert client.command("RCPT TO:<b@example.com>").code == 250
        assert client.command("RCPT TO:<c@example.com>").code == 250
        assert client.command("RSET").code == 250
        assert client.command("MAIL FROM:<a@example.com>").code == 250
        assert client.command("RCPT TO:<b@example.com>").code == 250
        assert client.command("EHLO other.example").code == 250
        assert client.command("DATA").code == 503
        assert send_message(client, "a@example.com", ["b@example.com"], SIMPLE_DATA).code == 250
        assert client.command("HELO third.example").code == 250
        assert client.command("QUIT").code == 221
    return 1


def send_bad_commands(port):
    """Send commands that are rejected, and return the messages accepted (none)."""
    with RawSmtp(port) as client:
        assert client.read_reply().code == 220
        assert client.command("MAIL FROM:<a@example.com>").code == 503
        assert client.command("FROB something").code == 500
        assert client.command("EHLO client.example").code == 250
        assert client.command("RCPT TO:<b@example.com>").code == 503
        assert client.command("DATA").code == 503
        assert client.command("MAIL FROM:<a@example.com> FROB=1").code == 555
        assert client.command("MAIL FROM:<a@example.com> SIZE=x").code == 501
        assert client.command("MAIL FROM:<a@example.com> BODY=8BITMIME BODY=7BIT").code == 501
        assert client.command("MAIL FROM:<a@example.com").code == 501
        assert client.command("MAIL FROM:<a@example.com>").code == 250
        assert client.command("MAIL FROM:<c@example.com>").code == 503
        assert client.command("RCPT TO:<>").code == 501
        assert client.command("RCPT TO:<b@example.com").code == 501
        assert client.command("DATA extra").code == 501
        assert client.command("AUTH PLAIN AGFiYwBkZWY=").code == 503
        assert client.command(b"NO\x00OP").code == 500
        assert client.command("X" * 5000).code == 500
        # Pipelined recipients past the limit: the last one gets 452.
        client.send(b"".join(b"RCPT TO:<r%d@example.com>\r\n" % i for i in range(MAX_RCPTS + 1)))
        codes = [reply.code for reply in client.read_replies(MAX_RCPTS + 1)]
        assert codes == [250] * MAX_RCPTS + [452]
        assert client.command("RSET").code == 250
        assert client.command("QUIT").code == 221
    return 0


def send_over_limit(port):
    """Exceed --max-size at MAIL and in DATA, and return the messages accepted."""
    big_data = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * (2 * MAX_SIZE // 1000)
    with open_session(port) as client:
        declared = client.command(f"MAIL FROM:<a@example.com> SIZE={2 * MAX_SIZE}")
        too_big = send_message(client, "a@example.com", ["b@example.com"], big_data)
        after = send_message(client, "a@example.com", ["b@example.com"], SIMPLE_DATA)
    assert declared.code == 552
    assert too_big.code == 552
    assert after.code == 250
    return 1


def send_pipelined(port):
    """Send two transactions and QUIT in one write, and return the messages accepted."""
    transaction = (b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                   b"RCPT TO:<c@example.com>\r\nDATA\r\n" + SIMPLE_DATA + b".\r\n")
    with open_session(port) as client:
        client.send(transaction + b"RSET\r\n" + transaction + b"QUIT\r\n")
        codes = [reply.code for reply in client.read_replies_until_closed()]
    assert codes == [250, 250, 250, 354, 250, 250, 250, 250, 250, 354, 250, 221]
    return 2


def start_data(port, partial_data):
    """Return a session in DATA that has sent partial_data, with no end of data."""
    client = open_session(port)
    assert client.command("MAIL FROM:<a@example.com>").code == 250
    assert client.command("RCPT TO:<b@example.com>").code == 250
    assert client.command("DATA").code == 354
    client.send(partial_data)
    return client


def disconnect_mid_data(port):
    """Close one session mid-DATA and reset another, and return the messages accepted (none)."""
    closed = start_data(port, b"Subject: cut\r\n\r\n" + b"z" * 3000)
    closed.close()
    reset = start_data(port, b"Subject: reset\r\n\r\npartial line")
    reset.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    reset.close()
    # A partial command line also stays buffered until the client goes away.
    with RawSmtp(port) as partial:
        partial.read_reply()
        partial.send(b"EHLO never-finished")
    return 0


def test_mixed_traffic_frees_everything(start_smtpcatch, leak_detection):
    busy = start_smtpcatch("--max-size", MAX_SIZE, "--timeout", SAFETY_TIMEOUT, "--verbose")
    # A separate instance for the idle timeout, because 0.2 s is short
    # enough to end the other clients' sessions on a slow machine.
    idle = start_smtpcatch("--idle-timeout", IDLE_TIMEOUT, "--timeout", SAFETY_TIMEOUT,
                           "--verbose")

    accepted = 0
    accepted += send_normal_messages(busy.port)
    accepted += reset_mid_transaction(busy.port)
    accepted += send_bad_commands(busy.port)
    accepted += send_over_limit(busy.port)
    accepted += send_pipelined(busy.port)
    accepted += disconnect_mid_data(busy.port)
    # Sessions still open when SIGTERM arrives: mid-DATA and mid-transaction.
    open_in_data = start_data(busy.port, b"Subject: stopped\r\n\r\n" + b"w" * 2000)
    open_in_mail = open_session(busy.port)
    assert open_in_mail.command("MAIL FROM:<a@example.com>").code == 250
    assert open_in_mail.command("RCPT TO:<b@example.com>").code == 250
    # A round trip after the disconnects, so smtpcatch has read their EOF or
    # reset before SIGTERM and closes them for that reason, not for the stop.
    with open_session(busy.port) as last:
        assert last.command("NOOP").code == 250

    idle_in_data = start_data(idle.port, b"Subject: idle\r\n\r\n" + b"v" * 2000)
    idle_in_mail = open_session(idle.port)
    assert idle_in_mail.command("MAIL FROM:<a@example.com>").code == 250
    idle_partial = RawSmtp(idle.port)
    assert idle_partial.read_reply().code == 220
    idle_partial.send(b"EHLO half")
    idle_replies = [client.read_replies_until_closed()
                    for client in (idle_in_data, idle_in_mail, idle_partial)]
    for client in (idle_in_data, idle_in_mail, idle_partial):
        client.close()
    with smtplib.SMTP("127.0.0.1", idle.port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com"], SIMPLE_DATA)

    busy_messages = [busy.next_message() for _ in range(accepted)]
    idle_message = idle.next_message()
    busy_status = busy.stop()
    idle_status = idle.stop()
    busy_rest = busy.read_rest()
    open_in_data.close()
    open_in_mail.close()
    busy_stderr = busy.stderr_text()
    idle_stderr = idle.stderr_text()

    assert busy_status == 0, f"exit status {busy_status}; stderr:\n{busy_stderr}"
    assert idle_status == 0, f"exit status {idle_status}; stderr:\n{idle_stderr}"
    assert sanitizer_lines(busy_stderr) == [], busy_stderr
    assert sanitizer_lines(idle_stderr) == [], idle_stderr
    assert [m["id"] for m in busy_messages] == list(range(1, accepted + 1))
    assert busy_rest == []
    assert idle_message["data"] == SIMPLE_DATA.decode("ascii")
    assert [replies[-1].code for replies in idle_replies] == [421, 421, 421]
    # The verbose close reasons show that the traffic reached each path.
    # "reset" is not required, because when the data and the RST arrive in
    # one poll, libuv's uv__stream_io reads the data and then reports EOF.
    for reason in ("quit", "eof", "eof-in-data", "server-stop"):
        assert f"reason={reason} " in busy_stderr, f"no session closed with reason={reason}"
    assert "reason=idle-timeout " in idle_stderr
