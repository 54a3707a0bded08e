"""docs/architecture.md stays true: every file or folder it names exists (a move that forgets
the page fails here), and its path from prompt to keys stays within 15 steps."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "architecture.md"


def named_paths(text: str) -> set[str]:
    """Backticked names that look like repository paths: a folder/ or a file.py."""
    names = set()
    for token in re.findall(r"`([^`\s]+)`", text):
        if re.fullmatch(r"[\w./-]+(/|\.py|\.md)", token):
            names.add(token)
    return names


def missing_paths(text: str) -> list[str]:
    files = {p.name for p in REPO.rglob("*") if ".pkgroot" not in p.parts and ".git" not in p.parts}
    missing = []
    for name in sorted(named_paths(text)):
        # a path with a folder is checked where it says; a bare file name must exist somewhere
        found = (REPO / name).exists() if "/" in name.rstrip("/") else name.rstrip("/") in files
        if not found:
            missing.append(name)
    return missing


def test_every_path_in_the_architecture_page_exists():
    text = DOC.read_text()
    assert len(named_paths(text)) >= 20  # the page names the files of the path, not just folders
    assert missing_paths(text) == []


def test_a_moved_file_is_caught():
    assert missing_paths("see `daemon/protocol.py` and `dcc_plugin/core/client.py`") == [
        "daemon/protocol.py", "dcc_plugin/core/client.py"]


def test_the_prompt_path_has_at_most_15_steps():
    steps = re.findall(r"^(\d+)\. ", DOC.read_text(), re.M)
    assert steps and int(steps[-1]) <= 15
