"""--max-size and --idle-timeout, and memory and fairness under abuse."""

import json
import resource
import socket
import subprocess
import time

import pytest

from conftest import sanitizer_lines, smtpcatch_binary
from smtp_client import RawSmtp, SmtpError, open_session, send_message

MAX_SIZE = 1000


def sized_data(size):
    """Return message data of exactly size bytes, ending in CRLF."""
    header = b"Subject: sized\r\n\r\n"
    return header + b"x" * (size - len(header) - 2) + b"\r\n"


def test_max_size_advertised(start_smtpcatch):
    server = start_smtpcatch("--max-size", MAX_SIZE)

    with RawSmtp(server.port) as client:
        client.read_reply()
        ehlo = client.command("EHLO client.example")

    assert f"250-SIZE {MAX_SIZE}" in ehlo.lines


def test_max_size_too_big_rejected(start_smtpcatch):
    server = start_smtpcatch("--max-size", MAX_SIZE)

    with open_session(server.port) as client:
        too_big = send_message(client, "big@example.com", ["b@example.com"],
                               sized_data(2 * MAX_SIZE))
        small = send_message(client, "small@example.com", ["b@example.com"], sized_data(100))
    message = server.next_message()

    assert too_big.code == 552
    assert small.code == 250
    assert message["id"] == 1
    assert message["mail_from"] == "small@example.com"
    assert message["data"] == sized_data(100).decode("ascii")


def test_max_size_exact_limit_accepted(start_smtpcatch):
    server = start_smtpcatch("--max-size", MAX_SIZE)

    with open_session(server.port) as client:
        at_limit = send_message(client, "a@example.com", ["b@example.com"], sized_data(MAX_SIZE))
        over_limit = send_message(client, "a@example.com", ["b@example.com"],
                                  sized_data(MAX_SIZE + 1))
    message = server.next_message()

    assert at_limit.code == 250
    assert over_limit.code == 552
    assert message["size"] == MAX_SIZE


