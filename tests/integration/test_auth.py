"""SMTP AUTH (RFC 4954) with real clients: smtplib, curl, swaks and raw bytes.

Each client authenticates with PLAIN, LOGIN and CRAM-MD5, the message line
must show what it sent, and a wrong password under --auth must fail with
535 in every client. Every client connects to 127.0.0.1 only, to the
smtpcatch that the test started.
"""

import base64
import hmac
import os
import re
import shutil
import smtplib
import subprocess

import pytest

from conftest import run_smtpcatch, smtpcatch_binary
from smtp_client import RawSmtp, open_session

CLIENT_TIMEOUT = 5.0
TOOL_TIMEOUT = 15

USER = "alice@example.com"
PASSWORD = "s3cret:with colon"
MESSAGE = b"Subject: auth test\r\n\r\nHello\r\n"

# The client's side of each mechanism, as smtplib names it.
MECHANISMS = ["PLAIN", "LOGIN", "CRAM-MD5"]


def b64(data):
    return base64.b64encode(data).decode("ascii")


def smtplib_auth(client, mechanism, user, password, initial_response_ok=True):
    """Authenticate with one mechanism, as login() would if it picked it.

    Returns the CRAM-MD5 challenges the server sent, decoded.
    """
    challenges = []
    client.user, client.password = user, password
    methods = {"PLAIN": client.auth_plain, "LOGIN": client.auth_login,
               "CRAM-MD5": client.auth_cram_md5}

    def respond(challenge=None):
        if mechanism == "CRAM-MD5" and challenge is not None:
            challenges.append(challenge)
        return methods[mechanism](challenge)

    client.ehlo("client.example")
    client.auth(mechanism, respond, initial_response_ok=initial_response_ok)
    return challenges


def expected_auth(mechanism, user, password, challenges):
    """Return the auth member smtpcatch should write for this login."""
    if mechanism == "CRAM-MD5":
        assert len(challenges) == 1
        assert re.fullmatch(rb"<\d+\.\d+@localhost>", challenges[0]), challenges
        digest = hmac.new(password.encode(), challenges[0], "md5").hexdigest()
        return {"mechanism": "CRAM-MD5", "username": user, "response": digest}
    return {"mechanism": mechanism, "username": user, "password": password}


def connect(port):
    return smtplib.SMTP("127.0.0.1", port, timeout=CLIENT_TIMEOUT)


def tool_environment():
    """Return the environment without proxy variables, so tools connect directly."""
    return {name: value for name, value in os.environ.items() if "proxy" not in name.lower()}


# ------------------------------------------------------------------ smtplib

@pytest.mark.parametrize("initial_response_ok", [True, False],
                         ids=["initial-response", "after-334"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_smtplib_mechanism_any_credentials(start_smtpcatch, mechanism, initial_response_ok):
    server = start_smtpcatch()

    with connect(server.port) as client:
        challenges = smtplib_auth(client, mechanism, USER, PASSWORD, initial_response_ok)
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    message = server.next_message()

    assert message["auth"] == expected_auth(mechanism, USER, PASSWORD, challenges)
    assert message["data"] == MESSAGE.decode("ascii")


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_smtplib_mechanism_configured_credentials(start_smtpcatch, mechanism):
    server = start_smtpcatch("--auth", "bob:other", "--auth", f"{USER}:{PASSWORD}")

    with connect(server.port) as client:
        challenges = smtplib_auth(client, mechanism, USER, PASSWORD)
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    message = server.next_message()

    assert message["auth"] == expected_auth(mechanism, USER, PASSWORD, challenges)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_smtplib_wrong_password(start_smtpcatch, mechanism):
    server = start_smtpcatch("--auth", f"{USER}:{PASSWORD}")

    with connect(server.port) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as failure:
            smtplib_auth(client, mechanism, USER, "wrong")
        assert failure.value.smtp_code == 535
        assert failure.value.smtp_error == b"5.7.8 Authentication credentials invalid"
        # The session goes on unauthenticated.
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    assert server.next_message()["auth"] is None


def test_smtplib_login_prefers_cram_md5(smtpcatch):
    """login() tries CRAM-MD5 first when the server offers it."""
    with connect(smtpcatch.port) as client:
        client.login(USER, PASSWORD)
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    auth = smtpcatch.next_message()["auth"]

    assert auth["mechanism"] == "CRAM-MD5"
    assert auth["username"] == USER
    assert re.fullmatch(r"[0-9a-f]{32}", auth["response"])
    assert "password" not in auth


def test_smtplib_plain_authzid(smtpcatch):
    with connect(smtpcatch.port) as client:
        client.ehlo("client.example")
        reply = client.docmd("AUTH", "PLAIN " + b64(b"admin\0" + USER.encode() + b"\0pw"))
        assert reply == (235, b"2.7.0 Authentication successful")
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)

    assert smtpcatch.next_message()["auth"] == {
        "mechanism": "PLAIN", "authzid": "admin", "username": USER, "password": "pw"}


def test_smtplib_utf8_credentials(smtpcatch):
    # smtplib's auth_plain encodes as ASCII, so the response is built here.
    with connect(smtpcatch.port) as client:
        client.ehlo("client.example")
        reply = client.docmd("AUTH", "PLAIN " + b64("\0josé\0pässwörd ✓".encode()))
        assert reply[0] == 235
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)

    assert smtpcatch.next_message()["auth"] == {
        "mechanism": "PLAIN", "username": "josé", "password": "pässwörd ✓"}


