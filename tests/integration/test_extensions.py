"""CHUNKING, BINARYMIME and DSN, message warnings, --strict and the limit options.

Every test runs the binary and talks to it over a raw socket on a loopback
address, so the exact bytes on the wire and in the JSON line are checked.
"""

import base64
import re
import socket
import time

import pytest

from conftest import run_smtpcatch
from smtp_client import RawSmtp, SmtpError, open_session, send_message

EXIT_USAGE = 2
ACCEPTED = "250 2.0.0 Message accepted"

# An enhanced status code (RFC 3463) after the reply code, e.g. "250 2.1.0 ".
ENHANCED_REPLY = re.compile(r"^(\d)\d\d[ -](\d)\.\d{1,3}\.\d{1,3}( |$)")

# How long a test waits for the server to notice a closed connection.
CLOSE_NOTICE_TIMEOUT = 3.0


def bdat(data, last=False):
    """Return a BDAT command line followed by its chunk bytes."""
    return b"BDAT %d%s\r\n" % (len(data), b" LAST" if last else b"") + data


def start_envelope(client, mail_params="", rcpts=("b@example.com",)):
    """Send MAIL FROM:<a@example.com> and one RCPT per address, and require 250 to each."""
    reply = client.command(f"MAIL FROM:<a@example.com>{mail_params}")
    assert reply.code == 250, reply
    for rcpt in rcpts:
        reply = client.command(f"RCPT TO:<{rcpt}>")
        assert reply.code == 250, reply


def send_bdat(client, data, last=False):
    """Send one BDAT chunk and return its reply."""
    client.send(bdat(data, last))
    return client.read_reply()


def octets_received(count):
    return f"250 2.0.0 {count} octets received"


def message_bytes(message):
    """Return the message data as bytes, from data or data_base64."""
    if "data_base64" in message:
        return base64.b64decode(message["data_base64"])
    return message["data"].encode("utf-8")


# ---------------------------------------------------------------- CHUNKING


def test_ehlo_lists_chunking_binarymime_dsn(smtpcatch):
    with RawSmtp(smtpcatch.port) as client:
        client.read_reply()
        ehlo = client.command("EHLO client.example")

    keywords = [line[4:].split(" ")[0] for line in ehlo.lines[1:]]
    assert ehlo.code == 250
    assert "CHUNKING" in keywords
    assert "BINARYMIME" in keywords
    assert "DSN" in keywords


def test_bdat_chunks_concatenated(smtpcatch):
    # RFC 3030: chunk bytes are taken as they are, with no dot transparency.
    chunks = [b"Subject: chunks\r\n\r\n..x\r\n", b".\r\nbare\nCR\r", b"\nend\r\n"]

    with open_session(smtpcatch.port) as client:
        start_envelope(client)
        first = send_bdat(client, chunks[0])
        second = send_bdat(client, chunks[1])
        last = send_bdat(client, chunks[2], last=True)
    message = smtpcatch.next_message()

    assert first.last == octets_received(len(chunks[0]))
    assert second.last == octets_received(len(chunks[0]) + len(chunks[1]))
    assert last.last == ACCEPTED
    assert message_bytes(message) == b"".join(chunks)
    assert message["size"] == sum(len(chunk) for chunk in chunks)


# A BDAT session whose chunks hold command lines and end markers, which
# must be taken as content.
PIPELINED_CHUNKS = [b"Subject: T\r\n\r\n.\r\nQUIT\r\n", b"", b"\x00\r\rEND\n"]
PIPELINED = (b"EHLO client.example\r\n"
             b"MAIL FROM:<a@example.com> BODY=BINARYMIME\r\n"
             b"RCPT TO:<b@example.com>\r\n"
             + bdat(PIPELINED_CHUNKS[0])
             + bdat(PIPELINED_CHUNKS[1])
             + bdat(PIPELINED_CHUNKS[2], last=True)
             + b"NOOP\r\n"
             + bdat(b"RSET\r\n", last=True)
             + b"MAIL FROM:<c@example.com>\r\n"
             b"RCPT TO:<d@example.com>\r\n"
             + bdat(b"hi", last=True)
             + b"QUIT\r\n")

