"""SMTP sessions written byte by byte, to check exact data and replies."""

import base64
import re
import socket
import time

from smtp_client import RawSmtp, open_session, send_message

# An enhanced status code (RFC 3463) after the reply code, e.g. "250 2.1.0 ".
ENHANCED_REPLY = re.compile(r"^(\d)\d\d[ -](\d)\.\d{1,3}\.\d{1,3}( |$)")
STATUS = re.compile(r"^\d{3}( \d\.\d{1,3}\.\d{1,3})?")


def status(reply):
    """Return the reply code with its enhanced status code, if any: "250 2.1.0"."""
    return STATUS.match(reply.last).group(0)


def test_greeting_is_220(smtpcatch):
    with RawSmtp(smtpcatch.port) as client:
        greeting = client.read_reply()

    assert greeting.code == 220
    assert greeting.last.startswith("220 ")


def test_ehlo_lists_extensions(smtpcatch):
    with RawSmtp(smtpcatch.port) as client:
        client.read_reply()
        ehlo = client.command("EHLO client.example")

    keywords = [line[4:].split(" ")[0] for line in ehlo.lines[1:]]
    assert ehlo.code == 250
    assert "PIPELINING" in keywords
    assert "SIZE" in keywords
    assert "8BITMIME" in keywords
    assert "SMTPUTF8" in keywords
    assert "ENHANCEDSTATUSCODES" in keywords


def test_data_dot_stuffing_removed(smtpcatch):
    wire = (b"..first line starts with a dot\r\n"
            b"\r\n"
            b"..x\r\n"
            b"...\r\n"
            b"..\r\n"
            b"a . in the middle\r\n")
    expected = (b".first line starts with a dot\r\n"
                b"\r\n"
                b".x\r\n"
                b"..\r\n"
                b".\r\n"
                b"a . in the middle\r\n")

    with open_session(smtpcatch.port) as client:
        reply = send_message(client, "a@example.com", ["b@example.com"], wire)
    message = smtpcatch.next_message()

    assert reply.code == 250
    assert message["data"] == expected.decode("ascii")
    assert message["size"] == len(expected)


def test_client_one_byte_per_send(smtpcatch):
    data = b"Subject: slow\r\n\r\n..x\r\nline\r\n.\r\n"
    replies = []

    with RawSmtp(smtpcatch.port, nodelay=True) as client:
        greeting = client.read_reply()
        for command in (b"EHLO slow.example\r\n", b"MAIL FROM:<a@example.com>\r\n",
                        b"RCPT TO:<b@example.com>\r\n", b"DATA\r\n"):
            client.send_bytewise(command)
            replies.append(client.read_reply())
        client.send_bytewise(data)
        replies.append(client.read_reply())
        client.send_bytewise(b"QUIT\r\n")
        replies.append(client.read_reply())
    message = smtpcatch.next_message()

    assert greeting.code == 220
    assert [reply.code for reply in replies] == [250, 250, 250, 354, 250, 221]
    assert message["helo"] == "slow.example"
    assert message["data"] == "Subject: slow\r\n\r\n.x\r\nline\r\n"


def test_pipelining_data_last_in_group(smtpcatch):
    # RFC 2920: the client sends DATA as the last command of a group and
    # waits for 354 before it sends the message.
    data = b"Subject: pipelined\r\n\r\nbody\r\n"

    with RawSmtp(smtpcatch.port) as client:
        client.read_reply()
        client.command("EHLO pipe.example")
        client.send(b"MAIL FROM:<a@example.com>\r\n"
                    b"RCPT TO:<b@example.com>\r\n"
                    b"RCPT TO:<c@example.com>\r\n"
                    b"DATA\r\n")
        group = client.read_replies(4)
        client.send(data + b".\r\nQUIT\r\n")
        end = client.read_replies(2)
    message = smtpcatch.next_message()

    assert [status(reply) for reply in group] == ["250 2.1.0", "250 2.1.5", "250 2.1.5", "354"]
    assert [reply.code for reply in end] == [250, 221]
    assert message["rcpt_to"] == ["b@example.com", "c@example.com"]
    assert message["data"] == data.decode("ascii")


def test_pipelining_whole_session_one_send(smtpcatch):
    data = b"Subject: all at once\r\n\r\nbody\r\n..dot\r\n"

    with RawSmtp(smtpcatch.port) as client:
        client.send(b"EHLO burst.example\r\n"
                    b"MAIL FROM:<a@example.com>\r\n"
                    b"RCPT TO:<b@example.com>\r\n"
                    b"RCPT TO:<c@example.com>\r\n"
                    b"DATA\r\n" + data + b".\r\n"
                    b"QUIT\r\n")
        replies = client.read_replies(8)
        rest = client.read_until_closed()
    message = smtpcatch.next_message()

    assert [status(reply) for reply in replies[2:6]] == ["250 2.1.0", "250 2.1.5", "250 2.1.5", "354"]
    assert [reply.code for reply in replies[6:]] == [250, 221]
    assert replies[0].code == 220
    assert replies[1].code == 250
    assert rest == b""
    assert message["rcpt_to"] == ["b@example.com", "c@example.com"]
    assert message["data"] == "Subject: all at once\r\n\r\nbody\r\n.dot\r\n"


