"""Fixtures that run the smtpcatch binary named by SMTPCATCH_BIN.

Each test starts its own smtpcatch process, reads its ready line from a pipe
and reads message lines with a timeout, so a hang fails the test instead of
blocking the suite. Teardown stops every process the test started and fails
the test when its stderr contains a sanitizer report.
"""

import json
import os
import select
import signal
import socket
import subprocess
import threading
import time

import pytest

READY_TIMEOUT = 5.0
LINE_TIMEOUT = 3.0
EXIT_TIMEOUT = 5.0
READER_POLL_INTERVAL = 0.05

# Backstop for a test that blocks somewhere without a timeout of its own.
TEST_TIME_LIMIT = 20.0

# Text that AddressSanitizer, LeakSanitizer and UBSan print in their reports.
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error")


def smtpcatch_binary():
    """Return the path in SMTPCATCH_BIN, or stop the run when it is unusable."""
    path = os.environ.get("SMTPCATCH_BIN")
    if not path:
        raise pytest.UsageError(
            "SMTPCATCH_BIN is not set: set it to the smtpcatch binary to test, "
            "for example SMTPCATCH_BIN=/tmp/it-build/smtpcatch")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise pytest.UsageError(
            f"SMTPCATCH_BIN={path!r} is not an executable file: build smtpcatch "
            "first or fix the path")
    return path


def pytest_configure(config):
    smtpcatch_binary()