PIPELINED_CODES = [220, 250, 250, 250, 250, 250, 250, 250, 503, 250, 250, 250, 221]
PIPELINED_DATA = b"".join(PIPELINED_CHUNKS)


def run_pipelined(port, send):
    """Send PIPELINED with send(client, bytes), then return every reply."""
    with RawSmtp(port, nodelay=True) as client:
        send(client, PIPELINED)
        return client.read_replies_until_closed()


@pytest.mark.parametrize("how", ["one_send", "bytewise", "pieces_of_7"])
def test_bdat_pipelined(smtpcatch, how):
    senders = {
        "one_send": lambda client, data: client.send(data),
        "bytewise": lambda client, data: client.send_bytewise(data),
        "pieces_of_7": lambda client, data: [client.send(data[i:i + 7])
                                             for i in range(0, len(data), 7)],
    }

    replies = run_pipelined(smtpcatch.port, senders[how])
    first = smtpcatch.next_message()
    second = smtpcatch.next_message()

    assert [reply.code for reply in replies] == PIPELINED_CODES
    assert replies[4].last == octets_received(len(PIPELINED_CHUNKS[0]))
    assert replies[5].last == octets_received(len(PIPELINED_CHUNKS[0]))
    assert replies[6].last == ACCEPTED
    assert replies[8].last.startswith("503 5.5.1 ")
    assert message_bytes(first) == PIPELINED_DATA
    assert first["size"] == len(PIPELINED_DATA)
    assert first["warnings"] == []
    assert second["mail_from"] == "c@example.com"
    assert second["data"] == "hi"


def test_bdat_zero_last_ends_empty_message(smtpcatch):
    with open_session(smtpcatch.port) as client:
        start_envelope(client)
        reply = send_bdat(client, b"", last=True)
    message = smtpcatch.next_message()

    assert reply.last == ACCEPTED
    assert message["size"] == 0
    assert message["data"] == ""


def test_bdat_zero_size_chunk(smtpcatch):
    with open_session(smtpcatch.port) as client:
        start_envelope(client)
        empty_first = send_bdat(client, b"")
        data = send_bdat(client, b"abc")
        empty_again = send_bdat(client, b"")
        last = send_bdat(client, b"de", last=True)
    message = smtpcatch.next_message()

    assert empty_first.last == octets_received(0)
    assert data.last == octets_received(3)
    assert empty_again.last == octets_received(3)
    assert last.last == ACCEPTED
    assert message["data"] == "abcde"


def test_bdat_before_mail_discards_bytes(smtpcatch):
    # The chunk contains QUIT, so parsing it as a command would end the session.
    with open_session(smtpcatch.port) as client:
        client.send(bdat(b"QUIT\r\n", last=True) + b"NOOP\r\n")
        rejected, noop = client.read_replies(2)
        after = client.command("NOOP")

    assert rejected.last == "503 5.5.1 Send MAIL first"
    assert noop.last == "250 2.0.0 OK"
    assert after.code == 250


def test_bdat_before_rcpt_discards_bytes(smtpcatch):
    with open_session(smtpcatch.port) as client:
        assert client.command("MAIL FROM:<a@example.com>").code == 250
        client.send(bdat(b"QUIT\r\n") + b"RCPT TO:<b@example.com>\r\n")
        rejected, rcpt = client.read_replies(2)
        last = send_bdat(client, b"ok\r\n", last=True)
    message = smtpcatch.next_message()

    assert rejected.code == 503
    assert rejected.last.startswith("503 5.5.1 ")
    assert rcpt.code == 250
    assert last.last == ACCEPTED
    assert message["data"] == "ok\r\n"