def test_data_8bit_not_utf8_is_base64(smtpcatch):
    data = b"Subject: latin-1\r\n\r\nCaf\xe9 cr\xe8me \xff\xfe\x80\r\n"

    with open_session(smtpcatch.port) as client:
        reply = send_message(client, "a@example.com", ["b@example.com"], data,
                             mail_params=" BODY=8BITMIME")
    message = smtpcatch.next_message()

    assert reply.code == 250
    assert "data" not in message
    assert base64.b64decode(message["data_base64"], validate=True) == data
    assert message["size"] == len(data)
    assert message["mail_params"] == {"BODY": "8BITMIME"}


def test_data_nul_and_control_bytes_kept(smtpcatch):
    data = b"Subject: control\r\n\r\nnul \x00 tab \t bell \x07 cr\ralone\r\n"

    with open_session(smtpcatch.port) as client:
        send_message(client, "a@example.com", ["b@example.com"], data)
    message = smtpcatch.next_message()

    assert message["data"] == data.decode("ascii")


def test_data_bare_lf_lines_kept(smtpcatch):
    # "\n.\n" follows a bare LF, so it is content and not the end of data.
    data = b"Subject: lf\r\n\r\nline one\nline two\n.\nline three\r\n"

    with open_session(smtpcatch.port) as client:
        end = send_message(client, "a@example.com", ["b@example.com"], data)
        quit_reply = client.command("QUIT")
    message = smtpcatch.next_message()

    assert end.code == 250
    assert quit_reply.code == 221
    assert message["data"] == data.decode("ascii")


def test_data_lf_dot_crlf_is_content(smtpcatch):
    # The end marker is CRLF "." CRLF, so a "." CRLF line after a bare LF is content.
    data = b"Subject: lf dot crlf\r\n\r\nbefore\n.\r\nafter\r\n"

    with open_session(smtpcatch.port) as client:
        end = send_message(client, "a@example.com", ["b@example.com"], data)
        quit_reply = client.command("QUIT")
    message = smtpcatch.next_message()

    assert end.code == 250
    assert quit_reply.code == 221
    assert message["data"] == data.decode("ascii")


def test_unknown_command_session_continues(smtpcatch):
    with open_session(smtpcatch.port) as client:
        unknown = client.command("FROB something")
        noop = client.command("NOOP")
        end = send_message(client, "a@example.com", ["b@example.com"], b"Subject: after\r\n\r\nx\r\n")
    message = smtpcatch.next_message()

    assert unknown.code == 500
    assert unknown.last.startswith("500 5.5.1 ")
    assert noop.code == 250
    assert end.code == 250
    assert message["data"] == "Subject: after\r\n\r\nx\r\n"


def test_disconnect_in_data_drops_message(smtpcatch):
    with open_session(smtpcatch.port) as client:
        client.command("MAIL FROM:<cut@example.com>")
        client.command("RCPT TO:<b@example.com>")
        data_reply = client.command("DATA")
        client.send(b"Subject: cut off\r\n\r\npartial line\r\n")
    with open_session(smtpcatch.port) as client:
        end = send_message(client, "whole@example.com", ["b@example.com"], b"Subject: whole\r\n\r\nx\r\n")
    message = smtpcatch.next_message()
    status = smtpcatch.stop()
    rest = smtpcatch.read_rest()

    assert data_reply.code == 354
    assert end.code == 250
    assert message["id"] == 1
    assert message["mail_from"] == "whole@example.com"
    assert status == 0
    assert rest == []


def test_transaction_after_rset(smtpcatch):
    with open_session(smtpcatch.port) as client:
        client.command("MAIL FROM:<dropped@example.com>")
        client.command("RCPT TO:<dropped@example.com>")
        rset = client.command("RSET")
        end = send_message(client, "kept@example.com", ["kept@example.com"], b"Subject: kept\r\n\r\n")
    message = smtpcatch.next_message()

    assert rset.code == 250
    assert end.code == 250
    assert message["mail_from"] == "kept@example.com"
    assert message["rcpt_to"] == ["kept@example.com"]


def test_replies_have_enhanced_codes(smtpcatch):
    with open_session(smtpcatch.port) as client:
        replies = {
            "MAIL": client.command("MAIL FROM:<a@example.com>"),
            "RCPT": client.command("RCPT TO:<b@example.com>"),
        }
        client.command("DATA")
        client.send(b"Subject: codes\r\n\r\n.\r\n")
        replies["end of DATA"] = client.read_reply()
        replies["RSET"] = client.command("RSET")
        replies["NOOP"] = client.command("NOOP")
        replies["RCPT before MAIL"] = client.command("RCPT TO:<b@example.com>")
        replies["unknown command"] = client.command("FROB")
        replies["QUIT"] = client.command("QUIT")
    smtpcatch.next_message()

    for command, reply in replies.items():
        match = ENHANCED_REPLY.match(reply.last)
        assert match is not None, f"{command}: no enhanced status code in {reply.last!r}"
        assert match.group(1) == match.group(2), f"{command}: classes differ in {reply.last!r}"


