#!/usr/bin/python3
"""Measure throughput for scripts/bench: Postfix's smtp-source delivers
messages of 1 KiB to each server, at several numbers of concurrent
sessions, with a new connection per message or, with -d, many messages per
connection.

The server runs on one core and smtp-source on another. Messages per
second is the count over smtp-source's wall time. The server's CPU time
per message is user + system time from /proc/PID/stat, read when the
server is ready and again when smtp-source has exited. smtp-source's own
CPU time and page faults per message come from wait4. The interrupts per
message that woke the server's core (rescheduling and function-call
interrupts in /proc/interrupts) count how often smtp-source found the
server asleep, which costs smtp-source's core a cross-core wake-up.
smtp-source exits with status 0 only when every message got a 2xx reply,
and any other status fails the run.
"""

import argparse
import os
import subprocess
import tempfile
import threading
import time

import common

MESSAGE_BYTES = 1024
RUN_TIMEOUT = 300.0


def config_name(sessions, reuse):
    return f"-s {sessions}" + (" -d" if reuse else "")


def message_count(name, messages, sessions, reuse, budget):
    """Return how many messages server name gets in one run.

    smtp-server waits 100 ms before each greeting, to catch clients that
    talk too early, and has no option to turn that off. Without -d, each
    message opens a connection, so the count is capped to what the
    sessions deliver in budget seconds at that pace.
    """
    if name == "smtp-server" and not reuse:
        return min(messages, max(1, int(sessions * budget / 0.1)))
    return messages


def wakeup_interrupts(cpu):
    """Return the count of rescheduling and function-call interrupts that
    core cpu has taken, or None when the server is not pinned or this
    kernel names them differently (only x86 has RES and CAL lines)."""
    if cpu is None:
        return None
    total, found = 0, False
    with open("/proc/interrupts") as table:
        cpus = table.readline().split()
        column = cpus.index(f"CPU{cpu}") + 1 if f"CPU{cpu}" in cpus else None
        for line in table:
            fields = line.split()
            if column is not None and fields and fields[0] in ("RES:", "CAL:"):
                total += int(fields[column])
                found = True
    return total if found else None


def generator_env():
    """Return smtp-source's environment, with glibc's heap never trimmed.

    smtp-source gives each connection two stream buffers of 128 KiB.
    By default glibc returns a freed buffer at the top of the heap to the
    kernel, and the next connection faults its pages back in while
    clearing them. How often that happens depends on the order in which
    sessions end, and so on the server's timing. In runs of 20,000
    messages at -s 20 it took 3 to 6 page faults per message against
    smtpcatch and 0.4 to 2 against smtp-sink. With fixed thresholds the heap
    keeps its pages, so smtp-source does the same work against every
    server. Servers run with glibc's defaults.
    """
    env = common.postfix_env()
    env["GLIBC_TUNABLES"] = ("glibc.malloc.mmap_threshold=1048576:"
                             "glibc.malloc.trim_threshold=268435456")
    return env


