"""TLS with real clients: STARTTLS and implicit TLS (--tls), on 127.0.0.1 only.

Every client trusts exactly the certificate that smtpcatch wrote with
--tls-cert-out and checks it for the address it connects to. Each client connects only to the smtpcatch process that
its test started.
"""

import hashlib
import os
import select
import shutil
import smtplib
import socket
import ssl
import statistics
import subprocess
import time

import pytest

from conftest import READY_TIMEOUT, run_smtpcatch, smtpcatch_binary

CLIENT_TIMEOUT = 5.0
TOOL_TIMEOUT = 15
QUIET_SECONDS = 0.3             # How long a test waits to be sure no reply comes.
STARTUP_RUNS = 10

USER = "alice@example.com"
PASSWORD = "s3cret:with colon"
MESSAGE = b"Subject: tls test\r\n\r\nHello over TLS\r\n"


def tool_environment():
    """Return the environment without proxy variables, so tools connect directly."""
    return {name: value for name, value in os.environ.items() if "proxy" not in name.lower()}


def client_context(cert_path):
    """Return a client context that trusts only the certificate at cert_path."""
    return ssl.create_default_context(cafile=str(cert_path))


def start_tls_server(start_smtpcatch, tmp_path, mode, *extra):
    """Start smtpcatch with --tls mode and --tls-cert-out; return it and the cert path."""
    cert_path = tmp_path / "smtpcatch-cert.pem"
    server = start_smtpcatch("--tls", mode, "--tls-cert-out", cert_path, *extra)
    return server, cert_path


def assert_tls_member(message):
    tls = message["tls"]
    assert tls is not None, message
    assert tls["version"] in ("TLSv1.2", "TLSv1.3")
    assert tls["cipher"]


def read_reply(sock_file):
    """Return the lines of one SMTP reply read from a file over a socket."""
    lines = []
    while True:
        line = sock_file.readline()
        assert line.endswith(b"\r\n"), f"incomplete reply line: {line!r}"
        lines.append(line[:-2].decode("utf-8"))
        if line[3:4] != b"-":
            return lines


def recv_until(sock, ending):
    """Read from sock until the bytes received end with ending, and return them.

    Reading stops exactly there, so no byte after them is taken from the socket
    as long as the server sends nothing more in the same segment.
    """
    received = b""
    while not received.endswith(ending):
        chunk = sock.recv(4096)
        assert chunk, f"connection closed; received {received!r}"
        received += chunk
    return received


def wait_readable(sock, seconds):
    """Return True when sock has bytes (or end of file) within seconds."""
    readable, _, _ = select.select([sock], [], [], seconds)
    return bool(readable)


# ---------------------------------------------------------------- ready line

def test_ready_line_tls_null_by_default(smtpcatch):
    assert smtpcatch.ready["tls"] is None


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_ready_line_tls_fingerprint(start_smtpcatch, tmp_path, mode):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, mode)

    der = ssl.PEM_cert_to_DER_cert(cert_path.read_text())

    assert server.ready["tls"] == {"mode": mode, "sha256": hashlib.sha256(der).hexdigest()}
    assert not any(name.name.startswith("smtpcatch-cert.pem.tmp") for name in tmp_path.iterdir())


# ------------------------------------------------------------------ smtplib

def test_smtplib_starttls_login(start_smtpcatch, tmp_path):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "starttls",
                                         "--auth", f"{USER}:{PASSWORD}")

    with smtplib.SMTP("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT) as client:
        client.ehlo("plain.example")
        assert client.has_extn("starttls")
        assert client.starttls(context=client_context(cert_path))[0] == 220
        client.ehlo("secure.example")
        assert not client.has_extn("starttls")
        client.login(USER, PASSWORD)
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)

    message = server.next_message()
    assert_tls_member(message)
    assert message["helo"] == "secure.example"
    assert message["auth"]["username"] == USER
    assert message["data"] == MESSAGE.decode("ascii")


def test_smtplib_implicit_tls(start_smtpcatch, tmp_path):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "implicit")

    with smtplib.SMTP_SSL("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT,
                          context=client_context(cert_path)) as client:
        client.ehlo("secure.example")
        assert not client.has_extn("starttls")
        client.login(USER, PASSWORD)
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)

    message = server.next_message()
    assert_tls_member(message)
    # smtplib's login() prefers CRAM-MD5, which sends a digest, not the password.
    assert message["auth"]["mechanism"] == "CRAM-MD5"
    assert message["auth"]["username"] == USER


