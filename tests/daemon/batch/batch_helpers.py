"""Helpers shared by the batch tests (a uniquely named module: `conftest` is taken by
several folders, so tests never import helpers from it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def write_takes(path: Path, count: int, prompts: int = 4, duration: float = 1.0, extra: dict[int, dict] | None = None) -> Path:
    """A JSONL takes file of `count` single-seed rows cycling through `prompts` prompts."""
    extra = extra or {}
    verbs = ["walks forward", "jumps twice", "waves with the right hand", "turns left", "kicks", "sits down"]
    with open(path, "w") as fh:
        for i in range(count):
            row = {"name": f"t{i:02d}", "prompt": f"A person {verbs[i % prompts]}.", "duration": duration, "seed": i, "cfg": 1.0}
            row.update(extra.get(i, {}))
            fh.write(json.dumps(row) + "\n")
    return path


def run_cli(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "motionbridge.daemon.cli", "batch", *args],
        env=env, capture_output=True, text=True, timeout=kwargs.pop("timeout", 300), **kwargs,
    )