def run_generator(port, messages, sessions, reuse, cpu):
    """Run smtp-source against port. Returns (exit status, wall seconds,
    CPU seconds, minor page faults); the status is -9 when RUN_TIMEOUT
    killed it."""
    argv = [common.postfix_program("smtp-source"), "-m", str(messages), "-s", str(sessions),
            "-l", str(MESSAGE_BYTES), "-f", "sender@example.com", "-t", "rcpt@example.com",
            "-M", "client.example"]
    if reuse:
        argv.append("-d")
    argv.append(f"{common.HOST}:{port}")

    start = time.perf_counter()
    proc = subprocess.Popen(common.pinned(argv, cpu), env=generator_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    timer = threading.Timer(RUN_TIMEOUT, proc.kill)
    timer.daemon = True
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        # SIGTERM from scripts/bench arrives here as SystemExit.
        proc.kill()
        proc.wait()
        raise
    finally:
        timer.cancel()
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_minflt


def measure(name, messages, sessions, reuse, cpus):
    """Run one load against a fresh server. Returns a dict of metrics."""
    server_cpu, client_cpu = cpus
    port = common.free_port()
    proc = common.start_server(name, port, cpu=server_cpu)
    try:
        common.wait_ready(port, proc)
        cpu_before = common.cpu_seconds(proc.pid)
        wakeups_before = wakeup_interrupts(server_cpu)
        status, wall, generator_cpu, generator_faults = run_generator(
            port, messages, sessions, reuse, client_cpu)
        wakeups_after = wakeup_interrupts(server_cpu)
        server_cpu_used = common.cpu_seconds(proc.pid) - cpu_before
    finally:
        common.stop(proc)
        if name == "smtp-sink -D":
            common.remove_dumps()
    if status != 0:
        raise RuntimeError(f"smtp-source against {name} ({config_name(sessions, reuse)}) "
                           f"exited with status {status}; the server log is in "
                           f"{os.environ['BENCH_TMP']}")
    metrics = {
        "messages": messages,
        "msgs_per_s": messages / wall,
        "server_cpu_us": server_cpu_used / messages * 1e6,
        "generator_cpu_us": generator_cpu / messages * 1e6,
        "generator_faults": generator_faults / messages,
    }
    if wakeups_before is not None and wakeups_after is not None:
        metrics["server_wakeups"] = (wakeups_after - wakeups_before) / messages
    return metrics


def check_smtpcatch_output(messages, sessions, reuse, cpus):
    """Deliver to smtpcatch --count with its stdout in a file, and check
    that it exits with status 0 and wrote one message line per message."""
    server_cpu, client_cpu = cpus
    port = common.free_port()
    argv, _ = common.server_command("smtpcatch", port, 64 << 20)
    argv += ["--count", str(messages), "--timeout", str(RUN_TIMEOUT)]
    with tempfile.TemporaryFile(dir=common.env_path("BENCH_TMP")) as out:
        proc = subprocess.Popen(common.pinned(argv, server_cpu), stdin=subprocess.DEVNULL,
                                stdout=out)
        try:
            common.wait_ready(port, proc)
            status, _, _, _ = run_generator(port, messages, sessions, reuse, client_cpu)
            exit_status = proc.wait(timeout=30)
        finally:
            common.stop(proc)
        out.seek(0)
        lines = sum(1 for line in out if line.startswith(b'{"event":"message"'))
    if status != 0 or exit_status != 0 or lines != messages:
        raise RuntimeError(f"smtpcatch check ({config_name(sessions, reuse)}): smtp-source "
                           f"status {status}, smtpcatch status {exit_status}, "
                           f"{lines} message lines for {messages} messages")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--sessions", default="1,20,100",
                        help="comma-separated session counts, each run with and without -d")
    parser.add_argument("--budget", type=float, default=10.0,
                        help="seconds per run that cap smtp-server's messages without -d")
    parser.add_argument("--servers", required=True, help="comma-separated server names")
    parser.add_argument("--results", required=True, help="JSON lines file to append to")
    args = parser.parse_args()
    servers = args.servers.split(",")
    configs = [(int(s), reuse) for reuse in (False, True) for s in args.sessions.split(",")]
    cpus = common.cpu_split()

    for sessions, reuse in configs:
        try:
            check_smtpcatch_output(args.messages, sessions, reuse, cpus)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as err:
            common.record_error(args.results, "throughput", "smtpcatch",
                                config_name(sessions, reuse), err)
    print(f"throughput: smtpcatch output checked in all {len(configs)} loads", flush=True)

    # Runs go round all loads and servers in turn, so slow drift of the
    # machine spreads over every server alike.
    for run in range(args.runs):
        for sessions, reuse in configs:
            for name in servers:
                count = message_count(name, args.messages, sessions, reuse, args.budget)
                try:
                    metrics = measure(name, count, sessions, reuse, cpus)
                except (RuntimeError, OSError) as err:
                    common.record_error(args.results, "throughput", name,
                                        config_name(sessions, reuse), err)
                    continue
                for metric, value in metrics.items():
                    common.record(args.results, run=run, figure="throughput",
                                  server=name, config=config_name(sessions, reuse),
                                  metric=metric, value=value)
        print(f"throughput: run {run + 1} of {args.runs} done", flush=True)


if __name__ == "__main__":
    main()
