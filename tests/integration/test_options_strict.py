"""Strict parsing of option values: empty --listen values and number formats.

Number options take plain decimal text only, because strtod and strtoull
would also take leading spaces, signs, hex, exponents, "inf" and "nan".
"""

import time

import pytest

from conftest import EXIT_TIMEOUT, run_smtpcatch
from smtp_client import RawSmtp

EXIT_USAGE = 2


# Each case: the arguments, then the option and value the error line must name.
REJECTED = [
    (["--listen", ""], "--listen", ""),
    (["--listen="], "--listen", ""),
    (["--listen", "[]:0"], "--listen", "[]:0"),
    (["--timeout", "0x10"], "--timeout", "0x10"),
    (["--timeout", " 1"], "--timeout", " 1"),
    (["--timeout", "1 "], "--timeout", "1 "),
    (["--timeout", "+1"], "--timeout", "+1"),
    (["--timeout", "1e3"], "--timeout", "1e3"),
    (["--timeout", "inf"], "--timeout", "inf"),
    (["--timeout", "nan"], "--timeout", "nan"),
    (["--timeout", "1."], "--timeout", "1."),
    (["--timeout", ".5"], "--timeout", ".5"),
    (["--timeout", "0.5.1"], "--timeout", "0.5.1"),
    (["--timeout", "1,5"], "--timeout", "1,5"),
    (["--idle-timeout", "0x5"], "--idle-timeout", "0x5"),
    (["--idle-timeout", "5e0"], "--idle-timeout", "5e0"),
    (["--idle-timeout", " 5"], "--idle-timeout", " 5"),
    (["--count", " 5"], "--count", " 5"),
    (["--count", "5.0"], "--count", "5.0"),
    (["--count", "0x5"], "--count", "0x5"),
    (["--port", " 25"], "--port", " 25"),
    (["--max-size", " 5"], "--max-size", " 5"),
    (["--max-size", "0x10"], "--max-size", "0x10"),
    (["--max-size", "1.5K"], "--max-size", "1.5K"),
    (["--max-size", "K"], "--max-size", "K"),
    (["--max-size", "10KK"], "--max-size", "10KK"),
]


@pytest.mark.parametrize("args,option,value", REJECTED,
                         ids=[" ".join(repr(arg) for arg in case[0]) for case in REJECTED])
def test_invalid_value_exits_2(args, option, value):
    result = run_smtpcatch(*args)
    stderr = result.stderr.decode("utf-8", "replace")

    assert result.returncode == EXIT_USAGE, stderr
    assert result.stdout == b""
    assert stderr.count("\n") == 1, stderr
    assert stderr.endswith("\n"), stderr
    assert stderr.startswith(f"smtpcatch: invalid {option} value '{value}': "), stderr


def test_fractional_timeout_stops_server(start_smtpcatch):
    started = time.monotonic()
    server = start_smtpcatch("--timeout", "0.5")

    status = server.wait(EXIT_TIMEOUT)

    assert status == 0
    assert time.monotonic() - started >= 0.5


@pytest.mark.parametrize("args", [
    ["--timeout", "10"],
    ["--timeout", "010.250"],
    ["--idle-timeout", "0"],
    ["--idle-timeout", "0.5"],
    ["--count", "5"],
    ["--listen", ":0"],
], ids=lambda args: " ".join(args))
def test_valid_value_starts(start_smtpcatch, args):
    server = start_smtpcatch(*args)

    with RawSmtp(server.port) as client:
        greeting = client.read_reply()

    assert greeting.code == 220


def test_max_size_suffix_sets_size(start_smtpcatch):
    server = start_smtpcatch("--max-size", "10K")

    with RawSmtp(server.port) as client:
        client.read_reply()
        ehlo = client.command("EHLO client.example")

    assert ehlo.code == 250
    assert "250-SIZE 10240" in ehlo.lines
