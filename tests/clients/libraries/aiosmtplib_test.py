#!/usr/bin/python3
"""Test smtpcatch with aiosmtplib, the SMTP client of asyncio applications.

In one session over STARTTLS, verified against the generated certificate, it
authenticates, then sends raw 8-bit data with BODY=8BITMIME, a message with
UTF-8 addresses and SMTPUTF8, and an EmailMessage with a Bcc and a 5 MiB
attachment. aiosmtplib 2.0 picks CRAM-MD5, so smtpcatch checks the password
through the digest, and the message line has no password to compare.

Run: SMTPCATCH_BIN=build/release/smtpcatch /usr/bin/python3 aiosmtplib_test.py
(Debian's python3-aiosmtplib installs aiosmtplib for /usr/bin/python3.)
"""
import asyncio
import email
import email.policy
import json
import os
import random
import ssl
import subprocess
import sys
import tempfile
from email.message import EmailMessage

import aiosmtplib

BINARY = os.environ.get("SMTPCATCH_BIN", "smtpcatch")
failures = []


def check(label, expected, actual):
    if expected != actual:
        failures.append(label)
        print(f"FAIL {label}: expected {expected!r:.300}, got {actual!r:.300}", file=sys.stderr)


async def send(port, cert_file):
    context = ssl.create_default_context(cafile=cert_file)
    client = aiosmtplib.SMTP(hostname="localhost", port=port, local_hostname="aio.client.test",
                             start_tls=True, tls_context=context, timeout=20)
    await client.connect()
    await client.login("app@example.com", "s3:cret")  # aiosmtplib prefers CRAM-MD5

    raw = b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n" + "Gr\u00fc\u00dfe \u2603\r\n".encode() + b"z" * 5000 + b"\r\n"
    await client.sendmail("a@example.com", ["b@example.com"], raw, mail_options=["BODY=8BITMIME"])
    await client.sendmail("j\u00f6ran@ex\u00e4mple.com", ["\u6e21\u8fba@\u4f8b\u3048.jp"], b"Subject: utf8\r\n\r\nx\r\n",
                          mail_options=["SMTPUTF8"])

    message = EmailMessage()
    message["From"] = "J\u00f6rg <a@example.com>"
    message["To"] = "b@example.com"
    message["Bcc"] = "hidden@example.com"
    message["Subject"] = "Gr\u00fc\u00dfe \u2603"
    message.set_content("Hallo J\u00f6rg \u2713\n")
    attachment = random.Random(1).randbytes(5 * 1024 * 1024)
    message.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="data.bin")
    await client.send_message(message)
    await client.quit()
    return raw, attachment


def main():
    with tempfile.TemporaryDirectory() as tmp:
        cert_file = os.path.join(tmp, "cert.pem")
        server = subprocess.Popen([BINARY, "--count", "3", "--timeout", "30", "--tls", "starttls", "--require-tls",
                                   "--tls-cert-out", cert_file, "--auth", "app@example.com:s3:cret"],
                                  stdout=subprocess.PIPE)
        try:
            port = json.loads(server.stdout.readline())["port"]
            raw, attachment = asyncio.run(send(port, cert_file))
            first, second, third = (json.loads(server.stdout.readline()) for _ in range(3))
            check("exit status", 0, server.wait(timeout=10))
        finally:
            server.kill()  # Does nothing when smtpcatch has exited by itself.
            server.wait()
            server.stdout.close()

    check("data", raw.decode(), first["data"])
    check("tls", "TLSv1.3", first["tls"]["version"])
    check("auth", {"mechanism": "CRAM-MD5", "username": "app@example.com"},
          {key: first["auth"][key] for key in ("mechanism", "username")})
    check("mail_params", {"SIZE": str(len(raw)), "BODY": "8BITMIME"}, first["mail_params"])
    check("warnings", ["line_over_998"], first["warnings"])
    check("utf8 mail_from", "j\u00f6ran@ex\u00e4mple.com", second["mail_from"])
    check("utf8 rcpt_to", ["\u6e21\u8fba@\u4f8b\u3048.jp"], second["rcpt_to"])
    check("utf8 params", True, second["mail_params"].get("SMTPUTF8"))
    check("utf8 warnings", [], second["warnings"])

    received = email.message_from_string(third["data"], policy=email.policy.default)
    check("bcc recipients", ["b@example.com", "hidden@example.com"], third["rcpt_to"])
    check("bcc header absent", None, received["Bcc"])
    check("subject", "Gr\u00fc\u00dfe \u2603", received["Subject"])
    check("attachment", attachment, next(received.iter_attachments()).get_content())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
