"""Shared parts of the scripts/bench helpers: the servers under test, how
to start and stop them, process statistics from /proc, a minimal SMTP
client and the results file.

scripts/bench sets these environment variables before it runs a helper:
  BENCH_SMTPCATCH     the Release smtpcatch binary
  BENCH_POSTFIX       the folder the postfix package was extracted into
  BENCH_NODE_MODULES  the node_modules folder that contains smtp-server
  BENCH_TMP           a scratch folder for server logs and dump files
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


# scripts/bench ends a helper with SIGTERM; exiting through SystemExit runs
# the finally blocks that stop the servers the helper started.
signal.signal(signal.SIGTERM, _exit_on_sigterm)

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
BACKLOG = 1024      # smtpcatch's listen backlog, given to every peer too
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def env_path(name):
    """Return the path in environment variable name, or raise when unset."""
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"bench: environment variable {name} is not set; run scripts/bench")
    return value


def postfix_env():
    """Return the environment for smtp-sink and smtp-source, which need the
    libpostfix-*.so libraries shipped in the same package."""
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.path.join(env_path("BENCH_POSTFIX"), "usr/lib/postfix")
    return env


def postfix_program(name):
    return os.path.join(env_path("BENCH_POSTFIX"), "usr/sbin", name)


def smtp_sink_command(port, extra=()):
    # smtp-sink exits at once when started as root without -u.
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    return ([postfix_program("smtp-sink")] + user + ["-m", "20000"] + list(extra)
            + [f"{HOST}:{port}", str(BACKLOG)])


def server_command(name, port, max_size):
    """Return (argv, env) that start server name on 127.0.0.1:port with
    messages of up to max_size bytes. Each server writes one JSON line per
    message to its stdout, except smtp-sink, which discards messages, and
    smtp-sink -D, which appends them to a dump file."""
    if name == "smtpcatch":
        return ([env_path("BENCH_SMTPCATCH"), "--listen", f"{HOST}:{port}",
                 "--max-size", str(max_size), "--max-connections", "0"], None)
    if name == "smtp-sink":
        return smtp_sink_command(port), postfix_env()
    if name == "smtp-sink -D":
        dump = os.path.join(dump_dir(), f"smtp-sink-{port}.dump")
        return smtp_sink_command(port, ["-D", dump]), postfix_env()
    if name == "aiosmtpd":
        return (["/usr/bin/python3", os.path.join(BENCH_DIR, "aiosmtpd_server.py"),
                 str(port), "--max-size", str(max_size)], None)
    if name == "smtp-server":
        env = dict(os.environ)
        env["NODE_PATH"] = env_path("BENCH_NODE_MODULES")
        return (["node", os.path.join(BENCH_DIR, "node", "server.js"), str(port), str(max_size)],
                env)
    raise SystemExit(f"bench: unknown server '{name}'")


def dump_dir():
    """Return the folder for smtp-sink -D dump files: tmpfs where there is
    one, so the dump costs memory copies as smtpcatch's writes to /dev/null
    do, not disk writes."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        path = os.path.join("/dev/shm", os.path.basename(env_path("BENCH_TMP")))
    else:
        path = os.path.join(env_path("BENCH_TMP"), "dump")
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o1777)      # smtp-sink writes as nobody when run as root
    return path


def remove_dumps():
    for name in os.listdir(dump_dir()):
        os.unlink(os.path.join(dump_dir(), name))


def cpu_split():
    """Return (server_cpu, client_cpu): two different cores where the
    machine has two or more, or (None, None) for no pinning."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None
    return cores[-1], cores[0]


def pinned(argv, cpu):
    return argv if cpu is None else ["taskset", "-c", str(cpu)] + argv


def free_port():
    """Return a TCP port on 127.0.0.1 that is free now. Another process may
    take it before the server binds it, which then fails to start."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def log_file(name):
    path = os.path.join(env_path("BENCH_TMP"), name.replace(" ", "_") + ".log")
    return open(path, "ab")


