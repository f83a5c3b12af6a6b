"""The smtpcatch pytest fixture that the README offers users, and test helpers.

README-snippet.md quotes `running_smtpcatch` and the `smtpcatch` fixture
verbatim, and test_fixture.py checks that it still does.
"""

import contextlib
import json
import os
import queue
import smtplib
import socket
import subprocess
import threading
import types

import pytest

from client_helpers import child_pids


@contextlib.contextmanager
def running_smtpcatch(*options):
    """Run smtpcatch on a free port and yield an object with .port, .pid and .next_message()."""
    binary = os.environ.get("SMTPCATCH_BIN", "smtpcatch")
    # --timeout is a backstop: smtpcatch exits by itself if the test run dies.
    proc = subprocess.Popen([binary, "--timeout", "600", *options], stdout=subprocess.PIPE)
    lines, seen = queue.Queue(), []

    def read_lines():  # A thread reads stdout, so a wait can time out.
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)  # End of stdout: smtpcatch is exiting.

    def next_line(timeout=5):
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"smtpcatch wrote no line within {timeout} s; lines before: {seen}")
        if line is None:
            pytest.fail(f"smtpcatch exited with status {proc.wait(timeout)}; lines before: {seen}")
        seen.append(json.loads(line))
        return seen[-1]

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    try:
        port = next_line()["port"]  # The first line is the ready line.
        yield types.SimpleNamespace(port=port, pid=proc.pid, next_message=next_line)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        proc.kill()  # Does nothing when SIGTERM has already stopped it.
        proc.wait()
        reader.join()
        proc.stdout.close()
    assert proc.returncode == 0, f"smtpcatch exited with status {proc.returncode}"


@pytest.fixture
def smtpcatch():
    with running_smtpcatch() as server:
        yield server


# The rest of this file is for this suite's own tests.


@pytest.fixture(autouse=True)
def no_process_left_behind():
    """Fail a test whose teardown leaves a child process running."""
    yield
    assert child_pids() == [], "a child process outlived its test"


@pytest.fixture(autouse=True)
def no_name_lookup(monkeypatch):
    """Make socket.getfqdn() return 'client.test' without a lookup.

    smtplib, unless given local_hostname, and Django send its result as the
    EHLO name. The tests use only loopback addresses and resolve no names.
    """
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "client.test")


class SmtpWire:
    """Every byte string that smtplib.SMTP.send wrote during one test, in order."""

    def __init__(self):
        self.sent = []

    def data_payloads(self):
        """Return what smtplib wrote after each DATA command: the stuffed message and '.' line."""
        return [self.sent[index + 1]
                for index, chunk in enumerate(self.sent[:-1])
                if chunk.lower() == b"data\r\n"]


@pytest.fixture
def smtp_wire(monkeypatch):
    """Record the bytes that every smtplib.SMTP connection sends during the test."""
    wire = SmtpWire()
    original_send = smtplib.SMTP.send

    def recording_send(self, data):
        if isinstance(data, str):
            wire.sent.append(data.encode(self.command_encoding))
        else:
            wire.sent.append(bytes(data))
        original_send(self, data)

    monkeypatch.setattr(smtplib.SMTP, "send", recording_send)
    return wire