def test_data_after_bdat_rejected(smtpcatch):
    with open_session(smtpcatch.port) as client:
        start_envelope(client)
        send_bdat(client, b"abc")
        data = client.command("DATA")
        last = send_bdat(client, b"d", last=True)
    message = smtpcatch.next_message()

    assert data.code == 503
    assert data.last.startswith("503 5.5.1 ")
    assert last.last == ACCEPTED
    assert message["data"] == "abcd"


def test_rcpt_after_bdat_rejected(smtpcatch):
    with open_session(smtpcatch.port) as client:
        start_envelope(client)
        send_bdat(client, b"abc")
        rcpt = client.command("RCPT TO:<c@example.com>")
        send_bdat(client, b"d", last=True)
    message = smtpcatch.next_message()

    assert rcpt.code == 503
    assert rcpt.last.startswith("503 5.5.1 ")
    assert message["rcpt_to"] == ["b@example.com"]


def test_binarymime_with_data_rejected(smtpcatch):
    with open_session(smtpcatch.port) as client:
        start_envelope(client, " BODY=BINARYMIME")
        data = client.command("DATA")
        last = send_bdat(client, b"\x00\xff\r", last=True)
    message = smtpcatch.next_message()

    assert data.code == 503
    assert data.last.startswith("503 5.5.1 ")
    assert last.last == ACCEPTED
    assert message["mail_params"] == {"BODY": "BINARYMIME"}
    assert message_bytes(message) == b"\x00\xff\r"


@pytest.mark.parametrize("line", ["BDAT", "BDAT x", "BDAT 5LAST", "BDAT -1"])
def test_bdat_bad_syntax(smtpcatch, line):
    with open_session(smtpcatch.port) as client:
        start_envelope(client)
        bad = client.command(line)
        noop = client.command("NOOP")

    assert bad.code == 501
    assert bad.last.startswith("501 5.5.4 ")
    assert noop.code == 250


def test_bdat_bad_syntax_discards_chunk(smtpcatch):
    # With a readable size the chunk follows the line, so it is discarded
    # and never runs as commands.
    with open_session(smtpcatch.port) as client:
        start_envelope(client)
        client.send(b"BDAT 6 NOTLAST\r\nRSET\r\nNOOP\r\n")
        bad, noop = client.read_replies(2)

    assert bad.code == 501
    assert bad.last.startswith("501 5.5.4 ")
    assert noop.code == 250


def test_bdat_over_max_size_ends_transaction(start_smtpcatch):
    # RFC 3030 section 3: the chunk that fails gets the error, the
    # transaction is over, and chunks already pipelined get 503.
    server = start_smtpcatch("--max-size", 1000)

    with open_session(server.port) as client:
        start_envelope(client)
        client.send(bdat(b"x" * 600) + bdat(b"y" * 600) + bdat(b"QUIT\r\n", last=True)
                    + b"NOOP\r\n")
        first, too_big, after, noop = client.read_replies(4)
        start_envelope(client)
        fits = send_bdat(client, b"z" * 1000, last=True)
    message = server.next_message()

    assert first.last == octets_received(600)
    assert too_big.code == 552
    assert too_big.last.startswith("552 5.3.4 ")
    assert after.code == 503
    assert noop.code == 250
    assert fits.last == ACCEPTED
    assert message["id"] == 1
    assert message["size"] == 1000


def test_bdat_same_as_data(smtpcatch):
    data = b"Subject: same\r\n\r\n.leading\r\n..two\r\n.\r\nbare\nlf\r\nend\r\n"
    wire = data.replace(b"\r\n.", b"\r\n..")

    with open_session(smtpcatch.port) as client:
        by_data = send_message(client, "a@example.com", ["b@example.com"], wire)
        start_envelope(client)
        send_bdat(client, data[:20])
        by_bdat = send_bdat(client, data[20:], last=True)
    sent_by_data = smtpcatch.next_message()
    sent_by_bdat = smtpcatch.next_message()

    assert by_data.last == ACCEPTED
    assert by_bdat.last == ACCEPTED
    assert sent_by_data["data"] == data.decode("ascii")
    assert sent_by_bdat["data"] == sent_by_data["data"]
    assert sent_by_bdat["size"] == sent_by_data["size"] == len(data)
    assert sent_by_bdat["warnings"] == sent_by_data["warnings"] == ["bare_lf"]