def start_server(name, port, max_size=64 << 20, cpu=None, stdout=subprocess.DEVNULL):
    argv, env = server_command(name, port, max_size)
    with log_file(name) as log:
        return subprocess.Popen(pinned(argv, cpu), env=env, stdin=subprocess.DEVNULL,
                                stdout=stdout, stderr=log)


def connect_when_ready(port, proc, timeout=20.0, poll=0.0001):
    """Connect to 127.0.0.1:port, retrying every poll seconds until the
    server accepts. Returns the connected socket. Raises RuntimeError when
    the server exits or timeout seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket()
        try:
            sock.connect((HOST, port))
            return sock
        except ConnectionRefusedError:
            sock.close()
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before it "
                               f"accepted a connection on port {port}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no server accepted on port {port} within {timeout} s")
        time.sleep(poll)


def wait_ready(port, proc):
    connect_when_ready(port, proc, poll=0.005).close()


def stop(proc, grace=5.0):
    """End a server this helper started: SIGTERM, then SIGKILL after grace
    seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid):
    """Return user + system CPU seconds of process pid and all its threads,
    from /proc/PID/stat, at clock-tick resolution (usually 10 ms)."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name in field 2 may contain spaces, so split after it.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def status_kib(pid, field):
    """Return a size field of /proc/PID/status, such as VmRSS or VmHWM, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field} line")


class SmtpClient:
    """A blocking SMTP client on one socket, without pipelining, enough to
    deliver a message and time it."""

    def __init__(self, sock):
        # Without TCP_NODELAY, the final ".\r\n" written after the data
        # would wait for the ACK of the data, delayed by up to 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.reader = sock.makefile("rb")

    def reply(self):
        """Read one reply, all its lines. Returns (code, text)."""
        lines = []
        while True:
            line = self.reader.readline()
            if not line:
                raise RuntimeError("the server closed the connection; replies so far: "
                                   + repr(b"".join(lines)))
            lines.append(line)
            if line[3:4] != b"-":
                return int(line[:3]), b"".join(lines).decode("utf-8", "replace")

    def command(self, line, expected):
        self.sock.sendall(line.encode("ascii") + b"\r\n")
        code, text = self.reply()
        if code != expected:
            raise RuntimeError(f"'{line}' got {text.strip()!r}, expected {expected}")
        return text

    def envelope(self, size=None):
        """Greet and give sender and recipient; SIZE= only when advertised."""
        code, text = self.reply()
        if code != 220:
            raise RuntimeError(f"greeting {text.strip()!r}, expected 220")
        ehlo = self.command("EHLO client.example", 250)
        size_param = f" SIZE={size}" if size and "SIZE" in ehlo.upper() else ""
        self.command(f"MAIL FROM:<sender@example.com>{size_param}", 250)
        self.command("RCPT TO:<rcpt@example.com>", 250)

    def data(self, message):
        """Send DATA and message (no line may start with a dot) and return
        once the 250 arrives."""
        self.command("DATA", 354)
        self.sock.sendall(message)
        self.sock.sendall(b".\r\n")
        code, text = self.reply()
        if code != 250:
            raise RuntimeError(f"the end of the data got {text.strip()!r}, expected 250")

    def close(self):
        try:
            self.command("QUIT", 221)
        except (OSError, RuntimeError):
            pass
        self.reader.close()
        self.sock.close()


def record(path, **fields):
    """Append one result as a JSON line to the results file."""
    with open(path, "a") as results:
        results.write(json.dumps(fields) + "\n")


def record_error(path, figure, server, config, error):
    """Record a failed measurement, which the report lists, and print it
    on stderr. The other runs go on."""
    print(f"bench: {figure} {server} {config}: {error}", file=sys.stderr, flush=True)
    record(path, figure=figure, server=server, config=config, metric="error",
           message=str(error))