def test_plaintext_message_has_tls_null(start_smtpcatch, tmp_path):
    server, _ = start_tls_server(start_smtpcatch, tmp_path, "starttls")

    with smtplib.SMTP("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT) as client:
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)

    assert server.next_message()["tls"] is None


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_wrong_password_over_tls(start_smtpcatch, tmp_path, mode):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, mode,
                                         "--auth", f"{USER}:{PASSWORD}")
    context = client_context(cert_path)

    if mode == "implicit":
        client = smtplib.SMTP_SSL("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT,
                                  context=context)
    else:
        client = smtplib.SMTP("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT)
        client.starttls(context=context)
    with client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as failure:
            client.login(USER, "wrong")

    assert failure.value.smtp_code == 535


def test_require_tls(start_smtpcatch, tmp_path):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "starttls", "--require-tls")

    with smtplib.SMTP("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT) as client:
        client.ehlo("plain.example")
        assert client.mail("a@example.com") == (
            530, b"5.7.0 Must issue a STARTTLS command first")
        client.starttls(context=client_context(cert_path))
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)

    assert_tls_member(server.next_message())


def test_auth_tls_only(start_smtpcatch, tmp_path):
    # AUTH is hidden and refused with 538 until STARTTLS, then offered.
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "starttls",
                                         "--auth-tls-only")

    with smtplib.SMTP("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT) as client:
        client.ehlo("plain.example")
        offered_in_plaintext = client.has_extn("auth")
        refused = client.docmd("AUTH", "PLAIN AHVzZXIAcGFzcw==")
        client.starttls(context=client_context(cert_path))
        client.ehlo("tls.example")
        offered_over_tls = client.has_extn("auth")
        client.login(USER, PASSWORD)
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    message = server.next_message()

    assert not offered_in_plaintext
    assert refused[0] == 538
    assert refused[1].startswith(b"5.7.11 ")
    assert offered_over_tls
    assert message["auth"]["username"] == USER
    assert_tls_member(message)


# --------------------------------------------------------------------- curl

def run_curl(url, cert_path, tmp_path, password=PASSWORD):
    curl = shutil.which("curl")
    assert curl is not None, "curl is not installed"
    path = tmp_path / "message.eml"
    path.write_bytes(MESSAGE)
    return subprocess.run(
        [curl, "--silent", "--show-error", "--noproxy", "*", "--max-time", "5",
         "--ssl-reqd", "--cacert", str(cert_path), "--user", f"{USER}:{password}",
         "--login-options", "AUTH=PLAIN",
         url, "--mail-from", "a@example.com", "--mail-rcpt", "b@example.com",
         "--upload-file", str(path)],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=TOOL_TIMEOUT,
        env=tool_environment())


@pytest.mark.parametrize("mode, scheme", [("starttls", "smtp"), ("implicit", "smtps")])
def test_curl_tls(start_smtpcatch, tmp_path, mode, scheme):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, mode)

    result = run_curl(f"{scheme}://127.0.0.1:{server.port}/client.example", cert_path, tmp_path)

    assert result.returncode == 0, result.stderr.decode(errors="replace")
    message = server.next_message()
    assert_tls_member(message)
    assert message["auth"]["username"] == USER
    assert message["auth"]["password"] == PASSWORD
    assert message["data"] == MESSAGE.decode("ascii")


def test_curl_wrong_password_over_tls(start_smtpcatch, tmp_path):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "starttls",
                                         "--auth", f"{USER}:{PASSWORD}")

    result = run_curl(f"smtp://127.0.0.1:{server.port}/client.example", cert_path, tmp_path,
                      password="wrong")

    # curl exits with 67 when the server rejects the login.
    assert result.returncode == 67, result.stderr.decode(errors="replace")


# -------------------------------------------------------------------- swaks

@pytest.mark.parametrize("mode, flag", [("starttls", "-tls"), ("implicit", "-tlsc")])
def test_swaks_tls(start_smtpcatch, tmp_path, mode, flag):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, mode)
    swaks = shutil.which("swaks")
    assert swaks is not None, "swaks is not installed"

    result = subprocess.run(
        [swaks, "--server", "127.0.0.1", "--port", str(server.port), "--helo", "client.example",
         "--from", "a@example.com", "--to", "b@example.com", "--timeout", "5", flag,
         "--tls-verify", "--tls-ca-path", str(cert_path),
         "-a", "PLAIN", "--auth-user", USER, "--auth-password", PASSWORD],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=TOOL_TIMEOUT,
        env=tool_environment())

    assert result.returncode == 0, result.stdout.decode(errors="replace")
    message = server.next_message()
    assert_tls_member(message)
    assert message["auth"]["username"] == USER


# ---------------------------------------------------------------- raw bytes

