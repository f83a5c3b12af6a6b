"""The README's examples are the tested ones.

Each client suite under tests/clients/ keeps the README text for its
fixture in README-snippet.md and checks there that the snippet quotes its
tested files word for word. This test closes the chain: every code block
of every snippet must appear in README.md exactly as it is.
"""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SNIPPETS = sorted(ROOT.glob("tests/clients/*/README-snippet.md"))
BLOCK = re.compile(r"```[a-z]*\n.*?```", re.S)


def test_readme_snippets_exist():
    assert [path.parent.name for path in SNIPPETS] == ["node", "php", "python", "shell"]


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda path: path.parent.name)
def test_readme_quotes_snippet(snippet):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = BLOCK.findall(snippet.read_text(encoding="utf-8"))

    assert blocks, f"{snippet} has no code block"
    for block in blocks:
        assert block in readme, f"README.md does not quote this block of {snippet}:\n{block}"