def test_bdat_large_chunk_in_small_sends(smtpcatch):
    data = bytes(ord("a") + i % 26 for i in range(100 * 1024))

    with open_session(smtpcatch.port, nodelay=True) as client:
        start_envelope(client)
        client.send(b"BDAT %d LAST\r\n" % len(data))
        for offset in range(0, len(data), 1024):
            client.send(data[offset:offset + 1024])
        reply = client.read_reply()
    message = smtpcatch.next_message()

    assert reply.last == ACCEPTED
    assert message["size"] == len(data)
    assert message["data"] == data.decode("ascii")


# --------------------------------------------------------------------- DSN


def test_dsn_mail_params_kept(smtpcatch):
    with open_session(smtpcatch.port) as client:
        start_envelope(client, " RET=HDRS ENVID=QQ314159+2B1")
        reply = send_bdat(client, b"x\r\n", last=True)
    message = smtpcatch.next_message()

    assert reply.last == ACCEPTED
    assert message["mail_params"] == {"RET": "HDRS", "ENVID": "QQ314159+2B1"}


def test_dsn_rcpt_params_per_recipient(smtpcatch):
    with open_session(smtpcatch.port) as client:
        assert client.command("MAIL FROM:<a@example.com> RET=FULL").code == 250
        replies = [client.command(line) for line in (
            "RCPT TO:<b@example.com> NOTIFY=NEVER",
            "RCPT TO:<c@example.com>",
            "RCPT TO:<d@example.com> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;a@example.com",
            "RCPT TO:<e@example.com>",
        )]
        data = client.command("DATA")
        client.send(b"x\r\n.\r\n")
        accepted = client.read_reply()
    message = smtpcatch.next_message()

    assert [reply.code for reply in replies] == [250, 250, 250, 250]
    assert data.code == 354
    assert accepted.last == ACCEPTED
    assert message["rcpt_to"] == ["b@example.com", "c@example.com", "d@example.com",
                                  "e@example.com"]
    assert message["rcpt_params"] == [
        {"NOTIFY": "NEVER"},
        {},
        {"NOTIFY": "SUCCESS,FAILURE,DELAY", "ORCPT": "rfc822;a@example.com"},
        {},
    ]


def test_rcpt_params_empty_objects_without_dsn(smtpcatch):
    with open_session(smtpcatch.port) as client:
        reply = send_message(client, "a@example.com", ["b@example.com", "c@example.com"],
                             b"x\r\n")
    message = smtpcatch.next_message()

    assert reply.last == ACCEPTED
    assert message["rcpt_params"] == [{}, {}]


@pytest.mark.parametrize("command", [
    "MAIL FROM:<a@example.com> RET=ALL",
    "MAIL FROM:<a@example.com> RET",
    "MAIL FROM:<a@example.com> ENVID=a+zz",
    "MAIL FROM:<a@example.com> ENVID=" + "x" * 101,
    "RCPT TO:<b@example.com> NOTIFY=NEVER,SUCCESS",
    "RCPT TO:<b@example.com> NOTIFY=MAYBE",
    "RCPT TO:<b@example.com> NOTIFY=SUCCESS,",
    "RCPT TO:<b@example.com> ORCPT=nosemicolon",
])
def test_dsn_invalid_value_501(smtpcatch, command):
    with open_session(smtpcatch.port) as client:
        if command.startswith("RCPT"):
            assert client.command("MAIL FROM:<a@example.com>").code == 250
        reply = client.command(command)
        noop = client.command("NOOP")

    assert reply.code == 501
    assert reply.last.startswith("501 5.5.4 ")
    assert noop.code == 250


