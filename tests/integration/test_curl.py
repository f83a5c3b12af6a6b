"""Messages sent with the curl command-line tool over IPv4 and IPv6."""

import os
import shutil
import subprocess

import pytest

from conftest import has_ipv6_loopback

CURL_TIMEOUT = 5

# CRLF line endings and a final CRLF, so curl sends the file as it is and
# ends the data with ".\r\n". The ".dotted" line checks curl's dot-stuffing.
MESSAGE = (b"From: sender@example.com\r\n"
           b"To: a@example.com, b@example.com\r\n"
           b"Subject: curl test\r\n"
           b"\r\n"
           b"Hello from curl.\r\n"
           b".dotted line\r\n"
           b"last line\r\n")


def curl_environment():
    """Return the environment without proxy variables, so curl connects directly."""
    return {name: value for name, value in os.environ.items() if "proxy" not in name.lower()}


def send_with_curl(url, tmp_path):
    curl = shutil.which("curl")
    assert curl is not None, "curl is not installed"
    path = tmp_path / "message.eml"
    path.write_bytes(MESSAGE)
    return subprocess.run(
        [curl, "--silent", "--show-error", "--noproxy", "*", "--max-time", str(CURL_TIMEOUT),
         url, "--mail-from", "sender@example.com",
         "--mail-rcpt", "a@example.com", "--mail-rcpt", "b@example.com",
         "--upload-file", str(path)],
        capture_output=True, timeout=CURL_TIMEOUT + 5, env=curl_environment())


def test_curl_ipv4(smtpcatch, tmp_path):
    result = send_with_curl(f"smtp://127.0.0.1:{smtpcatch.port}", tmp_path)

    assert result.returncode == 0, result.stderr.decode(errors="replace")
    message = smtpcatch.next_message()

    assert message["client"]["address"] == "127.0.0.1"
    assert message["mail_from"] == "sender@example.com"
    assert message["rcpt_to"] == ["a@example.com", "b@example.com"]
    assert message["data"] == MESSAGE.decode("ascii")
    assert message["size"] == len(MESSAGE)


def test_curl_ipv6(smtpcatch, tmp_path):
    if not has_ipv6_loopback():
        pytest.skip("this host has no IPv6 loopback address")

    result = send_with_curl(f"smtp://[::1]:{smtpcatch.port}", tmp_path)

    assert result.returncode == 0, result.stderr.decode(errors="replace")
    message = smtpcatch.next_message()

    assert message["client"]["address"] == "::1"
    assert message["mail_from"] == "sender@example.com"
    assert message["rcpt_to"] == ["a@example.com", "b@example.com"]
    assert message["data"] == MESSAGE.decode("ascii")