def test_smtplib_require_auth(start_smtpcatch):
    server = start_smtpcatch("--require-auth")

    with connect(server.port) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        assert refused.value.smtp_code == 530
        assert refused.value.smtp_error == b"5.7.0 Authentication required"
        client.login(USER, PASSWORD)
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    message = server.next_message()

    assert message["id"] == 1
    assert message["auth"]["username"] == USER


def test_smtplib_mail_auth_parameter(smtpcatch):
    with connect(smtpcatch.port) as client:
        client.ehlo("client.example")
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE,
                        mail_options=["AUTH=<>"])
        client.sendmail("e=mc2@example.com", ["b@example.com"], MESSAGE,
                        mail_options=["AUTH=e+3Dmc2@example.com"])
    first = smtpcatch.next_message()
    second = smtpcatch.next_message()

    assert first["mail_params"]["AUTH"] == "<>"
    assert first["auth"] is None
    assert second["mail_params"]["AUTH"] == "e+3Dmc2@example.com"


def test_message_without_auth_is_null(smtpcatch):
    with connect(smtpcatch.port) as client:
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    message = smtpcatch.next_message()

    assert "auth" in message
    assert message["auth"] is None


# --------------------------------------------------------------------- curl

def run_curl(port, user, password, *options):
    curl = shutil.which("curl")
    assert curl is not None, "curl is not installed"
    return subprocess.run(
        [curl, "--silent", "--show-error", "--noproxy", "*", "--max-time", str(int(CLIENT_TIMEOUT)),
         f"smtp://127.0.0.1:{port}/client.example", "--user", f"{user}:{password}",
         *options, "--mail-from", "a@example.com", "--mail-rcpt", "b@example.com",
         "--upload-file", "-"],
        input=MESSAGE, capture_output=True, timeout=TOOL_TIMEOUT, env=tool_environment())


# curl 7.88 picks CRAM-MD5 from "PLAIN LOGIN CRAM-MD5" on its own.
@pytest.mark.parametrize("options, mechanism", [
    ((), "CRAM-MD5"),
    (("--login-options", "AUTH=PLAIN"), "PLAIN"),
    (("--login-options", "AUTH=LOGIN"), "LOGIN"),
    (("--login-options", "AUTH=PLAIN", "--sasl-ir"), "PLAIN"),
    (("--login-options", "AUTH=LOGIN", "--sasl-ir"), "LOGIN"),
], ids=["default", "plain", "login", "plain-initial-response", "login-initial-response"])
def test_curl_user(start_smtpcatch, options, mechanism):
    server = start_smtpcatch("--auth", f"{USER}:{PASSWORD}")

    result = run_curl(server.port, USER, PASSWORD, *options)

    assert result.returncode == 0, result.stderr.decode(errors="replace")
    auth = server.next_message()["auth"]
    assert auth["mechanism"] == mechanism
    assert auth["username"] == USER
    if mechanism == "CRAM-MD5":
        assert re.fullmatch(r"[0-9a-f]{32}", auth["response"])
    else:
        assert auth["password"] == PASSWORD


