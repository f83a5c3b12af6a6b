"""Helpers for the client tests: SMTP dot-stuffing and process checks."""

import base64
import email
import email.policy
import os


def child_pids():
    """Return the ids of the processes, zombies included, whose parent is this process."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat_file:
                stat = stat_file.read()
        except OSError:  # The process ended while the loop ran.
            continue
        # The fields after the parenthesized command name are: state, ppid.
        # A zombie counts, because its parent has not waited for it.
        ppid = stat[stat.rindex(b")") + 2:].split()[1]
        if int(ppid) == os.getpid():
            children.append(int(entry))
    return children


def dot_stuffed(message):
    """Return the DATA payload an RFC 5321 client sends for message, whose lines end in CRLF.

    A line that starts with '.' gets one more '.', a missing final CRLF is
    added, and the '.' line that ends the data follows (RFC 5321, 4.5.2).
    """
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    payload = b""
    for line in message[:-2].split(b"\r\n"):
        if line.startswith(b"."):
            line = b"." + line
        payload += line + b"\r\n"
    return payload + b".\r\n"


def dot_unstuffed(payload):
    """Return the message an RFC 5321 server takes from a DATA payload.

    Lines end at CRLF only. The final '.' line is dropped, and one leading
    '.' is removed from every other line that starts with one.
    """
    assert payload.endswith(b"\r\n.\r\n"), f"payload does not end with CRLF.CRLF: {payload[-20:]!r}"
    lines = payload[:-3].split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def message_bytes(message):
    """Return the data of a message line as bytes, from data or data_base64."""
    if "data_base64" in message:
        return base64.b64decode(message["data_base64"], validate=True)
    return message["data"].encode("utf-8")


def parsed(message):
    """Parse the data of a message line into an email.message.EmailMessage.

    Python's parser keeps CRLF inside the parts it returns, so the CRLF line
    endings are turned into the LF that the sending code wrote.
    """
    return email.message_from_bytes(message_bytes(message).replace(b"\r\n", b"\n"),
                                    policy=email.policy.default)