def test_starttls_pipelined_command_not_executed(start_smtpcatch, tmp_path):
    """A command pipelined after STARTTLS, in plaintext, must be dropped.

    Otherwise a man in the middle could inject commands that the server
    would then run as if they came over TLS (CVE-2011-0411).
    """
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "starttls")

    with socket.create_connection(("127.0.0.1", server.port), timeout=CLIENT_TIMEOUT) as sock:
        assert recv_until(sock, b"ESMTP smtpcatch\r\n").startswith(b"220 ")
        sock.sendall(b"EHLO client.example\r\n")
        assert recv_until(sock, b"250 HELP\r\n").startswith(b"250-")
        sock.sendall(b"STARTTLS\r\nRSET\r\n")
        assert recv_until(sock, b"\r\n") == b"220 2.0.0 Ready to start TLS\r\n"
        assert not wait_readable(sock, QUIET_SECONDS), "a reply came before the handshake"

        with client_context(cert_path).wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            assert not wait_readable(tls, QUIET_SECONDS), "a reply came after the handshake"
            assert tls.pending() == 0
            tls.sendall(b"NOOP\r\n")
            secure = tls.makefile("rb")
            assert read_reply(secure) == ["250 2.0.0 OK"]

    assert "discarded 6 bytes that the client sent after STARTTLS" in server.stderr_text()


# A TLS record header (handshake, TLS 1.0) around a ClientHello cut short.
BROKEN_CLIENT_HELLO = b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"


@pytest.mark.parametrize("garbage, reply, logged", [
    # OpenSSL 3.0 sends no alert for bytes that are no TLS record at all.
    (b"EHLO plaintext.example\r\n", b"", "EHLO plaintext"),
    # For a broken ClientHello it sends an alert record (content type 21).
    (BROKEN_CLIENT_HELLO, b"\x15", "handshake failed"),
], ids=["plaintext", "broken-client-hello"])
def test_garbage_instead_of_client_hello(start_smtpcatch, tmp_path, garbage, reply, logged):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "implicit")
    context = client_context(cert_path)

    with smtplib.SMTP_SSL("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT,
                          context=context) as good:
        good.ehlo("good.example")
        with socket.create_connection(("127.0.0.1", server.port),
                                      timeout=CLIENT_TIMEOUT) as bad:
            bad.sendall(garbage)
            received = b""
            while True:
                chunk = bad.recv(4096)
                if not chunk:
                    break
                received += chunk
        good.sendmail("a@example.com", ["b@example.com"], MESSAGE)

    assert received[:1] == reply, received
    assert server.next_message()["helo"] == "good.example"
    log = server.stderr_text()
    assert "tls error address=127.0.0.1: handshake failed" in log
    assert logged in log


def test_client_close_notify_is_eof(start_smtpcatch, tmp_path):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "implicit")

    with socket.create_connection(("127.0.0.1", server.port), timeout=CLIENT_TIMEOUT) as sock:
        tls = client_context(cert_path).wrap_socket(sock, server_hostname="127.0.0.1")
        secure = tls.makefile("rb")
        assert read_reply(secure)[0].startswith("220 ")
        secure.close()
        # unwrap() sends close_notify and returns once the server's arrives.
        plain = tls.unwrap()
        assert plain.recv(4096) == b""


def test_stop_sends_421_and_close_notify(start_smtpcatch, tmp_path):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "implicit")

    with socket.create_connection(("127.0.0.1", server.port), timeout=CLIENT_TIMEOUT) as sock:
        tls = client_context(cert_path).wrap_socket(sock, server_hostname="127.0.0.1")
        secure = tls.makefile("rb")
        assert read_reply(secure)[0].startswith("220 ")
        assert server.stop() == 0
        assert read_reply(secure) == ["421 4.3.2 Service shutting down, closing connection"]
        # A clean end of the TLS stream: close_notify, not a bare TCP close.
        assert secure.read() == b""


def test_idle_timeout_during_handshake(start_smtpcatch, tmp_path):
    server, _ = start_tls_server(start_smtpcatch, tmp_path, "implicit", "--idle-timeout", "0.2")

    with socket.create_connection(("127.0.0.1", server.port), timeout=CLIENT_TIMEOUT) as sock:
        sock.sendall(BROKEN_CLIENT_HELLO[:5])
        started = time.monotonic()
        # No 421: a client that has not finished its handshake could not read it.
        assert sock.recv(4096) == b""
        assert time.monotonic() - started < CLIENT_TIMEOUT


PLAINTEXT_ON_TLS_PORT = ("4.7.0 This port expects TLS from the first byte (implicit TLS): "
                         "connect with TLS, closing connection")