@pytest.mark.parametrize("options", [(), ("--login-options", "AUTH=PLAIN"),
                                     ("--login-options", "AUTH=LOGIN")],
                         ids=["default", "plain", "login"])
def test_curl_wrong_password(start_smtpcatch, options):
    server = start_smtpcatch("--auth", f"{USER}:{PASSWORD}")

    result = run_curl(server.port, USER, "wrong", *options)

    # 67 is CURLE_LOGIN_DENIED: the server rejected the credentials.
    assert result.returncode == 67, result.stderr.decode(errors="replace")
    assert b"Login denied" in result.stderr


# -------------------------------------------------------------------- swaks

def run_swaks(port, mechanism, user, password):
    swaks = shutil.which("swaks")
    assert swaks is not None, "swaks is not installed"
    return subprocess.run(
        [swaks, "--server", "127.0.0.1", "--port", str(port), "--helo", "client.example",
         "--from", "a@example.com", "--to", "b@example.com", "--timeout", "5",
         "-a", mechanism, "--auth-user", user, "--auth-password", password],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=TOOL_TIMEOUT,
        env=tool_environment())


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_swaks_mechanism(start_smtpcatch, mechanism):
    server = start_smtpcatch("--auth", f"{USER}:{PASSWORD}")

    result = run_swaks(server.port, mechanism, USER, PASSWORD)

    assert result.returncode == 0, result.stdout.decode(errors="replace")
    auth = server.next_message()["auth"]
    assert auth["mechanism"] == mechanism
    assert auth["username"] == USER
    if mechanism == "CRAM-MD5":
        assert re.fullmatch(r"[0-9a-f]{32}", auth["response"])
    else:
        assert auth["password"] == PASSWORD


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_swaks_wrong_password(start_smtpcatch, mechanism):
    server = start_smtpcatch("--auth", f"{USER}:{PASSWORD}")

    result = run_swaks(server.port, mechanism, USER, "wrong")

    # swaks exits with 28 when authentication fails.
    assert result.returncode == 28, result.stdout.decode(errors="replace")
    assert b"535 5.7.8 Authentication credentials invalid" in result.stdout


# ---------------------------------------------------------------- raw bytes

def test_raw_rfc4954_replies(smtpcatch):
    with RawSmtp(smtpcatch.port) as client:
        assert client.read_reply().code == 220
        assert client.command("AUTH PLAIN " + b64(b"\0u\0p")).lines == [
            "503 5.5.1 Send EHLO first: AUTH is an ESMTP extension"]
        ehlo = client.command("EHLO client.example")
        assert "250-AUTH PLAIN LOGIN CRAM-MD5" in ehlo.lines
        assert client.command("AUTH KERBEROS_V4").lines == [
            "504 5.5.4 Unrecognized authentication mechanism; use PLAIN, LOGIN or CRAM-MD5"]
        assert client.command("AUTH PLAIN AAA=A").lines == [
            "501 5.5.2 Invalid base64 in the AUTH response"]
        assert client.command("AUTH LOGIN").lines == ["334 VXNlcm5hbWU6"]
        assert client.command("*").lines == ["501 5.0.0 Authentication cancelled"]
        assert client.command("MAIL FROM:<a@example.com>").code == 250
        assert client.command("AUTH PLAIN " + b64(b"\0u\0p")).lines == [
            "503 5.5.1 AUTH is not allowed during a mail transaction"]
        assert client.command("RSET").code == 250
        assert client.command("AUTH PLAIN").lines == ["334 "]
        assert client.command(b64(b"\0u\0p")).lines == ["235 2.7.0 Authentication successful"]
        assert client.command("AUTH PLAIN " + b64(b"\0u\0p")).lines == [
            "503 5.5.1 Already authenticated"]
        assert client.command("QUIT").code == 221


