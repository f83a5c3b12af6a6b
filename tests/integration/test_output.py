"""The NDJSON stream on stdout as a whole."""

import base64
import datetime
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import EXIT_TIMEOUT, READY_TIMEOUT, sanitizer_lines, smtpcatch_binary
from smtp_client import open_session, send_message

RECEIVED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")

# Data that JSON has to escape, that is not UTF-8, or that JavaScript treats
# as a line break (U+2028, U+2029).
AWKWARD_DATA = [
    b"Subject: plain\r\n\r\nhello\r\n",
    'Subject: quotes "and" \\backslashes\\ \u2028 \u2029 ✓\r\n\r\n{"json": [1]}\r\n'.encode(),
    b"Subject: controls\r\n\r\n\x00\x01\x1b[0m\x7f\ttab\rcr\r\n",
    b"Subject: latin-1\r\n\r\n\xe9t\xe9\r\n",
    b"",
]


def send_all(port):
    with open_session(port) as client:
        for index, data in enumerate(AWKWARD_DATA):
            reply = send_message(client, f"s{index}@example.com", ["r@example.com"], data,
                                 mail_params=" BODY=8BITMIME")
            assert reply.code == 250, (index, reply)


def test_stdout_lines_are_json(smtpcatch):
    send_all(smtpcatch.port)
    for _ in AWKWARD_DATA:
        smtpcatch.next_message()
    status = smtpcatch.stop()
    smtpcatch.read_rest()

    assert status == 0
    assert smtpcatch.partial_line() == b""
    assert len(smtpcatch.lines) == 1 + len(AWKWARD_DATA)
    for line in smtpcatch.lines:
        obj = json.loads(line)
        assert isinstance(obj, dict), line
        assert "event" in obj, line


def test_message_data_round_trips(smtpcatch):
    send_all(smtpcatch.port)
    messages = [smtpcatch.next_message() for _ in AWKWARD_DATA]

    for data, message in zip(AWKWARD_DATA, messages):
        if "data" in message:
            received = message["data"].encode("utf-8")
        else:
            received = base64.b64decode(message["data_base64"])
        assert received == data
        assert message["size"] == len(data)


def test_message_data_member_choice(smtpcatch):
    send_all(smtpcatch.port)
    messages = [smtpcatch.next_message() for _ in AWKWARD_DATA]

    has_data = ["data" in message for message in messages]
    has_base64 = ["data_base64" in message for message in messages]
    assert has_data == [True, True, True, False, True]
    assert has_base64 == [False, False, False, True, False]


def test_received_at_format(smtpcatch):
    before = datetime.datetime.now(datetime.timezone.utc)
    send_all(smtpcatch.port)
    messages = [smtpcatch.next_message() for _ in AWKWARD_DATA]
    after = datetime.datetime.now(datetime.timezone.utc)

    for message in messages:
        stamp = message["received_at"]
        assert RECEIVED_AT.fullmatch(stamp), stamp
        parsed = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc)
        assert before - datetime.timedelta(seconds=1) <= parsed, stamp
        assert parsed <= after + datetime.timedelta(seconds=1), stamp


def test_message_ids_count_across_connections(smtpcatch):
    for index in range(3):
        with open_session(smtpcatch.port) as client:
            send_message(client, f"s{index}@example.com", ["r@example.com"], b"x\r\n")
    messages = [smtpcatch.next_message() for _ in range(3)]

    assert [message["id"] for message in messages] == [1, 2, 3]
    assert [message["mail_from"] for message in messages] == [
        "s0@example.com", "s1@example.com", "s2@example.com"]


def test_message_has_no_added_headers(smtpcatch):
    data = b"Subject: bare\r\n\r\nbody\r\n"

    with open_session(smtpcatch.port) as client:
        send_message(client, "a@example.com", ["b@example.com"], data)
    message = smtpcatch.next_message()

    assert "Received:" not in message["data"]
    assert "Return-Path:" not in message["data"]
    assert message["data"] == data.decode("ascii")


def test_verbose_logs_on_stderr_only(start_smtpcatch):
    server = start_smtpcatch("--verbose")

    with open_session(server.port) as client:
        send_message(client, "a@example.com", ["b@example.com"], b"Subject: v\r\n\r\n")
        client.command("QUIT")
    server.next_message()
    status = server.stop()
    rest = server.read_rest()
    stderr = server.stderr_text()

    assert status == 0
    assert rest == []
    assert "MAIL FROM:<a@example.com>" in stderr
    assert "250" in stderr


def wait_for_first_line(path, timeout):
    """Return the first complete line of the file at path, or None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_bytes()
        if b"\n" in content:
            return content.split(b"\n")[0]
        time.sleep(0.01)
    return None


def test_stdout_file_written_before_250(tmp_path):
    # With stdout redirected to a file, the line must be in the file by the
    # time the client has its 250: no buffering, also for regular files.
    output_path = tmp_path / "out.jsonl"
    stderr_path = tmp_path / "stderr"
    with open(output_path, "wb") as output, open(stderr_path, "wb") as stderr_file:
        proc = subprocess.Popen([smtpcatch_binary()], stdin=subprocess.DEVNULL, stdout=output,
                                stderr=stderr_file)
    try:
        ready_line = wait_for_first_line(output_path, READY_TIMEOUT)
        assert ready_line is not None, f"no ready line in {output_path} after {READY_TIMEOUT} s"
        port = json.loads(ready_line)["port"]
        with open_session(port) as client:
            reply = send_message(client, "a@example.com", ["b@example.com"], b"Subject: f\r\n\r\n")
            lines = output_path.read_bytes().split(b"\n")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=EXIT_TIMEOUT)
            status = f"still running {EXIT_TIMEOUT} s after SIGTERM"

    assert reply.code == 250
    assert len(lines) == 3
    assert json.loads(lines[1])["event"] == "message"
    assert lines[2] == b""
    assert status == 0
    assert sanitizer_lines(stderr_path.read_text()) == []


def test_stdout_write_error_exits_1(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("this host has no /dev/full")

    with open("/dev/full", "wb") as full:
        result = subprocess.run([smtpcatch_binary()], stdin=subprocess.DEVNULL, stdout=full,
                                stderr=subprocess.PIPE, timeout=EXIT_TIMEOUT)

    assert result.returncode == 1
    assert b"stdout" in result.stderr
    assert sanitizer_lines(result.stderr.decode("utf-8", "replace")) == []


def test_mail_params_keywords_upper_cased(smtpcatch):
    with open_session(smtpcatch.port) as client:
        send_message(client, "a@example.com", ["b@example.com"], b"Subject: p\r\n\r\n",
                     mail_params=" body=8bitmime size=20")
    message = smtpcatch.next_message()

    assert message["mail_params"] == {"BODY": "8bitmime", "SIZE": "20"}
