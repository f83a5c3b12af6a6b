"""How smtpcatch stops, and how it behaves when nobody reads its stdout.

These tests start the binary without the draining reader of conftest.py,
because the point is what happens while stdout is not being read, as in a
fixture that reads only after its client's send call returns.
"""
import fcntl
import json
import os
import signal
import smtplib
import socket
import subprocess
import threading
import time

import pytest

from conftest import has_ipv6_loopback, smtpcatch_binary
from smtp_client import SmtpError, open_session, send_message

LARGE_BODY = ("x" * 998 + "\r\n") * 300       # About 300 KB, well over a pipe buffer.


def start(*args):
    proc = subprocess.Popen([smtpcatch_binary(), *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready = json.loads(proc.stdout.readline())
    return proc, ready["port"]


def finish(proc, timeout=5):
    try:
        status = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    return status, stderr


def test_send_then_read_large_message():
    # The README's fixture pattern: send first, read the line afterwards.
    proc, port = start("--timeout", "20")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com"], "Subject: big\r\n\r\n" + LARGE_BODY)

    message = json.loads(proc.stdout.readline())
    proc.send_signal(signal.SIGTERM)
    status, stderr = finish(proc)

    assert message["data"] == "Subject: big\r\n\r\n" + LARGE_BODY
    assert status == 0
    assert stderr == ""


def test_send_then_read_many_messages():
    # Many lines that together overflow the pipe must all arrive, in order.
    proc, port = start("--count", "200", "--timeout", "20")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        for number in range(200):
            client.sendmail("a@example.com", ["b@example.com"],
                            f"Subject: {number}\r\n\r\n" + "y" * 2000 + "\r\n")

    lines = proc.stdout.read().splitlines()
    status, _ = finish(proc)

    assert status == 0
    assert len(lines) == 200
    assert [json.loads(line)["id"] for line in lines] == list(range(1, 201))
    assert json.loads(lines[-1])["data"].startswith("Subject: 199\r\n")


def test_timeout_fires_while_stdout_unread():
    proc, port = start("--timeout", "1")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com"], "Subject: big\r\n\r\n" + LARGE_BODY)

    started = time.monotonic()
    proc.wait(timeout=5)
    elapsed = time.monotonic() - started
    in_pipe = proc.stdout.read()
    status, stderr = finish(proc)

    # After the ready line, which start() read, the pipe contains the start of
    # the message's line, which smtpcatch could not take back.
    assert status == 0
    assert elapsed < 3.5
    assert in_pipe.startswith(b'{"event":"message"')
    assert b"\n" not in in_pipe
    assert "bytes of output dropped" in stderr
    assert "the last line on stdout is cut off, without its newline" in stderr


def test_count_waits_for_reader():
    # After --count, the queued line is still delivered to a reader that
    # comes late, and only then does smtpcatch exit.
    proc, port = start("--count", "1", "--timeout", "20")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com"], "Subject: big\r\n\r\n" + LARGE_BODY)
    time.sleep(0.3)

    message = json.loads(proc.stdout.readline())
    status, _ = finish(proc)

    assert message["size"] == len("Subject: big\r\n\r\n" + LARGE_BODY)
    assert status == 0


def test_sigterm_with_idle_session_exits_promptly():
    proc, port = start()
    with open_session(port) as client:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        reply = client.read_reply()
        status, _ = finish(proc)
        elapsed = time.monotonic() - started

    assert reply.code == 421
    assert status == 0
    assert elapsed < 0.5


def test_sigterm_during_count_grace_exits_promptly():
    # After --count, open sessions get a second to finish, but SIGTERM
    # stops at once, then too.
    proc, port = start("--count", "1", "--timeout", "10")
    with open_session(port) as idle, open_session(port) as sender:
        reply = send_message(sender, "a@example.com", ["b@example.com"], b"one\r\n")
        proc.stdout.readline()
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        closing = idle.read_reply()
        status, _ = finish(proc)
        elapsed = time.monotonic() - started

    assert reply.code == 250
    assert closing.code == 421
    assert "4.3.2" in closing.lines[-1]
    assert status == 0
    assert elapsed < 0.5


def test_reader_gone_with_queued_output_warns():
    # Messages that got their 250 while their lines waited for the reader
    # are lost when the reader goes away, and a warning on stderr must
    # report the loss.
    proc, port = start("--timeout", "10")
    with open_session(port) as client:
        reply = send_message(client, "a@example.com", ["b@example.com"],
                             ("Subject: big\r\n\r\n" + LARGE_BODY).encode())
    proc.stdout.close()
    try:
        status = proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()

    assert reply.code == 250
    assert status == 0
    assert "the reader of stdout went away with" in stderr
    assert "those messages are lost" in stderr


def test_count_rejects_pipelined_mail():
    # Once the count is reached, a MAIL pipelined behind the last message
    # gets 421 4.3.2 instead of starting a transaction that cannot complete.
    proc, port = start("--count", "1", "--timeout", "10")
    with open_session(port) as client:
        client.command("MAIL FROM:<a@example.com>")
        client.command("RCPT TO:<b@example.com>")
        client.command("DATA")
        client.send(b"one\r\n.\r\nMAIL FROM:<a@example.com>\r\n")
        accepted = client.read_reply()
        rejected = client.read_reply()
    status, _ = finish(proc)

    assert accepted.code == 250
    assert rejected.code == 421
    assert "4.3.2" in rejected.lines[-1]
    assert status == 0


def test_closed_stdout_at_start_exits_1():
    result = subprocess.run([smtpcatch_binary(), "--timeout", "1"], stdin=subprocess.DEVNULL,
                            stdout=None, stderr=subprocess.PIPE, timeout=5,
                            pass_fds=(), close_fds=True,
                            preexec_fn=lambda: os.close(1))

    assert result.returncode == 1
    assert b"stdout is closed" in result.stderr


def test_closed_stdin_and_stderr_still_work():
    proc = subprocess.Popen([smtpcatch_binary(), "--count", "1", "--timeout", "10"],
                            stdout=subprocess.PIPE,
                            preexec_fn=lambda: (os.close(0), os.close(2)))
    port = json.loads(proc.stdout.readline())["port"]
    with open_session(port) as client:
        reply = send_message(client, "a@example.com", ["b@example.com"], b"hi\r\n")
        client.command("QUIT")
    message = json.loads(proc.stdout.readline())
    status = proc.wait(timeout=5)
    proc.stdout.close()

    assert reply.code == 250
    assert message["data"] == "hi\r\n"
    assert status == 0


def test_ipv6_and_ipv4_share_port():
    proc, port = start("--timeout", "5")
    families = []
    for host in ("127.0.0.1", "::1"):
        try:
            with open_session(port, host=host):
                families.append(host)
        except OSError:
            pass
    proc.send_signal(signal.SIGTERM)
    finish(proc)

    assert "127.0.0.1" in families
    if has_ipv6_loopback():
        assert "::1" in families


def test_idle_timeout_during_grace_says_shutting_down():
    # A session that idles out while the server stops after --count gets
    # the stop's 421 4.3.2, not the idle timeout's 421 4.4.2.
    proc, port = start("--count", "1", "--idle-timeout", "0.5", "--timeout", "10")
    with open_session(port) as idle, open_session(port) as sender:
        reply = send_message(sender, "a@example.com", ["b@example.com"], b"hi\r\n")
        closing = idle.read_reply()
    status, _ = finish(proc)

    assert reply.code == 250
    assert closing.code == 421
    assert "4.3.2" in closing.last
    assert status == 0


def test_finished_session_frees_connection_slot():
    # After QUIT the session no longer counts against --max-connections,
    # even while the client has not closed its socket yet.
    proc, port = start("--max-connections", "1", "--timeout", "10")
    with open_session(port) as first:
        first.command("QUIT")
        with open_session(port) as second:
            noop = second.command("NOOP")
    proc.send_signal(signal.SIGTERM)
    finish(proc)

    assert noop.code == 250


UNREAD_HELPS = 20000            # About 1.6 MB of replies, more than the kernel takes.


def test_unsent_last_replies_keep_connection_slot():
    # A session whose client stops reading still keeps a descriptor until
    # its last replies are out, so it keeps its place in --max-connections
    # and a new client gets a 421 rather than a descriptor that may not exist.
    proc, port = start("--max-connections", "1", "--timeout", "10")
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    stuck.connect(("127.0.0.1", port))
    stuck.sendall(b"HELP\r\n" * UNREAD_HELPS + b"QUIT\r\n")
    time.sleep(0.2)             # Time for the server to read the QUIT.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as second:
        second_reply = second.recv(4096)
    stuck.close()
    deadline = time.monotonic() + 5
    while True:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as third:
            third_reply = third.recv(4096)
        if third_reply.startswith(b"220 ") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    finish(proc)

    assert second_reply == b"421 4.7.0 Too many connections, try again later\r\n"
    assert third_reply.startswith(b"220 ")


SIGNAL_RACE_RUNS = 40


def test_sigterm_as_count_is_reached_exits_0():
    # A fixture that sends SIGTERM at teardown may do so while smtpcatch
    # closes its handles after --count. The stop must still give status 0,
    # never a death by the signal's default action. SIGTERM is sent every
    # 20 us from just before the last reply until the process exits.
    statuses = []
    for _ in range(SIGNAL_RACE_RUNS):
        proc, port = start("--count", "1", "--timeout", "10")
        stop = threading.Event()

        def send_sigterms(pid=proc.pid):
            while not stop.is_set():
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    return
                time.sleep(0.00002)

        sender = threading.Thread(target=send_sigterms, daemon=True)
        with open_session(port) as client:
            client.command("MAIL FROM:<a@example.com>")
            client.command("RCPT TO:<b@example.com>")
            client.command("DATA")
            client.send(b"Subject: race\r\n\r\nhi\r\n.\r\n")
            sender.start()
            try:
                client.read_reply()
            except (SmtpError, OSError):
                pass
        try:
            status, _ = finish(proc)
        finally:
            stop.set()
            sender.join(timeout=5)
        statuses.append(status)

    assert statuses == [0] * SIGNAL_RACE_RUNS


def is_nonblocking(fd):
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK)


def open_fifo(path):
    """Make a FIFO at path and return its read and write ends."""
    os.mkfifo(path)
    read_end = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    write_end = os.open(path, os.O_WRONLY)
    os.set_blocking(read_end, True)
    return read_end, write_end


# A FIFO opened by path takes the path for kernels without RWF_NOWAIT on pipes.
@pytest.mark.parametrize("kind", ["pipe", "socket", "fifo"])
def test_shared_stdout_and_stderr_stay_blocking(kind, tmp_path):
    # Other processes may share smtpcatch's stdout and stderr, as the other
    # commands of a shell pipeline or a CI job's log pipe do, and would get
    # EAGAIN if smtpcatch set O_NONBLOCK on them. Here this test keeps the
    # writing ends open too and checks their mode while smtpcatch writes.
    if kind == "pipe":
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
    elif kind == "fifo":
        out_read, out_write = open_fifo(tmp_path / "stdout")
        err_read, err_write = open_fifo(tmp_path / "stderr")
    else:
        out_read, out_write = socket.socketpair()
        err_read, err_write = socket.socketpair()
        out_read, out_write = out_read.detach(), out_write.detach()
        err_read, err_write = err_read.detach(), err_write.detach()
    proc = subprocess.Popen([smtpcatch_binary(), "-v", "--count", "1", "--timeout", "10"],
                            stdin=subprocess.DEVNULL, stdout=out_write, stderr=err_write)
    try:
        with os.fdopen(out_read, "rb", buffering=0) as out, \
             os.fdopen(err_read, "rb", buffering=0) as err:
            port = json.loads(out.readline())["port"]
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                client.sendmail("a@example.com", ["b@example.com"], "Subject: shared\r\n\r\nhi\r\n")
            stdout_during = is_nonblocking(out_write)
            stderr_during = is_nonblocking(err_write)
            message = json.loads(out.readline())
            status = proc.wait(timeout=10)
            log = err.read(65536).decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(out_write)
        os.close(err_write)

    assert not stdout_during
    assert not stderr_during
    assert message["data"] == "Subject: shared\r\n\r\nhi\r\n"
    assert status == 0
    assert "conn=1 <<< QUIT" in log


def test_verbose_with_stderr_unread_never_stalls():
    # A fixture that pipes stderr and reads it late: log lines that do not
    # fit are dropped and counted, and the server goes on.
    messages = 300
    proc, port = start("-v", "--count", str(messages + 1), "--timeout", "60")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        for number in range(messages):
            client.sendmail("a@example.com", ["b@example.com"], f"Subject: {number}\r\n\r\nhi\r\n")

    stderr_chunks = []
    reader = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()))
    reader.start()
    time.sleep(0.3)             # Time for the reader to empty the pipe.
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com"], "Subject: last\r\n\r\nhi\r\n")
    lines = proc.stdout.read().splitlines()
    status = proc.wait(timeout=10)
    reader.join(timeout=10)
    stderr = stderr_chunks[0].decode()

    assert status == 0
    assert len(lines) == messages + 1
    assert "log lines dropped because stderr was not read: " in stderr
    assert stderr.index("log lines dropped") < stderr.index("conn=2 connected address=")
