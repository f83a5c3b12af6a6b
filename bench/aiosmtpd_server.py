#!/usr/bin/python3
"""Serve SMTP with aiosmtpd on 127.0.0.1 as a peer of smtpcatch in
scripts/bench.

Each accepted message becomes one JSON line on stdout, written with one
flush before the 250 reply, with the members that smtpcatch writes, so
the two servers do comparable work per message.
"""

import argparse
import asyncio
import base64
import datetime
import json
import sys

from aiosmtpd.smtp import SMTP


def mail_params(options):
    """Map MAIL FROM parameters such as ["SIZE=76", "SMTPUTF8"] to
    {"SIZE": "76", "SMTPUTF8": True}, as smtpcatch reports them."""
    params = {}
    for option in options:
        keyword, equals, value = option.partition("=")
        params[keyword.upper()] = value if equals else True
    return params


class JsonLines:
    """aiosmtpd handler that writes each message as one JSON line."""

    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        data = envelope.original_content
        now = datetime.datetime.now(datetime.timezone.utc)
        record = {
            "event": "message",
            "id": self.count,
            "received_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "client": {"address": session.peer[0], "port": session.peer[1]},
            "helo": session.host_name,
            "esmtp": session.extended_smtp,
            "mail_from": envelope.mail_from,
            "mail_params": mail_params(envelope.mail_options),
            "rcpt_to": envelope.rcpt_tos,
            "size": len(data),
        }
        try:
            record["data"] = data.decode("utf-8")
        except UnicodeDecodeError:
            record["data_base64"] = base64.b64encode(data).decode("ascii")
        self.out.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        self.out.flush()
        return "250 2.0.0 OK"


async def serve(port, max_size):
    handler = JsonLines(sys.stdout.buffer)
    loop = asyncio.get_running_loop()

    # A fixed hostname, because the default calls socket.getfqdn(), which
    # may query DNS.
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="aiosmtpd.bench", data_size_limit=max_size,
                     enable_SMTPUTF8=True, decode_data=False, timeout=300),
        host="127.0.0.1", port=port, backlog=1024)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int, help="TCP port to listen on, on 127.0.0.1")
    parser.add_argument("--max-size", type=int, default=64 << 20,
                        help="largest message in bytes (default 64 MiB)")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port, args.max_size))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