def has_ipv6_loopback():
    """Return True when a socket can bind ::1 on this host."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def sanitizer_lines(stderr_text):
    """Return the stderr lines that belong to a sanitizer report."""
    return [line for line in stderr_text.splitlines()
            if any(marker in line for marker in SANITIZER_MARKERS)]


def run_smtpcatch(*args, timeout=EXIT_TIMEOUT):
    """Run smtpcatch to its end and return the CompletedProcess, output as bytes."""
    return subprocess.run([smtpcatch_binary(), *[str(arg) for arg in args]],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


class Smtpcatch:
    """A running smtpcatch process with its stdout read line by line.

    A thread drains stdout into a buffer from the start, so tests can wait
    for a line with a timeout. stderr goes to a file, so a full stderr pipe
    cannot stall the process.
    """

    def __init__(self, args, stderr_path):
        self.args = [smtpcatch_binary(), *args]
        self.stderr_path = stderr_path
        self.lines = []             # Every complete stdout line read, as bytes.
        self.ready = None
        self.port = None
        self._cond = threading.Condition()
        self._buffer = bytearray()  # Stdout bytes not yet returned as lines.
        self._eof = False
        self._stop_reader = False
        with open(stderr_path, "wb") as stderr_file:
            self.proc = subprocess.Popen(
                self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=stderr_file)
        self._reader = threading.Thread(target=self._drain_stdout, daemon=True,
                                        name=f"smtpcatch-{self.proc.pid}-stdout")
        self._reader.start()

    @property
    def pid(self):
        return self.proc.pid

    def _drain_stdout(self):
        fd = self.proc.stdout.fileno()
        while not self._stop_reader:
            readable, _, _ = select.select([fd], [], [], READER_POLL_INTERVAL)
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            with self._cond:
                if chunk:
                    self._buffer += chunk
                else:
                    self._eof = True
                self._cond.notify_all()
            if not chunk:
                return

    def _describe(self):
        with self._cond:
            partial = bytes(self._buffer)
        return (f"command: {self.args}\n"
                f"exit status: {self.proc.poll()}\n"
                f"stdout lines read: {self.lines!r}\n"
                f"stdout bytes after them: {partial!r}\n"
                f"stderr: {self.stderr_text()!r}")

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Read the ready line and store it and its port."""
        ready = self.read_json(timeout)
        if ready.get("event") != "ready":
            pytest.fail(f"first stdout line is not a ready line: {ready!r}\n{self._describe()}")
        self.ready = ready
        self.port = ready["port"]
        return ready

    def read_line(self, timeout=LINE_TIMEOUT):
        """Return the next stdout line without its newline, as bytes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                end = self._buffer.find(b"\n")
                if end >= 0:
                    break
                if self._eof:
                    pytest.fail(f"stdout ended before a complete line\n{self._describe()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"no stdout line within {timeout} s\n{self._describe()}")
                self._cond.wait(remaining)
            line = bytes(self._buffer[:end])
            del self._buffer[:end + 1]
        self.lines.append(line)
        return line

    def read_json(self, timeout=LINE_TIMEOUT):
        """Return the next stdout line parsed as JSON."""
        line = self.read_line(timeout)
        try:
            return json.loads(line)
        except ValueError as exc:
            pytest.fail(f"stdout line is not JSON ({exc}): {line!r}\n{self._describe()}")

    def next_message(self, timeout=LINE_TIMEOUT):
        """Return the next stdout line, which must be a message line."""
        obj = self.read_json(timeout)
        if obj.get("event") != "message":
            pytest.fail(f"expected a message line, got {obj!r}\n{self._describe()}")
        return obj

    def read_rest(self, timeout=LINE_TIMEOUT):
        """Wait for the end of stdout and return the complete lines not read yet.

        Bytes after the last newline stay in partial_line().
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._eof:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"stdout did not end within {timeout} s\n{self._describe()}")
                self._cond.wait(remaining)
            *rest, partial = bytes(self._buffer).split(b"\n")
            self._buffer = bytearray(partial)
        self.lines.extend(rest)
        return rest

    def partial_line(self):
        with self._cond:
            return bytes(self._buffer)

    def wait(self, timeout=EXIT_TIMEOUT):
        """Wait for the process to exit and return its exit status."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"smtpcatch did not exit within {timeout} s\n{self._describe()}")

    def stop(self, signum=signal.SIGTERM, timeout=EXIT_TIMEOUT):
        """Send signum to the process and return its exit status."""
        self.proc.send_signal(signum)
        return self.wait(timeout)

    def stop_reading(self):
        """Stop draining stdout but keep the pipe open, as a stalled reader does."""
        self._stop_reader = True
        self._reader.join(EXIT_TIMEOUT)

    def close_stdout(self):
        """Close the read end of the stdout pipe, as a reader that went away does."""
        self.stop_reading()
        self.proc.stdout.close()

    def stderr_text(self):
        with open(self.stderr_path, "rb") as stderr_file:
            return stderr_file.read().decode("utf-8", "replace")

    def shut_down(self):
        """Stop the process if it still runs. Returns a problem text or None."""
        problem = None
        if self._stop_reader and not self.proc.stdout.closed:
            # Nothing drains stdout any more: closing it makes a write that
            # blocks on the full pipe fail with EPIPE, so the process can exit.
            self.proc.stdout.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=EXIT_TIMEOUT)
                problem = f"smtpcatch pid {self.pid} ignored SIGTERM for {EXIT_TIMEOUT} s"
        if not self.proc.stdout.closed:
            self.close_stdout()
        return problem


@pytest.fixture(autouse=True)
def time_limit():
    """Fail a test, teardown included, that runs longer than TEST_TIME_LIMIT."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"test ran longer than {TEST_TIME_LIMIT} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIME_LIMIT)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def start_smtpcatch(tmp_path):
    """Return a function that starts smtpcatch with the given arguments.

    By default it waits for the ready line. Teardown stops every process
    started and checks each one's stderr for sanitizer reports.
    """
    started = []

    def start(*args, wait_ready=True):
        stderr_path = tmp_path / f"smtpcatch-{len(started)}.stderr"
        instance = Smtpcatch([str(arg) for arg in args], stderr_path)
        started.append(instance)
        if wait_ready:
            instance.wait_ready()
        return instance

    yield start

    problems = [instance.shut_down() for instance in started]
    for instance, problem in zip(started, problems):
        assert problem is None, problem
        report = sanitizer_lines(instance.stderr_text())
        assert report == [], (f"sanitizer report from {instance.args}:\n"
                              f"{instance.stderr_text()}")


@pytest.fixture
def smtpcatch(start_smtpcatch):
    """A running smtpcatch with default options, its ready line already read."""
    return start_smtpcatch()
