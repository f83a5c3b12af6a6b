#!/usr/bin/python3
"""Measure one large message for scripts/bench: the seconds from sending
DATA to reading the 250 after the final dot, and the server's peak RSS.
The peak is VmHWM in /proc/PID/status, read after the 250 while the server
still runs. The server runs on one core and this client on another.

The floor sends the same bytes over loopback TCP to a reader process that
discards them and writes one byte back once it has read them all.
"""

import argparse
import base64
import os
import socket
import subprocess
import sys
import time

import common

LINE = 76       # the line length of base64 in MIME parts


def build_message(size):
    """Return a message of exactly size bytes: a few header lines, then
    base64-looking lines of 76 characters ending in CRLF, as an attachment
    would be. No line starts with a dot."""
    header = b"From: sender@example.com\r\nTo: rcpt@example.com\r\nSubject: large\r\n\r\n"
    block = base64.b64encode(bytes(range(256)) * 57)      # 19,456 characters
    lines = [block[i:i + LINE] + b"\r\n" for i in range(0, len(block), LINE)]
    chunk = b"".join(lines)
    body_size = size - len(header)
    body = (chunk * (body_size // len(chunk) + 1))[:body_size - 2]
    if body.endswith(b"\r"):
        body = body[:-1] + b"A"     # a bare CR would draw a warning
    return header + body + b"\r\n"


def time_server(name, message, cpus):
    """Return (seconds from DATA to 250, peak RSS in KiB) for server name."""
    server_cpu, _ = cpus
    port = common.free_port()
    proc = common.start_server(name, port, max_size=2 * len(message), cpu=server_cpu)
    try:
        sock = common.connect_when_ready(port, proc, poll=0.005)
        client = common.SmtpClient(sock)
        client.envelope(size=len(message))
        start = time.perf_counter()
        client.data(message)
        seconds = time.perf_counter() - start
        peak = common.status_kib(proc.pid, "VmHWM")
        client.close()
    finally:
        common.stop(proc)
        if name == "smtp-sink -D":
            common.remove_dumps()
    return seconds, peak


def time_floor(message, cpus):
    """Return the seconds to move message to a discarding reader process."""
    server_cpu, _ = cpus
    argv = common.pinned([sys.executable, __file__, "--discard"], server_cpu)
    reader = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        port = int(reader.stdout.readline())
        with socket.create_connection((common.HOST, port)) as sock:
            start = time.perf_counter()
            sock.sendall(message)
            sock.sendall(b".\r\n")
            sock.shutdown(socket.SHUT_WR)
            if sock.recv(1) != b"1":
                raise RuntimeError("the discarding reader did not confirm the bytes")
            seconds = time.perf_counter() - start
        reader.wait(timeout=10)
    finally:
        common.stop(reader)
        reader.stdout.close()
    return seconds


def discard():
    """Accept one connection on 127.0.0.1, print the port, read until EOF
    into one reused buffer, then write "1"."""
    with socket.socket() as listener:
        listener.bind((common.HOST, 0))
        listener.listen(1)
        print(listener.getsockname()[1], flush=True)
        conn, _ = listener.accept()
        buffer = bytearray(1 << 20)
        with conn:
            while conn.recv_into(buffer):
                pass
            conn.sendall(b"1")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--discard", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--size", type=int, help="message size in bytes")
    parser.add_argument("--servers", help="comma-separated server names")
    parser.add_argument("--results", help="JSON lines file to append to")
    args = parser.parse_args()
    if args.discard:
        discard()
        return
    if None in (args.runs, args.size, args.servers, args.results):
        parser.error("--runs, --size, --servers and --results are required")

    cpus = common.cpu_split()
    if cpus[1] is not None:
        os.sched_setaffinity(0, {cpus[1]})
    message = build_message(args.size)
    for run in range(args.runs):
        try:
            common.record(args.results, run=run, figure="large", server="raw TCP",
                          metric="seconds", value=time_floor(message, cpus))
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as err:
            common.record_error(args.results, "large", "raw TCP", "", err)
        for name in args.servers.split(","):
            try:
                seconds, peak = time_server(name, message, cpus)
            except (RuntimeError, OSError) as err:
                common.record_error(args.results, "large", name, "", err)
                continue
            common.record(args.results, run=run, figure="large", server=name,
                          metric="seconds", value=seconds)
            common.record(args.results, run=run, figure="large", server=name,
                          metric="peak_rss_kib", value=peak)
        print(f"large message: run {run + 1} of {args.runs} done", flush=True)


if __name__ == "__main__":
    main()
