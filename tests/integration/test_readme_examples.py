"""The README's examples, extracted and run as they are written.

The README is what users copy from, so its shell script and its pytest
fixture must work with the built binary. Each example runs in a fresh
directory with smtpcatch first on PATH.
"""
import os
import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def code_block(heading, language):
    """Return the first fenced block of language after the heading."""
    text = README.read_text(encoding="utf-8")
    start = text.index(heading)
    match = re.compile(r"```" + language + r"\n(.*?)```", re.S).search(text, start)
    assert match, f"no {language} block after {heading!r} in README.md"
    return match.group(1)


def environment():
    binary = os.environ.get("SMTPCATCH_BIN")
    assert binary, "SMTPCATCH_BIN must name the smtpcatch binary to test"
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(os.path.abspath(binary)) + os.pathsep + env["PATH"]
    return env


def test_readme_shell_example(tmp_path):
    script = tmp_path / "example.sh"
    script.write_text(code_block("### A shell script that asserts with jq", "sh"))

    result = subprocess.run(["sh", str(script)], cwd=tmp_path, env=environment(),
                            capture_output=True, text=True, timeout=30)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "true"


def test_readme_pytest_example(tmp_path):
    (tmp_path / "test_example.py").write_text(code_block("### A pytest fixture", "python"))

    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "test_example.py"], cwd=tmp_path, env=environment(),
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
