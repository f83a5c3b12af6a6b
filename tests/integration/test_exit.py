"""Exit status and output for each way smtpcatch ends."""

import json
import os
import re
import resource
import signal
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import (EXIT_TIMEOUT, has_ipv6_loopback, run_smtpcatch, sanitizer_lines,
                      smtpcatch_binary)
from smtp_client import SmtpError, open_session

CLIENT_TIMEOUT = 5.0

# After the last client quits, smtpcatch must be gone well within a second.
PROMPT_EXIT_SECONDS = 0.5

EXIT_USAGE = 2
EXIT_TIMED_OUT = 124

HELP_OPTIONS = ["-l", "--listen", "-p", "--port", "-n", "--count", "-t", "--timeout",
                "--port-file", "--max-size", "--idle-timeout", "-v", "--verbose",
                "-h", "--help", "--version"]


def message_bytes(subject):
    return f"Subject: {subject}\r\n\r\nbody of {subject}\r\n".encode("ascii")


def send(port, subject):
    with smtplib.SMTP("127.0.0.1", port, timeout=CLIENT_TIMEOUT) as client:
        return client.sendmail("sender@example.com", ["rcpt@example.com"], message_bytes(subject))


def test_count_exits_after_n_messages(start_smtpcatch):
    server = start_smtpcatch("--count", "3")

    for index in range(3):
        send(server.port, f"message {index}")
    messages = [server.next_message() for _ in range(3)]
    status = server.wait()
    rest = server.read_rest()

    assert [message["id"] for message in messages] == [1, 2, 3]
    assert [message["data"] for message in messages] == [
        message_bytes(f"message {index}").decode("ascii") for index in range(3)]
    assert status == 0
    assert rest == []
    assert server.partial_line() == b""