def test_plaintext_client_on_implicit_tls_port(start_smtpcatch, tmp_path):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "implicit",
                                         "--idle-timeout", "0.5")

    started = time.monotonic()
    with pytest.raises(smtplib.SMTPConnectError) as error:
        smtplib.SMTP("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT)
    waited = time.monotonic() - started
    with smtplib.SMTP_SSL("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT,
                          context=client_context(cert_path)) as good:
        good.sendmail("a@example.com", ["b@example.com"], MESSAGE)

    assert error.value.smtp_code == 421
    assert error.value.smtp_error.decode() == PLAINTEXT_ON_TLS_PORT
    assert 0.4 < waited < CLIENT_TIMEOUT
    assert server.next_message()["data"] == MESSAGE.decode()
    log = server.stderr_text()
    assert "conn=1 address=127.0.0.1 sent no TLS ClientHello within 0.5 s" in log
    assert "run smtpcatch with --tls starttls (such clients so far: 1)" in log


@pytest.mark.parametrize("idle", [[], ["--idle-timeout", "0"]], ids=["default", "no-idle"])
def test_plaintext_client_waits_five_seconds(start_smtpcatch, tmp_path, idle):
    # Also check that a TLS session that connected at the same time is not
    # cut by the ClientHello wait, with or without an idle timeout.
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "implicit", *idle)

    with smtplib.SMTP_SSL("127.0.0.1", server.port, timeout=10,
                          context=client_context(cert_path)) as good, \
         socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        reply = recv_until(sock, b"\r\n")
        waited = time.monotonic() - started
        assert sock.recv(4096) == b""
        time.sleep(0.2)
        noop = good.noop()

    assert reply == b"421 " + PLAINTEXT_ON_TLS_PORT.encode() + b"\r\n"
    assert 4.8 < waited < 10
    assert noop[0] == 250
    assert "sent no TLS ClientHello within 5 s" in server.stderr_text()


def test_slow_client_hello_still_gets_tls(start_smtpcatch, tmp_path):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "implicit")

    with socket.create_connection(("127.0.0.1", server.port), timeout=CLIENT_TIMEOUT) as sock:
        assert not wait_readable(sock, 1.0)
        tls = client_context(cert_path).wrap_socket(sock, server_hostname="127.0.0.1")
        greeting = read_reply(tls.makefile("rb"))

    assert greeting[0].startswith("220 ")
    assert "ClientHello" not in server.stderr_text()


