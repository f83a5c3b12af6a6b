"""Fixtures that run at once, in pytest-xdist workers and in one test."""

import os
import smtplib

import pytest

from conftest import running_smtpcatch

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def send(port, recipient, body):
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=5) as client:
        client.sendmail("a@example.com", [recipient], body)


@pytest.mark.parametrize("index", range(12))
def test_fixture_gets_only_its_mail(smtpcatch, index):
    # Under pytest -n 4 these run in four workers at once. A fixture that
    # shared a port with another would see ids or recipients not its own.
    tag = f"{WORKER}-{index}-{os.getpid()}"
    for number in range(1, 4):
        send(smtpcatch.port, f"{tag}-{number}@example.com", f"Subject: {tag} {number}\r\n\r\n")
    for number in range(1, 4):
        message = smtpcatch.next_message()
        assert message["id"] == number
        assert message["rcpt_to"] == [f"{tag}-{number}@example.com"]
        assert message["data"] == f"Subject: {tag} {number}\r\n\r\n"


def test_two_fixtures_in_one_test():
    with running_smtpcatch() as first, running_smtpcatch() as second:
        assert first.port != second.port
        assert first.pid != second.pid
        send(second.port, "second@example.com", b"Subject: 2\r\n\r\n")
        send(first.port, "first@example.com", b"Subject: 1\r\n\r\n")

        assert first.next_message()["rcpt_to"] == ["first@example.com"]
        assert second.next_message()["rcpt_to"] == ["second@example.com"]
