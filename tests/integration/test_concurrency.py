"""Many clients sending at the same time."""

import collections
import smtplib
import threading
from concurrent.futures import ThreadPoolExecutor

CLIENTS = 20
CLIENT_TIMEOUT = 5.0


def message_bytes(index):
    return (f"From: client{index}@example.com\r\n"
            f"Subject: concurrent {index}\r\n"
            f"\r\n"
            f"body of message {index}\r\n"
            f"{'.' * (index % 3)}dots {index}\r\n").encode("ascii")


def test_concurrent_clients_each_arrive_once(smtpcatch):
    # Every client connects and sends EHLO first, then all send at once.
    barrier = threading.Barrier(CLIENTS, timeout=CLIENT_TIMEOUT)

    def send(index):
        with smtplib.SMTP("127.0.0.1", smtpcatch.port, timeout=CLIENT_TIMEOUT) as client:
            client.ehlo(f"client{index}.example")
            barrier.wait()
            return client.sendmail(f"client{index}@example.com", [f"rcpt{index}@example.com"],
                                   message_bytes(index))

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(send, index) for index in range(CLIENTS)]
        refused = [future.result(timeout=2 * CLIENT_TIMEOUT) for future in futures]
    messages = [smtpcatch.next_message() for _ in range(CLIENTS)]
    status = smtpcatch.stop()
    rest = smtpcatch.read_rest()

    assert refused == [{}] * CLIENTS
    assert sorted(message["id"] for message in messages) == list(range(1, CLIENTS + 1))
    data_counts = collections.Counter(message["data"] for message in messages)
    for index in range(CLIENTS):
        expected = message_bytes(index).decode("ascii")
        assert data_counts[expected] == 1, f"message {index} arrived {data_counts[expected]} times"
    for message in messages:
        index = int(message["mail_from"][len("client"):].split("@")[0])
        assert message["rcpt_to"] == [f"rcpt{index}@example.com"]
        assert message["helo"] == f"client{index}.example"
    assert status == 0
    assert rest == []


def test_count_with_concurrent_clients(start_smtpcatch):
    # 20 clients race for --count 5. Exactly five are accepted and written,
    # and every other client gets a reply instead of a hang.
    count = 5
    server = start_smtpcatch("--count", count)
    barrier = threading.Barrier(CLIENTS, timeout=CLIENT_TIMEOUT)

    def send(index):
        with smtplib.SMTP("127.0.0.1", server.port, timeout=CLIENT_TIMEOUT) as client:
            client.ehlo(f"client{index}.example")
            barrier.wait()
            try:
                client.sendmail(f"client{index}@example.com", ["rcpt@example.com"],
                                message_bytes(index))
            except (smtplib.SMTPResponseException, smtplib.SMTPServerDisconnected):
                return False
            return True

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(send, index) for index in range(CLIENTS)]
        accepted = [future.result(timeout=2 * CLIENT_TIMEOUT) for future in futures]
    status = server.wait()
    lines = server.read_rest()

    assert status == 0
    assert len(lines) == count
    assert accepted.count(True) == count