def implicit_tls_session(port, cert_path):
    """Connect over implicit TLS; return the TLS socket and its first reply."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
    tls = client_context(cert_path).wrap_socket(sock, server_hostname="127.0.0.1")
    return tls, read_reply(tls.makefile("rb"))


def test_max_connections_implicit_tls_gets_421(start_smtpcatch, tmp_path):
    # The client over the limit can read a reply only after its handshake,
    # so it gets the handshake, then the 421 and close_notify.
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "implicit",
                                         "--max-connections", "1")
    first, first_greeting = implicit_tls_session(server.port, cert_path)
    with first:
        second, second_reply = implicit_tls_session(server.port, cert_path)
        with second:
            second_rest = second.recv(4096)
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP_SSL("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT,
                             context=client_context(cert_path))

    assert first_greeting[0].startswith("220 ")
    assert second_reply == ["421 4.7.0 Too many connections, try again later"]
    assert second_rest == b""
    assert refused.value.smtp_code == 421


def test_max_connections_implicit_tls_stalled_handshake(start_smtpcatch, tmp_path):
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "implicit",
                                         "--max-connections", "1", "--idle-timeout", "0.2")

    first, first_greeting = implicit_tls_session(server.port, cert_path)
    with first:
        with socket.create_connection(("127.0.0.1", server.port),
                                      timeout=CLIENT_TIMEOUT) as stalled:
            stalled.sendall(BROKEN_CLIENT_HELLO[:5])
            started = time.monotonic()
            closed = stalled.recv(4096)
            waited = time.monotonic() - started
        # A client that sends nothing is taken for a plaintext one.
        with socket.create_connection(("127.0.0.1", server.port),
                                      timeout=CLIENT_TIMEOUT) as silent:
            silent_reply = recv_until(silent, b"\r\n")

    assert first_greeting[0].startswith("220 ")
    assert closed == b""
    assert waited < CLIENT_TIMEOUT
    assert silent_reply == b"421 " + PLAINTEXT_ON_TLS_PORT.encode() + b"\r\n"


def test_max_connections_implicit_tls_handshakes_capped(start_smtpcatch, tmp_path):
    # At most 8 handshakes of clients over the limit run at once. Past
    # them a client is closed at once, so they cannot pile up descriptors.
    server, cert_path = start_tls_server(start_smtpcatch, tmp_path, "implicit",
                                         "--max-connections", "1", "--idle-timeout", "30")

    first, first_greeting = implicit_tls_session(server.port, cert_path)
    with first:
        stalled = [socket.create_connection(("127.0.0.1", server.port), timeout=CLIENT_TIMEOUT)
                   for _ in range(8)]
        try:
            with socket.create_connection(("127.0.0.1", server.port),
                                          timeout=CLIENT_TIMEOUT) as ninth:
                ninth_closed = ninth.recv(4096)
            stalled_closed = [wait_readable(sock, QUIET_SECONDS) for sock in stalled]
        finally:
            for sock in stalled:
                sock.close()

    assert first_greeting[0].startswith("220 ")
    assert ninth_closed == b""
    assert not any(stalled_closed)


# ------------------------------------------------------------ command line

@pytest.mark.parametrize("args, error", [
    (["--tls", "tls1.3"], "invalid --tls value 'tls1.3': expected starttls or implicit"),
    (["--tls-cert", "cert.pem"], "--tls-cert needs --tls starttls or --tls implicit"),
    (["--tls-cert-out", "out.pem"], "--tls-cert-out needs --tls starttls or --tls implicit"),
    (["--require-tls"], "--require-tls needs --tls starttls"),
    (["--auth-tls-only"], "--auth-tls-only needs --tls starttls"),
    (["--tls", "starttls", "--tls-key", "key.pem"], "--tls-key needs --tls-cert"),
    (["--tls", "implicit", "--require-tls"], "--require-tls needs --tls starttls: with --tls "
     "implicit every session is over TLS already"),
    (["--tls", "implicit", "--auth-tls-only"], "--auth-tls-only needs --tls starttls: with "
     "--tls implicit every session is over TLS already"),
    (["--tls", "starttls", "--tls-cert", ""], "invalid --tls-cert value ''"),
])
def test_invalid_tls_options(args, error):
    result = run_smtpcatch(*args)

    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert error in lines[0]


def test_help_lists_tls_options():
    result = run_smtpcatch("--help")
    text = result.stdout.decode("utf-8")

    assert result.returncode == 0
    for option in ["--tls", "--tls-cert", "--tls-key", "--tls-cert-out", "--require-tls"]:
        assert f"  {option} " in text, f"--help does not mention {option}"
    assert '"tls":...' in text


def test_missing_certificate_file(tmp_path):
    missing = tmp_path / "missing.pem"

    result = run_smtpcatch("--tls", "starttls", "--tls-cert", missing)

    assert result.returncode == 1
    assert result.stdout == b""
    assert f"cannot open TLS certificate file {missing}" in result.stderr.decode()


def test_certificate_and_key_files(start_smtpcatch, tmp_path):
    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl is not installed"
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key_path), "-out", str(cert_path), "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=TOOL_TIMEOUT)

    server = start_smtpcatch("--tls", "implicit", "--tls-cert", cert_path, "--tls-key", key_path)

    with smtplib.SMTP_SSL("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT,
                          context=client_context(cert_path)) as client:
        client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    assert_tls_member(server.next_message())
    der = ssl.PEM_cert_to_DER_cert(cert_path.read_text())
    assert server.ready["tls"]["sha256"] == hashlib.sha256(der).hexdigest()


# ----------------------------------------------------------------- start-up

def time_to_ready(args):
    """Return the seconds from spawning smtpcatch to reading its ready line."""
    started = time.monotonic()
    proc = subprocess.Popen([smtpcatch_binary(), *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        readable, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT)
        assert readable, f"no ready line within {READY_TIMEOUT} s"
        line = proc.stdout.readline()
        elapsed = time.monotonic() - started
        assert b'"event":"ready"' in line
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stdout.close()
    return elapsed


def test_startup_time_with_generated_certificate(record_property):
    plain = statistics.median(time_to_ready([]) for _ in range(STARTUP_RUNS))
    tls = statistics.median(time_to_ready(["--tls", "starttls"]) for _ in range(STARTUP_RUNS))

    record_property("startup_ms_without_tls", round(plain * 1000, 2))
    record_property("startup_ms_with_generated_certificate", round(tls * 1000, 2))
    print(f"\nstart-up, spawn to ready line, median of {STARTUP_RUNS}: "
          f"{plain * 1000:.1f} ms without TLS, {tls * 1000:.1f} ms with --tls starttls "
          f"and a generated certificate")
    assert tls < READY_TIMEOUT
