#!/usr/bin/python3
"""Measure idle sessions for scripts/bench: open many connections to a
server from this one process, read the greeting on each, and record the
server's RSS (VmRSS in /proc/PID/status) with all of them open and idle.

At most IN_FLIGHT connections wait for their greeting at a time, so no
more than that wait in the listen backlog of 1024. A connection counts
once its 220 line is in.
"""

import argparse
import os
import resource
import selectors
import socket
import time

import common

IN_FLIGHT = 512
TIMEOUT = 120.0
SETTLE = 0.5        # seconds between the last greeting and the RSS reading


def raise_open_files_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise SystemExit(f"bench: the open files limit is {hard}, too low for {needed} "
                             "connections; raise it with ulimit -Hn as root")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def open_sessions(port, count):
    """Return count sockets connected to port, each past its 220 greeting."""
    selector = selectors.DefaultSelector()
    greeted, pending, started = [], {}, 0
    deadline = time.monotonic() + TIMEOUT

    while len(greeted) < count:
        while started < count and len(pending) < IN_FLIGHT:
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex((common.HOST, port))
            pending[sock] = b""
            selector.register(sock, selectors.EVENT_READ)
            started += 1
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(greeted)} of {count} sessions got a greeting "
                               f"within {TIMEOUT} s")
        for key, _ in selector.select(timeout=1.0):
            sock = key.fileobj
            data = sock.recv(512)
            if not data:
                raise RuntimeError(f"the server closed session {len(greeted) + 1} "
                                   "before its greeting")
            pending[sock] += data
            if b"\r\n" in pending[sock]:
                if not pending[sock].startswith(b"220"):
                    raise RuntimeError(f"greeting {pending[sock]!r}, expected 220")
                selector.unregister(sock)
                del pending[sock]
                greeted.append(sock)
    selector.close()
    return greeted


def measure(name, count, cpus):
    """Return (RSS in KiB before any session, RSS in KiB with count idle sessions)."""
    server_cpu, _ = cpus
    port = common.free_port()
    proc = common.start_server(name, port, cpu=server_cpu)
    sessions = []
    try:
        common.wait_ready(port, proc)
        time.sleep(SETTLE)
        before = common.status_kib(proc.pid, "VmRSS")
        sessions = open_sessions(port, count)
        time.sleep(SETTLE)
        during = common.status_kib(proc.pid, "VmRSS")
    finally:
        for sock in sessions:
            sock.close()
        common.stop(proc)
    return before, during


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--servers", required=True, help="comma-separated server names")
    parser.add_argument("--results", required=True, help="JSON lines file to append to")
    args = parser.parse_args()

    raise_open_files_limit(args.sessions + 256)
    cpus = common.cpu_split()
    if cpus[1] is not None:
        os.sched_setaffinity(0, {cpus[1]})
    for run in range(args.runs):
        for name in args.servers.split(","):
            try:
                before, during = measure(name, args.sessions, cpus)
            except (RuntimeError, OSError) as err:
                common.record_error(args.results, "idle", name, "", err)
                continue
            common.record(args.results, run=run, figure="idle", server=name,
                          metric="rss_kib", value=during)
            common.record(args.results, run=run, figure="idle", server=name,
                          metric="kib_per_session", value=(during - before) / args.sessions)
        print(f"idle sessions: run {run + 1} of {args.runs} done", flush=True)


if __name__ == "__main__":
    main()