def test_raw_helo_gets_no_auth(smtpcatch):
    with RawSmtp(smtpcatch.port) as client:
        assert client.read_reply().code == 220
        assert client.command("HELO client.example").lines == ["250 localhost"]
        assert client.command("AUTH PLAIN " + b64(b"\0u\0p")).code == 503


def test_raw_invalid_utf8_rejected(smtpcatch):
    """A Latin-1 password would make the JSON line invalid, so it gets 501."""
    with open_session(smtpcatch.port) as client:
        reply = client.command("AUTH PLAIN " + b64(b"\0user\0p\xe4ss"))
        assert reply.lines == ["501 5.5.2 Invalid AUTH response: the username or password "
                               "is not valid UTF-8 or contains a NUL byte"]
        assert client.command("AUTH LOGIN " + b64(b"us\xffer")).code == 501
        assert client.command("QUIT").code == 221


def test_raw_long_response_lines(smtpcatch):
    """RFC 4954 section 4: responses of 12288 octets are read; longer get 500 5.5.6."""
    password = b"p" * 9000
    with open_session(smtpcatch.port) as client:
        line = "AUTH PLAIN " + b64(b"\0user\0" + password)
        assert len(line) > 4096         # Longer than the default --max-command-length.
        assert client.command(line).code == 235
        assert client.command("QUIT").code == 221

    with open_session(smtpcatch.port) as client:
        assert client.command("AUTH LOGIN").code == 334
        assert client.command("A" * 12289).lines == [
            "500 5.5.6 Authentication exchange line is too long"]
        assert client.command("NOOP").code == 250


def test_raw_exchange_byte_by_byte(smtpcatch):
    """The exchange split into one-byte segments gives the same result."""
    with open_session(smtpcatch.port, nodelay=True) as client:
        client.send_bytewise(b"AUTH LOGIN\r\n")
        assert client.read_reply().lines == ["334 VXNlcm5hbWU6"]
        client.send_bytewise(b64(USER.encode()).encode() + b"\r\n")
        assert client.read_reply().lines == ["334 UGFzc3dvcmQ6"]
        client.send_bytewise(b64(PASSWORD.encode()).encode() + b"\r\n")
        assert client.read_reply().code == 235
        client.send_bytewise(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                             b"DATA\r\n" + MESSAGE + b".\r\nQUIT\r\n")
        assert [reply.code for reply in client.read_replies(5)] == [250, 250, 354, 250, 221]
    auth = smtpcatch.next_message()["auth"]

    assert auth == {"mechanism": "LOGIN", "username": USER, "password": PASSWORD}


# -------------------------------------------------------- logs and options

def test_verbose_log_hides_passwords(start_smtpcatch):
    server = start_smtpcatch("-v")

    with connect(server.port) as client:
        smtplib_auth(client, "PLAIN", USER, PASSWORD)
    with connect(server.port) as client:
        smtplib_auth(client, "LOGIN", USER, PASSWORD, initial_response_ok=False)
    assert server.stop() == 0
    log = server.stderr_text()

    assert "<<< AUTH PLAIN [initial response]" in log
    assert "<<< [AUTH response]" in log
    assert ">>> 235 2.7.0 Authentication successful" in log
    for secret in (PASSWORD, b64(PASSWORD.encode()), b64(f"\0{USER}\0{PASSWORD}".encode())):
        assert secret not in log
    assert "Unknown command" not in log


def test_invalid_auth_option_hides_value():
    result = run_smtpcatch("--auth", "no-colon-secret")

    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.count(b"\n") == 1
    assert b"invalid --auth value" in result.stderr
    assert b"no-colon-secret" not in result.stderr

    assert run_smtpcatch("--auth", ":password").returncode == 2


def test_help_describes_auth():
    result = run_smtpcatch("--help")

    assert result.returncode == 0
    assert b"--auth USER:PASSWORD" in result.stdout
    assert b"--require-auth" in result.stdout


def test_auth_option_not_utf8_rejected():
    # The session rejects AUTH responses that are not UTF-8, so such a pair
    # could never match, and the command line rejects it at once.
    result = subprocess.run([smtpcatch_binary().encode(), b"--auth", b"\xff:secret"],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=5)

    assert result.returncode == 2
    assert b"not valid UTF-8" in result.stderr
    assert b"secret" not in result.stderr