def test_dsn_unknown_rcpt_param_555(smtpcatch):
    with open_session(smtpcatch.port) as client:
        assert client.command("MAIL FROM:<a@example.com>").code == 250
        unknown = client.command("RCPT TO:<b@example.com> XNOTIFY=NEVER")
        known = client.command("RCPT TO:<b@example.com> NOTIFY=NEVER")

    assert unknown.code == 555
    assert unknown.last.startswith("555 5.5.4 ")
    assert known.code == 250


def test_dsn_rcpt_params_after_helo_555(smtpcatch):
    with RawSmtp(smtpcatch.port) as client:
        client.read_reply()
        assert client.command("HELO client.example").code == 250
        assert client.command("MAIL FROM:<a@example.com>").code == 250
        with_params = client.command("RCPT TO:<b@example.com> NOTIFY=NEVER")
        without = client.command("RCPT TO:<b@example.com>")

    assert with_params.code == 555
    assert with_params.last.startswith("555 5.5.4 ")
    assert without.code == 250


# ---------------------------------------------------------------- warnings

LINE_998 = b"x" * 998

# Each case: name, MAIL parameters, recipient, DATA wire (dot-stuffed, with
# the end marker), the expected warnings.
WARNING_CASES = [
    ("clean", "", "b@example.com", b"Subject: Hi\r\n\r\nHello\r\n.\r\n", []),
    ("bare_lf", "", "b@example.com", b"a\nb\r\n.\r\n", ["bare_lf"]),
    ("bare_cr", "", "b@example.com", b"a\rb\r\n.\r\n", ["bare_cr"]),
    ("line_998", "", "b@example.com", LINE_998 + b"\r\n.\r\n", []),
    ("line_999", "", "b@example.com", LINE_998 + b"x\r\n.\r\n", ["line_over_998"]),
    ("nul_byte", "", "b@example.com", b"a\x00b\r\n.\r\n", ["nul_byte"]),
    ("8bit", "", "b@example.com", "café\r\n.\r\n".encode(), ["8bit_without_8bitmime"]),
    ("8bit_7bit", " BODY=7BIT", "b@example.com", "café\r\n.\r\n".encode(),
     ["8bit_without_8bitmime"]),
    ("8bit_8bitmime", " BODY=8BITMIME", "b@example.com", "café\r\n.\r\n".encode(), []),
    ("utf8_rcpt", "", "δοκιμή@example.com", b"x\r\n.\r\n", ["utf8_without_smtputf8"]),
    ("utf8_smtputf8", " SMTPUTF8", "δοκιμή@example.com", b"x\r\n.\r\n", []),
    ("crlf_dot_lf", "", "b@example.com", b"a\r\n.\nb\r\n.\r\n", ["bare_lf", "dot_line_bare_lf"]),
    ("lf_dot_lf", "", "b@example.com", b"a\n.\nb\r\n.\r\n", ["bare_lf", "dot_line_bare_lf"]),
    ("lf_dot_crlf", "", "b@example.com", b"a\n.\r\nb\r\n.\r\n", ["bare_lf", "dot_line_bare_lf"]),
]


@pytest.mark.parametrize("name,mail_params,rcpt,wire,warnings", WARNING_CASES,
                         ids=[case[0] for case in WARNING_CASES])
def test_warning_in_json(smtpcatch, name, mail_params, rcpt, wire, warnings):
    with open_session(smtpcatch.port) as client:
        reply = client.command(f"MAIL FROM:<a@example.com>{mail_params}")
        assert reply.code == 250, reply
        reply = client.command(f"RCPT TO:<{rcpt}>")
        assert reply.code == 250, reply
        assert client.command("DATA").code == 354
        client.send(wire)
        end = client.read_reply()
    message = smtpcatch.next_message()

    assert end.last == ACCEPTED
    assert sorted(message["warnings"]) == sorted(warnings)


