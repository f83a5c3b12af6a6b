"""A raw SMTP client for tests that need exact bytes on the wire.

Unlike smtplib it sends what it is given, unchanged: no dot-stuffing, no
line-ending fixes, no implicit commands. Every socket read has a timeout.
"""

import re
import socket
import time
from typing import List, NamedTuple

SOCKET_TIMEOUT = 5.0

REPLY_LINE = re.compile(rb"^\d{3}([ -]|$)")


class Reply(NamedTuple):
    """One SMTP reply: its code and every line, as sent but without CRLF."""

    code: int
    lines: List[str]

    @property
    def last(self):
        return self.lines[-1]


class SmtpError(AssertionError):
    """The server sent something that is not an SMTP reply, or nothing."""


class RawSmtp:
    """One TCP connection to an SMTP server on a loopback address."""

    def __init__(self, port, host="127.0.0.1", timeout=SOCKET_TIMEOUT, nodelay=False):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.received = b""         # Every byte received, for failure messages.
        self._buffer = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self.sock.close()

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        self.sock.sendall(data)

    def send_bytewise(self, data):
        """Send data one byte per send() call."""
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise SmtpError(f"no data from the server within {self.timeout} s. "
                            f"Received so far: {self.received!r}") from None
        self.received += chunk
        self._buffer += chunk
        return chunk

    def read_line(self):
        """Return the next CRLF-terminated line without its CRLF."""
        while b"\r\n" not in self._buffer:
            if not self._fill():
                raise SmtpError(f"connection closed before a complete line. "
                                f"Received so far: {self.received!r}")
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line

    def read_reply(self):
        """Return the next reply, reading every line of a multiline reply."""
        lines = []
        while True:
            line = self.read_line()
            if not REPLY_LINE.match(line):
                raise SmtpError(f"not an SMTP reply line: {line!r}. "
                                f"Received so far: {self.received!r}")
            lines.append(line.decode("utf-8"))
            if line[3:4] != b"-":
                return Reply(int(line[:3]), lines)

    def read_replies(self, count):
        return [self.read_reply() for _ in range(count)]

    def read_replies_until_closed(self):
        """Return every reply up to the server closing the connection."""
        replies = []
        while True:
            while not self._buffer:
                if not self._fill():
                    return replies
            replies.append(self.read_reply())

    def command(self, line):
        """Send one command line, adding CRLF, and return its reply."""
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        return self.read_reply()

    def read_until_closed(self):
        """Return the bytes not yet read once the server closes the connection."""
        deadline = time.monotonic() + self.timeout
        while self._fill():
            if time.monotonic() > deadline:
                raise SmtpError(f"the server did not close the connection within "
                                f"{self.timeout} s. Received so far: {self.received!r}")
        rest, self._buffer = self._buffer, b""
        return rest


def open_session(port, host="127.0.0.1", **kwargs):
    """Connect, read the greeting and send EHLO. Both replies must succeed."""
    client = RawSmtp(port, host, **kwargs)
    greeting = client.read_reply()
    if greeting.code != 220:
        client.close()
        raise SmtpError(f"greeting is not 220: {greeting!r}")
    ehlo = client.command("EHLO client.example")
    if ehlo.code != 250:
        client.close()
        raise SmtpError(f"EHLO was not accepted: {ehlo!r}")
    return client


def send_message(client, mail_from, rcpt_to, wire_data, mail_params=""):
    """Run one transaction with data already dot-stuffed and ending in CRLF.

    Returns the reply to the end of data. Every earlier step must succeed.
    """
    reply = client.command(f"MAIL FROM:<{mail_from}>{mail_params}")
    if reply.code != 250:
        raise SmtpError(f"MAIL FROM was not accepted: {reply!r}")
    for rcpt in rcpt_to:
        reply = client.command(f"RCPT TO:<{rcpt}>")
        if reply.code != 250:
            raise SmtpError(f"RCPT TO:<{rcpt}> was not accepted: {reply!r}")
    reply = client.command("DATA")
    if reply.code != 354:
        raise SmtpError(f"DATA did not get 354: {reply!r}")
    client.send(wire_data + b".\r\n")
    return client.read_reply()
