"""The ready line and the options that choose where smtpcatch listens."""

import re
import socket

import pytest

from conftest import run_smtpcatch, READY_TIMEOUT, has_ipv6_loopback
from smtp_client import RawSmtp


def free_port():
    """Return a port that was free on 127.0.0.1 and ::1 a moment ago."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not has_ipv6_loopback():
            return port
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe6:
                probe6.bind(("::1", port))
        except OSError:
            continue
        return port
    pytest.fail("found no port free on both 127.0.0.1 and ::1 in 20 tries")


def greeting_code(port, host):
    with RawSmtp(port, host) as client:
        return client.read_reply().code


def test_ready_line_before_mail(start_smtpcatch):
    server = start_smtpcatch(wait_ready=False)

    first = server.read_json(timeout=READY_TIMEOUT)

    assert first["event"] == "ready"
    assert server.partial_line() == b""


def test_ready_line_fields(start_smtpcatch):
    server = start_smtpcatch()
    ready = server.ready

    assert isinstance(ready["port"], int)
    assert 1 <= ready["port"] <= 65535
    assert ready["address"] == ready["addresses"][0]
    assert "127.0.0.1" in ready["addresses"]
    assert ready["pid"] == server.pid
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", ready["version"])


def test_ready_line_lists_ipv6(start_smtpcatch):
    if not has_ipv6_loopback():
        pytest.skip("this host has no IPv6 loopback address")

    server = start_smtpcatch()

    assert "::1" in server.ready["addresses"]


def test_default_listens_on_both_loopbacks(start_smtpcatch):
    server = start_smtpcatch()

    for address in server.ready["addresses"]:
        assert greeting_code(server.port, address) == 220, address


def test_port_file_contains_port(start_smtpcatch, tmp_path):
    port_dir = tmp_path / "ports"
    port_dir.mkdir()
    port_file = port_dir / "smtp.port"

    server = start_smtpcatch("--port-file", port_file)
    content = port_file.read_text()

    assert int(content.strip()) == server.port
    assert content.strip() == str(server.port)
    assert sorted(path.name for path in port_dir.iterdir()) == ["smtp.port"]


def test_port_file_replaces_old_file(start_smtpcatch, tmp_path):
    port_file = tmp_path / "smtp.port"
    port_file.write_text("stale content that is longer than a port\n")

    server = start_smtpcatch("--port-file", port_file)

    assert port_file.read_text().strip() == str(server.port)


def test_port_file_in_missing_directory_exits_1(start_smtpcatch, tmp_path):
    server = start_smtpcatch("--port-file", tmp_path / "missing" / "smtp.port", wait_ready=False)

    status = server.wait()

    assert status == 1
    assert server.read_rest() == []
    assert "missing" in server.stderr_text()


def test_port_option_binds_port(start_smtpcatch):
    port = free_port()

    server = start_smtpcatch("--port", port)

    assert server.port == port
    assert greeting_code(port, "127.0.0.1") == 220


def test_listen_ipv4_only(start_smtpcatch):
    server = start_smtpcatch("--listen", "127.0.0.1:0")

    assert server.ready["addresses"] == ["127.0.0.1"]
    assert server.ready["address"] == "127.0.0.1"
    assert greeting_code(server.port, "127.0.0.1") == 220


def test_listen_ipv6_only(start_smtpcatch):
    if not has_ipv6_loopback():
        pytest.skip("this host has no IPv6 loopback address")

    server = start_smtpcatch("--listen", "[::1]:0")

    assert server.ready["addresses"] == ["::1"]
    assert server.ready["address"] == "::1"
    assert greeting_code(server.port, "::1") == 220


def test_listen_with_port_and_port_option(start_smtpcatch):
    port = free_port()

    server = start_smtpcatch("--listen", f"127.0.0.1:{port}", "--port", port)

    assert server.port == port
    assert server.ready["addresses"] == ["127.0.0.1"]


def test_listen_host_and_port_option(start_smtpcatch):
    port = free_port()

    server = start_smtpcatch("--listen", "127.0.0.1", "--port", port)

    assert server.port == port
    assert server.ready["addresses"] == ["127.0.0.1"]


def test_listen_twice_takes_last_value(start_smtpcatch):
    # The second --listen names no port, so the port is free again, not the
    # one the first --listen named.
    first_port = free_port()

    server = start_smtpcatch("--listen", f"127.0.0.1:{first_port}", "--listen", "127.0.0.1")

    assert server.port != first_port
    assert server.ready["addresses"] == ["127.0.0.1"]


def test_listen_localhost_binds_both(start_smtpcatch):
    if not has_ipv6_loopback():
        pytest.skip("this host has no IPv6 loopback address")

    server = start_smtpcatch("--listen", "localhost:0")

    assert sorted(server.ready["addresses"]) == ["127.0.0.1", "::1"]


def test_port_file_removed_at_exit(tmp_path):
    # A stale port file would make the next run's wait loop pass at once.
    port_file = tmp_path / "smtp.port"

    result = run_smtpcatch("--timeout", "0.2", "--port-file", port_file)

    assert result.returncode == 0
    assert not port_file.exists()