def test_warning_utf8_sender(smtpcatch):
    with open_session(smtpcatch.port) as client:
        without = send_message(client, "用户@例子.广告", ["b@example.com"], b"x\r\n")
        with_param = send_message(client, "用户@例子.广告", ["b@example.com"], b"x\r\n",
                                  " SMTPUTF8")
    first = smtpcatch.next_message()
    second = smtpcatch.next_message()

    assert without.last == ACCEPTED
    assert with_param.last == ACCEPTED
    assert first["warnings"] == ["utf8_without_smtputf8"]
    assert second["warnings"] == []


def test_binarymime_has_no_line_warnings(smtpcatch):
    data = b"\x00a\nb\rc\n.\n" + LINE_998 + b"xx\r\n\xff\r"

    with open_session(smtpcatch.port) as client:
        start_envelope(client, " BODY=BINARYMIME")
        binary = send_bdat(client, data, last=True)
        start_envelope(client)
        plain = send_bdat(client, data, last=True)
    binary_message = smtpcatch.next_message()
    plain_message = smtpcatch.next_message()

    assert binary.last == ACCEPTED
    assert plain.last == ACCEPTED
    assert binary_message["warnings"] == []
    assert message_bytes(binary_message) == data
    # BDAT data has no end marker, so its "." lines draw no dot_line_bare_lf.
    assert sorted(plain_message["warnings"]) == sorted([
        "bare_lf", "bare_cr", "line_over_998", "nul_byte", "8bit_without_8bitmime"])


def test_bdat_cr_split_across_chunks(smtpcatch):
    with open_session(smtpcatch.port) as client:
        start_envelope(client)
        send_bdat(client, b"a\r")
        joined = send_bdat(client, b"\nb\r\n", last=True)
        start_envelope(client)
        at_end = send_bdat(client, b"a\r\nb\r", last=True)
    first = smtpcatch.next_message()
    second = smtpcatch.next_message()

    assert joined.last == ACCEPTED
    assert at_end.last == ACCEPTED
    assert first["warnings"] == []
    assert second["warnings"] == ["bare_cr"]


# ------------------------------------------------------------------ strict


def test_strict_bare_lf_command_not_run(start_smtpcatch):
    server = start_smtpcatch("--strict")

    with open_session(server.port) as client:
        client.send(b"QUIT\n")
        quit_reply = client.read_reply()
        noop = client.command("NOOP")

    assert quit_reply.code == 500
    assert quit_reply.last.startswith("500 5.5.2 ")
    assert noop.last == "250 2.0.0 OK"


@pytest.mark.parametrize("wire", [b"a\nb\r\n", b"a\rb\r\n"], ids=["bare_lf", "bare_cr"])
def test_strict_rejects_message(start_smtpcatch, wire):
    server = start_smtpcatch("--strict")

    with open_session(server.port) as client:
        rejected = send_message(client, "bad@example.com", ["b@example.com"], wire)
        clean = send_message(client, "good@example.com", ["b@example.com"], b"fine\r\n")
    message = server.next_message()

    assert rejected.code == 550
    assert rejected.last.startswith("550 5.6.0 ")
    assert clean.last == ACCEPTED
    assert message["id"] == 1
    assert message["mail_from"] == "good@example.com"


def test_strict_accepts_binarymime_bare_lf(start_smtpcatch):
    server = start_smtpcatch("--strict")

    with open_session(server.port) as client:
        start_envelope(client, " BODY=BINARYMIME")
        reply = send_bdat(client, b"a\nb\rc", last=True)
    message = server.next_message()

    assert reply.last == ACCEPTED
    assert message["data"] == "a\nb\rc"


# ------------------------------------------------------------------ limits


def test_max_line_length(start_smtpcatch):
    server = start_smtpcatch("--max-line-length", 100)

    with open_session(server.port) as client:
        fits = send_message(client, "a@example.com", ["b@example.com"], b"y" * 100 + b"\r\n")
        too_long = send_message(client, "a@example.com", ["b@example.com"],
                                b"z" * 101 + b"\r\nshort\r\n")
        after = send_message(client, "c@example.com", ["b@example.com"], b"after\r\n")
    first = server.next_message()
    second = server.next_message()

    assert fits.last == ACCEPTED
    assert too_long.code == 552
    assert too_long.last.startswith("552 5.3.4 ")
    assert after.last == ACCEPTED
    assert first["size"] == 102
    assert second["mail_from"] == "c@example.com"
    assert second["id"] == 2