def test_count_several_recipients_one_message(start_smtpcatch):
    server = start_smtpcatch("--count", "2")

    with smtplib.SMTP("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT) as client:
        client.sendmail("sender@example.com", ["a@example.com", "b@example.com", "c@example.com"],
                        message_bytes("three recipients"))
        alive_after_first = server.proc.poll() is None
        client.sendmail("sender@example.com", ["d@example.com"], message_bytes("second"))
    status = server.wait()

    assert alive_after_first
    assert status == 0


def test_count_last_client_gets_250(start_smtpcatch):
    server = start_smtpcatch("--count", "1")

    with smtplib.SMTP("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT) as client:
        refused = client.sendmail("sender@example.com", ["rcpt@example.com"],
                                  message_bytes("last"))
        message = server.next_message()
    quit_time = time.monotonic()
    status = server.wait()
    exit_delay = time.monotonic() - quit_time

    assert refused == {}
    assert message["id"] == 1
    assert status == 0
    assert exit_delay < PROMPT_EXIT_SECONDS


def test_count_reached_in_pipelined_burst(start_smtpcatch):
    # Two messages in one send with --count 1: the first gets 250. The second
    # must get a transient (4xx) reply, so its client keeps it and retries,
    # and it must not produce a second line.
    server = start_smtpcatch("--count", "1")
    data = b"Subject: burst\r\n\r\nx\r\n"

    with open_session(server.port) as client:
        client.send((b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n" +
                     data + b".\r\n") * 2)
        first = client.read_replies(4)
        later = client.read_replies_until_closed()
    status = server.wait()
    rest = server.read_rest()

    assert [reply.code for reply in first] == [250, 250, 354, 250]
    assert later[-1].code // 100 == 4, later
    assert status == 0
    assert len(rest) == 1


def test_timeout_with_count_exits_124(start_smtpcatch):
    started = time.monotonic()
    server = start_smtpcatch("--timeout", "0.5", "--count", "1")

    status = server.wait()
    elapsed = time.monotonic() - started

    assert status == EXIT_TIMED_OUT
    assert elapsed >= 0.4
    assert server.read_rest() == []


def test_timeout_alone_exits_0(start_smtpcatch):
    server = start_smtpcatch("--timeout", "0.5")

    status = server.wait()

    assert status == 0
    assert server.read_rest() == []


def test_timeout_after_messages_exits_0(start_smtpcatch):
    server = start_smtpcatch("--timeout", "0.5")

    send(server.port, "before the timeout")
    message = server.next_message()
    status = server.wait()

    assert message["id"] == 1
    assert status == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_exits_0(start_smtpcatch, signum):
    server = start_smtpcatch()

    status = server.stop(signum)

    assert status == 0
    assert server.read_rest() == []
    assert server.stderr_text() == ""


def test_signal_with_open_session_exits_0(start_smtpcatch):
    server = start_smtpcatch()

    with open_session(server.port) as client:
        client.command("MAIL FROM:<a@example.com>")
        server.proc.send_signal(signal.SIGTERM)
        reply = client.read_reply()
    status = server.wait()

    assert reply.code == 421
    assert status == 0


@pytest.mark.parametrize("args", [
    ["--count", "0"],
    ["--count", "abc"],
    ["--count", "-1"],
    ["--count"],
    ["--port", "70000"],
    ["--port", "http"],
    ["--bogus"],
    ["positional"],
    ["--timeout", "-1"],
    ["--timeout", "0"],
    ["--timeout", "nan"],
    ["--max-size", "0"],
    ["--max-size", "10X"],
    ["--idle-timeout", "-1"],
    ["--timeout", "2e9"],
    ["--idle-timeout", "2e9"],
    ["--listen", "[::1"],
    ["--listen", "127.0.0.1:99999"],
    ["--port", "2525", "--listen", "127.0.0.1:2526"],
    ["--port-file", ""],
], ids=lambda args: " ".join(args) or "empty")
def test_invalid_option_exits_2(args):
    result = run_smtpcatch(*args)

    assert result.returncode == EXIT_USAGE
    assert result.stdout == b""
    assert result.stderr.count(b"\n") == 1, result.stderr
    assert result.stderr.endswith(b"\n"), result.stderr
    assert len(result.stderr.strip()) > 0


@pytest.mark.parametrize("option", ["--timeout", "--idle-timeout"])
def test_seconds_option_names_its_maximum(option):
    result = run_smtpcatch(option, "2e9")

    assert result.returncode == EXIT_USAGE
    assert b"at most 1000000000" in result.stderr


@pytest.mark.parametrize("option", ["--max-size", "--max-line-length"])
@pytest.mark.parametrize("value", ["9223372036854775808", "8589934592G"])
def test_size_option_names_its_maximum(option, value):
    result = run_smtpcatch(option, value)

    assert result.returncode == EXIT_USAGE
    assert b"from 1 to 2^63-1" in result.stderr


def test_size_option_maximum_accepted():
    result = run_smtpcatch("--max-size", "9223372036854775807", "--timeout", "0.1")

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_to_full_disk_exits_1(option):
    with open("/dev/full", "wb") as full:
        result = subprocess.run([smtpcatch_binary(), option], stdin=subprocess.DEVNULL,
                                stdout=full, stderr=subprocess.PIPE, timeout=EXIT_TIMEOUT)

    assert result.returncode == 1
    assert b"cannot write to stdout" in result.stderr


def test_sighup_stops_and_removes_port_file(start_smtpcatch, tmp_path):
    # A closed terminal sends SIGHUP. smtpcatch stops as for SIGTERM, so
    # the port file does not outlive it.
    port_file = tmp_path / "smtp.port"
    server = start_smtpcatch("--port-file", port_file)

    assert port_file.exists()
    status = server.stop(signal.SIGHUP)

    assert status == 0
    assert not port_file.exists()


def test_help_mentions_every_option():
    result = run_smtpcatch("--help")
    text = result.stdout.decode("utf-8")

    assert result.returncode == 0
    assert result.stderr == b""
    for option in HELP_OPTIONS:
        pattern = rf"(?<![\w-]){re.escape(option)}(?![\w-])"
        assert re.search(pattern, text), f"--help does not mention {option}"


def test_version_prints_version():
    result = run_smtpcatch("--version")

    assert result.returncode == 0
    assert re.fullmatch(rb"smtpcatch \d+\.\d+\.\d+\S*\n", result.stdout), result.stdout
    assert result.stderr == b""


def test_version_matches_ready_line(start_smtpcatch):
    server = start_smtpcatch()
    result = run_smtpcatch("--version")

    assert result.stdout.decode("ascii").split() == ["smtpcatch", server.ready["version"]]


def test_port_in_use_exits_1():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = run_smtpcatch("--port", port)
    stderr = result.stderr.decode("utf-8", "replace")

    assert result.returncode == 1
    assert result.stdout == b""
    assert str(port) in stderr
    assert "error" in stderr.lower()
    assert sanitizer_lines(stderr) == []


def test_port_in_use_on_ipv6_exits_1():
    if not has_ipv6_loopback():
        pytest.skip("this host has no IPv6 loopback address")

    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as blocker:
        blocker.bind(("::1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = run_smtpcatch("--port", port)
    stderr = result.stderr.decode("utf-8", "replace")

    assert result.returncode == 1
    assert result.stdout == b""
    assert str(port) in stderr
    assert sanitizer_lines(stderr) == []


def test_bracketed_ipv6_listen_gets_no_bracket_hint():
    # ::2 is no local address, so binding fails, but the brackets were there.
    result = run_smtpcatch("--listen", "[::2]:0")
    stderr = result.stderr.decode("utf-8", "replace")

    assert result.returncode == 1
    assert "cannot listen on ::2" in stderr
    assert "goes in brackets" not in stderr


def test_ipv6_listen_without_brackets_gets_a_hint():
    # "::1:2525" parses as one IPv6 address with no port. No such address
    # is local, so binding it fails and the error shows the bracket form.
    result = run_smtpcatch("--listen", "::1:2525")
    stderr = result.stderr.decode("utf-8", "replace")

    assert result.returncode == 1
    assert result.stdout == b""
    assert "cannot listen on ::1:2525" in stderr
    assert "such as --listen [::1]:2525" in stderr
    assert sanitizer_lines(stderr) == []


def test_closed_stdout_ends_quietly(start_smtpcatch):
    server = start_smtpcatch()

    server.close_stdout()
    try:
        send(server.port, "nobody reads this")
    except (smtplib.SMTPException, OSError):
        pass        # smtpcatch may be gone already, or may reject the message.
    status = server.wait()

    assert status == 0
    assert server.stderr_text() == ""


def test_closed_stdout_while_idle_ends(start_smtpcatch):
    # A reader that goes away while no message arrives, as in
    # port=$(smtpcatch | head -1 | jq .port), must end smtpcatch too, or it
    # would run until its timeout with no one to deliver to.
    server = start_smtpcatch("--timeout", 60)

    server.close_stdout()
    status = server.wait(timeout=PROMPT_EXIT_SECONDS * 4)

    assert status == 0
    assert server.stderr_text() == ""


def spawn_with_stdout(tmp_path, stdout, *args, preexec_fn=None):
    """Start smtpcatch writing to stdout, with its stderr in tmp_path/stderr."""
    with open(tmp_path / "stderr", "wb") as stderr_file:
        return subprocess.Popen([smtpcatch_binary(), *[str(arg) for arg in args]],
                                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr_file,
                                preexec_fn=preexec_fn)


def exit_status(proc, timeout):
    """Return proc's exit status, or "still running" when it outlives timeout."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return "still running"


def reap(proc):
    """Kill proc if it still runs, and wait for it."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=EXIT_TIMEOUT)


def test_closed_socket_stdout_while_idle_ends(tmp_path):
    # Node.js gives a child's stdout a Unix socket, not a pipe, so a parent
    # that dies closes a socket, and that must end smtpcatch as well.
    reader, writer = socket.socketpair()
    proc = spawn_with_stdout(tmp_path, writer, "--timeout", 60)
    writer.close()
    try:
        ready = reader.recv(4096)
        reader.close()
        status = exit_status(proc, PROMPT_EXIT_SECONDS * 4)
    finally:
        reap(proc)

    assert b'"event":"ready"' in ready
    assert status == 0
    assert (tmp_path / "stderr").read_text() == ""


def test_reset_tcp_stdout_ends_without_next_message(tmp_path):
    # A TCP reader that closes is seen only once a write draws its reset.
    # smtpcatch must then end at once, not wait for the next message.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        writer = socket.create_connection(listener.getsockname())
        reader, _ = listener.accept()
    proc = spawn_with_stdout(tmp_path, writer, "--timeout", 20)
    writer.close()
    try:
        reader.settimeout(EXIT_TIMEOUT)
        ready = json.loads(reader.recv(4096).split(b"\n")[0])
        reader.close()
        try:
            send(ready["port"], "into a closed reader")
        except (smtplib.SMTPException, OSError):
            pass        # Whether this message gets 250 or 421 depends on timing.
        status = exit_status(proc, PROMPT_EXIT_SECONDS * 4)
    finally:
        reap(proc)

    assert status == 0


def test_stdout_over_file_size_limit_exits_1(tmp_path):
    # A file over RLIMIT_FSIZE fails the write with EFBIG. The client gets
    # a 421 and smtpcatch exits 1, instead of dying of SIGXFSZ.
    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    port_file = tmp_path / "smtp.port"
    with open(tmp_path / "out.jsonl", "wb") as out:
        proc = spawn_with_stdout(tmp_path, out, "--timeout", 20, "--port-file", port_file,
                                 preexec_fn=limit_file_size)
    try:
        deadline = time.monotonic() + EXIT_TIMEOUT
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(smtplib.SMTPException) as raised:
            send(int(port_file.read_text()), "x" * 20000)
        status = proc.wait(timeout=EXIT_TIMEOUT)
    finally:
        reap(proc)
    stderr = (tmp_path / "stderr").read_text()

    assert "421" in str(raised.value)
    assert status == 1
    assert "File too large" in stderr
    assert not port_file.exists()


def test_open_files_limit_too_low_exits_1():
    def limit_open_files():
        resource.setrlimit(resource.RLIMIT_NOFILE, (20, 20))

    result = subprocess.run([smtpcatch_binary()], stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=EXIT_TIMEOUT, preexec_fn=limit_open_files)

    assert result.returncode == 1
    assert result.stdout == b""
    assert b"too low to serve one session" in result.stderr


def test_half_closed_socket_stdout_keeps_running(tmp_path):
    # A reader that only shuts down its own sending side still reads, so
    # smtpcatch must keep running and deliver to it.
    reader, writer = socket.socketpair()
    proc = spawn_with_stdout(tmp_path, writer, "--count", 1, "--timeout", 20)
    writer.close()
    try:
        reader.settimeout(EXIT_TIMEOUT)
        ready = json.loads(reader.recv(4096).split(b"\n")[0])
        reader.shutdown(socket.SHUT_WR)
        time.sleep(0.2)
        still_running = proc.poll() is None
        send(ready["port"], "after the shutdown")
        lines = b""
        while lines.count(b"\n") < 1:
            chunk = reader.recv(65536)
            if not chunk:
                break
            lines += chunk
        status = proc.wait(timeout=EXIT_TIMEOUT)
    finally:
        reader.close()
        reap(proc)

    assert still_running
    assert json.loads(lines.split(b"\n")[0])["event"] == "message"
    assert status == 0


def test_signal_right_after_ready_exits_0(start_smtpcatch):
    # A caller may stop smtpcatch as soon as it has read the ready line, so
    # the signal handlers must be in place by then. One try can miss a race.
    statuses = []
    for _ in range(20):
        server = start_smtpcatch()
        statuses.append(server.stop(signal.SIGTERM))

    assert statuses == [0] * 20


def test_closed_stdout_before_ready_ends_quietly(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)
    stderr_path = tmp_path / "stderr"
    with open(stderr_path, "wb") as stderr_file:
        proc = subprocess.Popen([smtpcatch_binary()], stdin=subprocess.DEVNULL,
                                stdout=write_end, stderr=stderr_file)
    os.close(write_end)
    try:
        status = proc.wait(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        status = f"still running after {EXIT_TIMEOUT} s"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=EXIT_TIMEOUT)

    assert status == 0
    assert stderr_path.read_text() == ""


def test_signal_while_stdout_blocked_exits_0(start_smtpcatch):
    # A reader that stops reading (a test that fails before it reads a large
    # message) must still be able to stop smtpcatch with SIGTERM. The line
    # of this message is larger than a pipe buffer (64 KiB on Linux), so
    # smtpcatch queues it and replies 250 without waiting for the reader.
    server = start_smtpcatch()
    server.stop_reading()
    data = b"Subject: large\r\n\r\n" + (b"y" * 998 + b"\r\n") * 200

    with open_session(server.port) as client:
        client.command("MAIL FROM:<a@example.com>")
        client.command("RCPT TO:<b@example.com>")
        client.command("DATA")
        client.send(data + b".\r\n")
        client.sock.settimeout(2.0)
        reply = client.read_reply()
        started = time.monotonic()
        status = server.stop(signal.SIGTERM, timeout=3.0)
        elapsed = time.monotonic() - started

    assert reply.code == 250
    assert status == 0
    assert elapsed < 2.5