def test_pipelining_many_messages_one_send(smtpcatch):
    count = 30
    bodies = [f"Subject: burst {i}\r\n\r\n..line {i}\r\n".encode("ascii") for i in range(count)]
    burst = b"EHLO burst.example\r\n"
    for i, body in enumerate(bodies):
        burst += (f"MAIL FROM:<s{i}@example.com>\r\nRCPT TO:<r{i}@example.com>\r\nDATA\r\n"
                  .encode("ascii") + body + b".\r\n")
    burst += b"QUIT\r\n"

    with RawSmtp(smtpcatch.port) as client:
        client.send(burst)
        replies = client.read_replies(2 + 4 * count + 1)
    messages = [smtpcatch.next_message() for _ in range(count)]

    assert [reply.code for reply in replies[2:-1]] == [250, 250, 354, 250] * count
    assert replies[-1].code == 221
    assert [message["id"] for message in messages] == list(range(1, count + 1))
    assert [message["mail_from"] for message in messages] == [
        f"s{i}@example.com" for i in range(count)]
    assert [message["data"] for message in messages] == [
        body.decode("ascii").replace("\n..", "\n.") for body in bodies]


def test_data_large_message(smtpcatch):
    # About 2 MiB, so the data spans many reads. Every fourth line is dot-stuffed.
    lines = []
    for i in range(40000):
        text = f"line {i:06d} " + "x" * 40
        lines.append("." + text if i % 4 == 0 else text)
    expected = ("Subject: large\r\n\r\n" + "\r\n".join(lines) + "\r\n").encode("ascii")
    wire = expected.replace(b"\r\n.", b"\r\n..")

    with open_session(smtpcatch.port) as client:
        end = send_message(client, "a@example.com", ["b@example.com"], wire)
    message = smtpcatch.next_message()

    assert end.code == 250
    assert message["size"] == len(expected)
    assert message["data"] == expected.decode("ascii")


def test_command_line_too_long(smtpcatch):
    with open_session(smtpcatch.port) as client:
        too_long = client.command("NOOP " + "x" * 10000)
        noop = client.command("NOOP")

    assert too_long.code == 500
    assert noop.code == 250


def test_mail_before_ehlo_rejected(smtpcatch):
    with RawSmtp(smtpcatch.port) as client:
        client.read_reply()
        mail = client.command("MAIL FROM:<a@example.com>")

    assert mail.code == 503


def test_eof_after_final_dot_keeps_message(smtpcatch):
    # The client sends its whole message and closes its side at once,
    # without QUIT. The message is complete, so it is written and gets its 250.
    data = b"Subject: no quit\r\n\r\nbody\r\n"

    with RawSmtp(smtpcatch.port) as client:
        client.send(b"EHLO c.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                    b"DATA\r\n" + data + b".\r\n")
        client.sock.shutdown(socket.SHUT_WR)
        replies = client.read_replies_until_closed()
    message = smtpcatch.next_message()

    assert [reply.code for reply in replies] == [220, 250, 250, 250, 354, 250]
    assert message["data"] == data.decode("ascii")


def test_quit_with_half_close_gets_221(smtpcatch):
    with open_session(smtpcatch.port) as client:
        client.send(b"QUIT\r\n")
        client.sock.shutdown(socket.SHUT_WR)
        replies = client.read_replies_until_closed()

    assert [reply.code for reply in replies] == [221]


def wait_for_log(server, text, timeout=5.0):
    """Return the seconds until text appears in server's stderr, or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if text in server.stderr_text():
            return time.monotonic() - start
        time.sleep(0.005)
    return None


def test_quit_closes_without_waiting_for_the_client(start_smtpcatch):
    # After QUIT the client has nothing more to send (RFC 5321 4.1.1.10),
    # so the server closes at once. Waiting for the client to hang up, up
    # to the 1 s linger time, would cost a wake-up per connection.
    server = start_smtpcatch("-v")

    with open_session(server.port) as client:
        quit_reply = client.command("QUIT")
        closed_after = wait_for_log(server, "closed reason=quit")
        rest = client.read_until_closed()

    assert quit_reply.code == 221
    assert closed_after is not None and closed_after < 0.5
    assert rest == b""


def test_bytes_after_quit_do_not_reset_the_221(smtpcatch):
    with open_session(smtpcatch.port) as client:
        client.send(b"QUIT\r\nNOOP\r\nNOOP\r\n")
        replies = client.read_replies_until_closed()

    assert [reply.code for reply in replies] == [221]


def test_mail_from_invalid_utf8_rejected(smtpcatch):
    with open_session(smtpcatch.port) as client:
        invalid = client.command(b"MAIL FROM:<\xff\xfe@example.com>")
        valid = client.command("MAIL FROM:<a@example.com>")

    assert invalid.code == 501
    assert valid.code == 250