def test_max_command_length(start_smtpcatch):
    server = start_smtpcatch("--max-command-length", 512)
    fits = b"NOOP " + b"x" * (512 - 7) + b"\r\n"
    too_long = b"NOOP " + b"x" * (513 - 7) + b"\r\n"

    with open_session(server.port) as client:
        client.send(fits)
        fits_reply = client.read_reply()
        client.send(too_long)
        too_long_reply = client.read_reply()
        after = client.command("NOOP")

    assert len(fits) == 512
    assert len(too_long) == 513
    assert fits_reply.code == 250
    assert too_long_reply.code == 500
    assert too_long_reply.last.startswith("500 5.5.2 ")
    assert after.code == 250


@pytest.mark.parametrize("value", ["511", "abc"])
def test_max_command_length_invalid(value):
    result = run_smtpcatch("--max-command-length", value)
    stderr = result.stderr.decode("utf-8", "replace")

    assert result.returncode == EXIT_USAGE, stderr
    assert result.stdout == b""
    assert stderr.startswith(f"smtpcatch: invalid --max-command-length value '{value}': "), stderr


def test_max_recipients(start_smtpcatch):
    server = start_smtpcatch("--max-recipients", 2)

    with open_session(server.port) as client:
        assert client.command("MAIL FROM:<a@example.com>").code == 250
        replies = [client.command(f"RCPT TO:<r{i}@example.com>") for i in range(3)]
        assert client.command("DATA").code == 354
        client.send(b"x\r\n.\r\n")
        end = client.read_reply()
    message = server.next_message()

    assert [reply.code for reply in replies] == [250, 250, 452]
    assert replies[2].last.startswith("452 4.5.3 ")
    assert end.last == ACCEPTED
    assert message["rcpt_to"] == ["r0@example.com", "r1@example.com"]


def greet(port):
    """Connect and return the client with its first reply."""
    client = RawSmtp(port)
    try:
        return client, client.read_reply()
    except SmtpError:
        client.close()
        raise


def test_max_connections(start_smtpcatch):
    server = start_smtpcatch("--max-connections", 2)
    first, first_greeting = greet(server.port)
    second, second_greeting = greet(server.port)
    try:
        third, third_reply = greet(server.port)
        with third:
            rest = third.read_until_closed()

        first.close()
        deadline = time.monotonic() + CLOSE_NOTICE_TIMEOUT
        while True:
            fourth, fourth_greeting = greet(server.port)
            if fourth_greeting.code == 220 or time.monotonic() > deadline:
                break
            fourth.close()
            time.sleep(0.05)
        with fourth:
            noop = fourth.command("NOOP") if fourth_greeting.code == 220 else None
    finally:
        first.close()
        second.close()

    assert first_greeting.code == 220
    assert second_greeting.code == 220
    assert third_reply.code == 421
    assert third_reply.last.startswith("421 4.7.0 ")
    assert rest == b""
    assert fourth_greeting.code == 220
    assert noop.code == 250
    assert ("conn=3 rejected: the session limit is reached (--max-connections 2); "
            "connections rejected so far: 1") in server.stderr_text()


def test_max_errors(start_smtpcatch):
    server = start_smtpcatch("--max-errors", 3)

    with open_session(server.port) as client:
        first = client.command("FOO")
        noop = client.command("NOOP")
        second = client.command("BAR")
        third = client.command("BAZ")
        closing = client.read_reply()
        rest = client.read_until_closed()

    assert [first.code, noop.code, second.code, third.code] == [500, 250, 500, 500]
    assert closing.code == 421
    assert closing.last.startswith("421 4.7.0 ")
    assert rest == b""


