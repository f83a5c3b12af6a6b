"""The README's example of embedding the library, built and run for real."""

import pathlib
import smtplib
import subprocess

import pytest

from conftest import EXIT_TIMEOUT, smtpcatch_binary

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE_SOURCE = ROOT / "tests" / "embed" / "embed_example.c"


def example_binary(name):
    """Return an example built next to the smtpcatch under test."""
    path = pathlib.Path(smtpcatch_binary()).parent / name
    assert path.is_file(), f"{path} is missing: build with the tests (SC_TESTS=ON) and g++"
    return path


@pytest.mark.parametrize("name", ["embed_example", "embed_example_cxx"])
def test_embed_example_catches_one_message(name):
    data = b"Subject: embedded\r\n\r\nHello from C.\r\n"
    proc = subprocess.Popen([example_binary(name)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stdout.readline().decode()
        port = int(first.removeprefix("port=").strip())
        with smtplib.SMTP("127.0.0.1", port, timeout=EXIT_TIMEOUT) as client:
            refused = client.sendmail("a@example.com", ["b@example.com", "c@example.com"], data)
        status = proc.wait(timeout=EXIT_TIMEOUT)
        rest = proc.stdout.read()
        stderr = proc.stderr.read().decode("utf-8", "replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    assert first.startswith("port=")
    assert refused == {}
    assert rest == (b"from=<a@example.com> to=<b@example.com> to=<c@example.com> bytes=%d\n"
                    % len(data)) + data
    assert status == 0
    assert stderr == ""


def test_readme_quotes_embed_example():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert "```c\n" + EXAMPLE_SOURCE.read_text(encoding="utf-8") + "```" in readme
