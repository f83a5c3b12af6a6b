#!/usr/bin/python3
"""Measure start-up for scripts/bench: the time from spawning a server to
its being ready, and to its 250 reply for a first message, and the floor,
the time to spawn /bin/true and reap it.

smtpcatch is ready when its ready line is read from its stdout, a pipe. A
peer is ready when its port accepts a connection, polled every 0.1 ms; the
first message then goes over that connection.
"""

import argparse
import json
import socket
import subprocess
import time

import common

FIRST_MESSAGE = (b"From: sender@example.com\r\nTo: rcpt@example.com\r\n"
                 b"Subject: first\r\n\r\nHello\r\n")


def milliseconds(start):
    return (time.perf_counter_ns() - start) / 1e6


def time_floor():
    start = time.perf_counter_ns()
    subprocess.Popen(["/bin/true"]).wait()
    return milliseconds(start)


def time_smtpcatch():
    """Return (ready_ms, first_message_ms) for one smtpcatch start."""
    argv = [common.env_path("BENCH_SMTPCATCH"), "--listen", f"{common.HOST}:0",
            "--timeout", "30"]
    start = time.perf_counter_ns()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        ready = milliseconds(start)
        port = json.loads(line)["port"]
        client = common.SmtpClient(socket.create_connection((common.HOST, port)))
        client.envelope()
        client.data(FIRST_MESSAGE)
        first = milliseconds(start)
        client.close()
    finally:
        common.stop(proc)
        proc.stdout.close()
    return ready, first


def time_peer(name):
    """Return (ready_ms, first_message_ms) for one start of peer name."""
    port = common.free_port()
    argv, env = common.server_command(name, port, 64 << 20)
    with common.log_file(name) as log:
        start = time.perf_counter_ns()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        sock = common.connect_when_ready(port, proc)
        ready = milliseconds(start)
        client = common.SmtpClient(sock)
        client.envelope()
        client.data(FIRST_MESSAGE)
        first = milliseconds(start)
        client.close()
    finally:
        common.stop(proc)
    return ready, first


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--servers", required=True, help="comma-separated server names")
    parser.add_argument("--results", required=True, help="JSON lines file to append to")
    args = parser.parse_args()
    servers = args.servers.split(",")

    for run in range(args.runs):
        common.record(args.results, run=run, figure="startup", server="/bin/true",
                      metric="ready_ms", value=time_floor())
        for name in servers:
            try:
                ready, first = time_smtpcatch() if name == "smtpcatch" else time_peer(name)
            except (RuntimeError, OSError, ValueError) as err:
                common.record_error(args.results, "startup", name, "", err)
                continue
            common.record(args.results, run=run, figure="startup", server=name,
                          metric="ready_ms", value=ready)
            common.record(args.results, run=run, figure="startup", server=name,
                          metric="first_ms", value=first)
        print(f"startup: run {run + 1} of {args.runs} done", flush=True)


if __name__ == "__main__":
    main()