def test_max_errors_zero_is_unlimited(start_smtpcatch):
    server = start_smtpcatch("--max-errors", 0)

    with open_session(server.port) as client:
        client.send(b"FOO\r\n" * 300)
        replies = client.read_replies(300)
        noop = client.command("NOOP")

    assert {reply.code for reply in replies} == {500}
    assert noop.code == 250


def test_idle_timeout_after_lf_dot_lf_logged(start_smtpcatch):
    server = start_smtpcatch("--idle-timeout", "0.3")

    with open_session(server.port) as client:
        assert client.command("MAIL FROM:<a@example.com>").code == 250
        assert client.command("RCPT TO:<b@example.com>").code == 250
        assert client.command("DATA").code == 354
        client.send(b"Subject: lf\n\nhello\n.\n")
        timeout = client.read_reply()
        rest = client.read_until_closed()

    assert timeout.code == 421
    assert timeout.last.startswith("421 4.4.2 ")
    assert rest == b""
    assert "LF.LF" in server.stderr_text()


def test_idle_timeout_plain_data_not_logged(start_smtpcatch):
    server = start_smtpcatch("--idle-timeout", "0.3")

    with open_session(server.port) as client:
        assert client.command("MAIL FROM:<a@example.com>").code == 250
        assert client.command("RCPT TO:<b@example.com>").code == 250
        assert client.command("DATA").code == 354
        client.send(b"Subject: crlf\r\n\r\nhello\r\n")
        timeout = client.read_reply()
        client.read_until_closed()

    assert timeout.code == 421
    assert "LF.LF" not in server.stderr_text()


# ---------------------------------------------------------- enhanced codes

# Each step after EHLO: bytes to send and how many replies they get.
ENHANCED_STEPS = [
    (bdat(b"abc"), 1),
    (b"BDAT x\r\n", 1),
    (b"MAIL FROM:<a@example.com> RET=FULL ENVID=e+2B1\r\n", 1),
    (bdat(b"abc", last=True), 1),
    (b"RCPT TO:<b@example.com> NOTIFY=NEVER,SUCCESS\r\n", 1),
    (b"RCPT TO:<b@example.com> ORCPT=nosemicolon\r\n", 1),
    (b"RCPT TO:<b@example.com> XDSN=1\r\n", 1),
    (b"RCPT TO:<b@example.com> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b@example.com\r\n", 1),
    (b"RCPT TO:<c@example.com>\r\n", 1),
    (bdat(b"0123456789"), 1),
    (bdat(b""), 1),
    (b"DATA\r\n", 1),
    (b"RCPT TO:<d@example.com>\r\n", 1),
    (b"BDAT 5 NOTLAST\r\nabcde", 1),
    (bdat(b"\r\n", last=True), 1),
    (b"MAIL FROM:<a@example.com> RET=NONE\r\n", 1),
    (b"MAIL FROM:<a@example.com> BODY=BINARYMIME\r\n", 1),
    (b"RCPT TO:<b@example.com>\r\n", 1),
    (b"DATA\r\n", 1),
    (bdat(b"x" * 2000), 1),
    (bdat(b"xyz", last=True), 1),
    (b"RSET\r\n", 1),
    (b"QUIT\r\n", 1),
]


def test_bdat_dsn_replies_have_enhanced_codes(start_smtpcatch):
    server = start_smtpcatch("--max-size", 1000)
    replies = []

    with open_session(server.port) as client:
        for data, count in ENHANCED_STEPS:
            client.send(data)
            replies.extend((data, reply) for reply in client.read_replies(count))
        rest = client.read_until_closed()

    assert rest == b""
    for data, reply in replies:
        for line in reply.lines:
            match = ENHANCED_REPLY.match(line)
            assert match, f"reply to {data[:40]!r} lacks an enhanced status code: {line!r}"
            assert match.group(1) == match.group(2), f"class differs in {line!r}"
    assert {reply.code for _, reply in replies} == {221, 250, 501, 503, 552, 555}
