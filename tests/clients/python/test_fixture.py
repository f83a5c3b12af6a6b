"""The fixture itself: start-up time, clean teardown, failures and output format."""

import json
import os
import pathlib
import re
import smtplib
import statistics
import subprocess
import threading
import time

import pytest

from client_helpers import child_pids
from conftest import running_smtpcatch

HERE = pathlib.Path(__file__).parent
RUNS = 200


def listening_inodes(port):
    """Return the inodes of the TCP sockets that listen on port, IPv4 and IPv6."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as table_file:
            next(table_file)  # The header line.
            for row in table_file:
                fields = row.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == "0A":  # 0A is TCP_LISTEN.
                    inodes.add(fields[9])
    return inodes


def socket_owners(inodes):
    """Return the ids of the processes that have an open file for one of the socket inodes."""
    targets = {f"socket:[{inode}]" for inode in inodes}
    owners = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                if os.readlink(f"/proc/{entry}/fd/{fd}") in targets:
                    owners.add(int(entry))
        except OSError:  # The process or the descriptor went away meanwhile.
            continue
    return owners


def assert_gone(pid, port):
    """Check that the stopped smtpcatch left no process and no listening socket."""
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert child_pids() == []
    inodes = listening_inodes(port)
    if inodes:
        # Under pytest-xdist, the kernel may since have given the same free
        # port to another worker's smtpcatch. Such a socket has a live owner,
        # and that owner is neither the stopped process nor a child of this one.
        owners = socket_owners(inodes)
        assert owners, f"port {port} has a listening socket that no process owns"
        assert pid not in owners
        assert not owners & set(child_pids())


def test_start_stop_200_times(tmp_path, monkeypatch, record_property):
    work_dir = tmp_path / "cwd"
    temp_dir = tmp_path / "tmp"
    work_dir.mkdir()
    temp_dir.mkdir()
    monkeypatch.chdir(work_dir)
    monkeypatch.setenv("TMPDIR", str(temp_dir))
    open_fds = len(os.listdir("/proc/self/fd"))
    threads = threading.active_count()

    start_to_ready = []
    for _ in range(RUNS):
        started = time.perf_counter()
        with running_smtpcatch() as server:
            start_to_ready.append(time.perf_counter() - started)
            pid, port = server.pid, server.port
        assert_gone(pid, port)

    median_ms = statistics.median(start_to_ready) * 1000
    slowest_ms = max(start_to_ready) * 1000
    record_property("median_start_to_ready_ms", f"{median_ms:.2f}")
    record_property("max_start_to_ready_ms", f"{slowest_ms:.2f}")
    print(f"start to ready over {RUNS} runs: median {median_ms:.2f} ms, max {slowest_ms:.2f} ms")
    assert list(work_dir.iterdir()) == [], "smtpcatch wrote files in its working directory"
    assert list(temp_dir.iterdir()) == [], "smtpcatch wrote files in TMPDIR"
    assert len(os.listdir("/proc/self/fd")) == open_fds, "the fixture leaked file descriptors"
    assert threading.active_count() == threads, "the fixture left a reader thread running"


def test_missing_binary_fails_at_once(monkeypatch):
    monkeypatch.setenv("SMTPCATCH_BIN", "/nonexistent/smtpcatch")

    with pytest.raises(FileNotFoundError, match="/nonexistent/smtpcatch"):
        with running_smtpcatch():
            pass


def test_start_failure_shows_exit_status():
    started = time.monotonic()

    with pytest.raises(pytest.fail.Exception, match=r"smtpcatch exited with status 2; lines before: \[\]"):
        with running_smtpcatch("--count", "abc"):
            pass

    assert time.monotonic() - started < 2, "a failed start must not wait for the timeout"


def test_teardown_checks_exit_status():
    # SIGTERM makes smtpcatch exit with 0; anything else, such as a
    # sanitizer report, fails the test in teardown.
    with pytest.raises(AssertionError, match="smtpcatch exited with status -9"):
        with running_smtpcatch() as server:
            os.kill(server.pid, 9)
            deadline = time.monotonic() + 5
            while os.waitid(os.P_PID, server.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
                assert time.monotonic() < deadline, "SIGKILL did not stop smtpcatch"
                time.sleep(0.01)


def test_lines_readable_after_exit():
    # The fixture also serves a test that reads lines after smtpcatch has
    # exited by itself: each line stays queued until it is read.
    with running_smtpcatch("--count", "2") as server:
        for number in (1, 2):
            with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test",
                              timeout=5) as client:
                client.sendmail("a@example.com", [f"{number}@example.com"], b"\r\n")
        os.waitid(os.P_PID, server.pid, os.WEXITED | os.WNOWAIT)
        assert server.next_message()["rcpt_to"] == ["1@example.com"]
        assert server.next_message()["rcpt_to"] == ["2@example.com"]
        with pytest.raises(pytest.fail.Exception, match="smtpcatch exited with status 0"):
            server.next_message()


def test_stdout_is_json_lines():
    binary = os.environ.get("SMTPCATCH_BIN", "smtpcatch")
    proc = subprocess.Popen([binary, "--count", "2", "--timeout", "10"],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        ready = json.loads(proc.stdout.readline())
        with smtplib.SMTP("127.0.0.1", ready["port"], local_hostname="client.test",
                          timeout=5) as client:
            client.sendmail("a@example.com", ["b@example.com"],
                            "Subject: separators\r\n\r\n\u2028\u2029\"\\\t\r\n".encode("utf-8"),
                            mail_options=["BODY=8BITMIME"])
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: latin-1\r\n\r\n\xe9\r\n",
                            mail_options=["BODY=8BITMIME"])
        rest = proc.stdout.read()
        status = proc.wait(timeout=5)
    finally:
        proc.kill()  # Does nothing once it has exited.
        proc.wait()
        proc.stdout.close()

    assert status == 0
    assert rest.endswith(b"\n")
    lines = rest.split(b"\n")[:-1]
    assert len(lines) == 2
    messages = [json.loads(line) for line in lines]
    assert ready["event"] == "ready"
    assert ready["pid"] == proc.pid
    assert [message["event"] for message in messages] == ["message", "message"]
    # U+2028 and U+2029 are escaped, so each line is also valid JavaScript.
    assert "\u2028".encode("utf-8") not in lines[0]
    assert "\u2029".encode("utf-8") not in lines[0]
    assert messages[0]["data"] == "Subject: separators\r\n\r\n\u2028\u2029\"\\\t\r\n"
    # Bytes that are not UTF-8 come as data_base64, never as a lossy data.
    assert "data" not in messages[1]
    assert messages[1]["data_base64"] == "U3ViamVjdDogbGF0aW4tMQ0KDQrpDQo="


def test_readme_snippet_is_verbatim():
    snippet_page = (HERE / "README-snippet.md").read_text()
    conftest = (HERE / "conftest.py").read_text()
    blocks = re.findall(r"```python\n(.*?)```", snippet_page, re.DOTALL)
    assert blocks, "README-snippet.md has no python code block"
    fixture_code = blocks[0]

    imports = [line for line in fixture_code.splitlines()
               if line.startswith(("import ", "from "))]
    assert imports, "the snippet imports nothing"
    for line in imports:
        assert line in conftest.splitlines(), f"conftest.py lacks the snippet's import: {line}"
    body = fixture_code[fixture_code.index("@contextlib.contextmanager"):]
    assert body in conftest, "the snippet's fixture code differs from conftest.py"

    assert len(blocks) == 2, "README-snippet.md should have the fixture and one example test"
    example = (HERE / "test_readme_example.py").read_text()
    assert blocks[1] in example, "the snippet's example test differs from test_readme_example.py"


def test_ipv6_loopback_reaches_same_server(smtpcatch):
    with smtplib.SMTP("::1", smtpcatch.port, local_hostname="client.test", timeout=5) as client:
        client.sendmail("a@example.com", ["v6@example.com"], b"\r\n")

    message = smtpcatch.next_message()

    assert message["client"]["address"] == "::1"
    assert message["rcpt_to"] == ["v6@example.com"]