def test_max_size_counts_unstuffed_bytes(start_smtpcatch):
    # Every stuffed dot is sent but not stored, so the wire data exceeds the
    # limit while the message itself is exactly at it.
    server = start_smtpcatch("--max-size", MAX_SIZE)
    data = b"Subject: dots\r\n\r\n" + b".x\r\n" * ((MAX_SIZE - 17) // 4)
    data += b"y" * (MAX_SIZE - len(data) - 2) + b"\r\n"
    wire = data.replace(b"\r\n.", b"\r\n..")

    with open_session(server.port) as client:
        reply = send_message(client, "a@example.com", ["b@example.com"], wire)
    message = server.next_message()

    assert len(data) == MAX_SIZE
    assert len(wire) > MAX_SIZE
    assert reply.code == 250
    assert message["data"] == data.decode("ascii")


def test_mail_size_param_over_limit(start_smtpcatch):
    server = start_smtpcatch("--max-size", MAX_SIZE)

    with open_session(server.port) as client:
        over = client.command(f"MAIL FROM:<a@example.com> SIZE={MAX_SIZE + 1}")
        within = client.command(f"MAIL FROM:<a@example.com> SIZE={MAX_SIZE}")

    assert over.code == 552
    assert within.code == 250


def test_idle_timeout_closes_silent_client(start_smtpcatch):
    server = start_smtpcatch("--idle-timeout", "0.3")

    with RawSmtp(server.port) as client:
        client.read_reply()
        started = time.monotonic()
        reply = client.read_reply()
        waited = time.monotonic() - started
        rest = client.read_until_closed()

    assert reply.code == 421
    assert reply.last.startswith("421 4.4.2")
    assert waited >= 0.25
    assert rest == b""


def test_idle_timeout_resets_on_activity(start_smtpcatch):
    server = start_smtpcatch("--idle-timeout", "0.3")

    with open_session(server.port) as client:
        replies = []
        for _ in range(4):
            time.sleep(0.15)
            replies.append(client.command("NOOP"))

    assert [reply.code for reply in replies] == [250] * 4


@pytest.mark.parametrize("option, limit", [("2K", 2048), ("2k", 2048), ("1m", 1 << 20)])
def test_max_size_suffix_multiplies(start_smtpcatch, option, limit):
    server = start_smtpcatch("--max-size", option)

    with open_session(server.port) as client:
        at_limit = client.command(f"MAIL FROM:<a@example.com> SIZE={limit}")
        client.command("RSET")
        over_limit = client.command(f"MAIL FROM:<a@example.com> SIZE={limit + 1}")

    assert at_limit.code == 250
    assert over_limit.code == 552


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


def test_oversized_data_is_not_buffered(start_smtpcatch):
    # 256 MiB of data against a 1 MiB limit: the excess is discarded as it
    # arrives, so the server's peak memory grows by far less than the data.
    server = start_smtpcatch("--max-size", "1M")
    before = peak_rss_kib(server.pid)
    line = b"y" * 1022 + b"\r\n"
    block = line * 1024                 # 1 MiB

    with open_session(server.port) as client:
        client.command("MAIL FROM:<a@example.com>")
        client.command("RCPT TO:<b@example.com>")
        client.command("DATA")
        for _ in range(256):
            client.send(block)
        client.send(b".\r\n")
        too_big = client.read_reply()
        noop = client.command("NOOP")
    growth = peak_rss_kib(server.pid) - before

    assert too_big.code == 552
    assert noop.code == 250
    assert growth < 32 * 1024, f"peak RSS grew by {growth} KiB for 256 MiB of data"


def test_slow_client_does_not_stall_others(start_smtpcatch):
    # One client trickles a command a byte at a time while another delivers
    # a message; the second finishes while the first is still typing.
    server = start_smtpcatch()

    with open_session(server.port) as slow, open_session(server.port) as fast:
        slow.send(b"NO")
        reply = send_message(fast, "a@example.com", ["b@example.com"], b"quick\r\n")
        message = server.next_message()
        slow.send(b"OP\r\n")
        noop = slow.read_reply()

    assert reply.code == 250
    assert message["data"] == "quick\r\n"
    assert noop.code == 250


LOW_OPEN_FILES = 48
LOW_LIMIT_CLIENTS = 60


def start_with_low_open_files(tmp_path, *args):
    """Start smtpcatch with LOW_OPEN_FILES descriptors. Return it, its port and its stderr path."""
    def limit_open_files():
        resource.setrlimit(resource.RLIMIT_NOFILE, (LOW_OPEN_FILES, LOW_OPEN_FILES))

    stderr_path = tmp_path / "smtpcatch.stderr"
    with open(stderr_path, "wb") as stderr_file:
        proc = subprocess.Popen([smtpcatch_binary(), "--timeout", "60", *args],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=stderr_file, preexec_fn=limit_open_files)
    port = json.loads(proc.stdout.readline())["port"]
    return proc, port, stderr_path


def connect_and_read_greetings(port, count, clients):
    """Open count clients and append them to clients. Return the first reply of each."""
    replies = []
    for _ in range(count):
        client = RawSmtp(port)
        clients.append(client)
        try:
            replies.append(client.read_reply().last)
        except (SmtpError, OSError) as error:
            replies.append(f"no reply: {error}")
    return replies


def stop_low_limit_server(proc, clients, stderr_path):
    for client in clients:
        client.close()
    proc.terminate()
    proc.wait(timeout=10)
    return stderr_path.read_text()


def test_sessions_fit_a_low_open_files_limit(tmp_path):
    # With few descriptors, the session limit is lowered to fit them, so
    # a client past it gets a 421 and is never closed unanswered.
    proc, port, stderr_path = start_with_low_open_files(tmp_path)
    clients = []
    try:
        first_replies = connect_and_read_greetings(port, LOW_LIMIT_CLIENTS, clients)
    finally:
        stderr = stop_low_limit_server(proc, clients, stderr_path)

    greeted = [reply for reply in first_replies if reply.startswith("220 ")]
    rejected = [reply for reply in first_replies if reply.startswith("421 4.7.0 ")]
    assert len(greeted) + len(rejected) == LOW_LIMIT_CLIENTS, first_replies
    assert greeted
    assert rejected
    assert not sanitizer_lines(stderr), stderr


LINGER_ROUNDS = 4


def test_lingering_sessions_fit_a_low_open_files_limit(tmp_path):
    # Sessions that the server ends wait for their clients to hang up, and
    # keep a descriptor meanwhile. Here every client keeps its socket open
    # after its session ends, round after round, and a new client must
    # still get a greeting or a 421, never a close without a reply.
    proc, port, stderr_path = start_with_low_open_files(tmp_path, "--max-errors", "1")
    clients, first_replies, ended = [], [], []
    try:
        for _ in range(LINGER_ROUNDS):
            replies = connect_and_read_greetings(port, LOW_OPEN_FILES // 2, clients)
            first_replies += replies
            for client, reply in zip(clients[-len(replies):], replies):
                if reply.startswith("220 "):
                    client.command("BOGUS")
                    ended.append(client.read_reply().last)
    finally:
        stderr = stop_low_limit_server(proc, clients, stderr_path)

    greeted = [reply for reply in first_replies if reply.startswith("220 ")]
    rejected = [reply for reply in first_replies if reply.startswith("421 4.7.0 ")]
    assert len(greeted) + len(rejected) == len(first_replies), first_replies
    assert len(greeted) > LOW_OPEN_FILES, first_replies
    assert all(reply.startswith("421 4.7.0 ") for reply in ended), ended
    assert not sanitizer_lines(stderr), stderr
