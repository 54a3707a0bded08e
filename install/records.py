"""The install record: every path an install created, so uninstall removes exactly those."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from motionbridge.exporters.atomic import atomic_path

RECORD_NAME = ".motionbridge-install.json"
BLOCK_START = "# >>> motionbridge >>>"
BLOCK_END = "# <<< motionbridge <<<"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save(folder: Path, kind: str, paths: list[Path], **extra: object) -> Path:
    record = folder / RECORD_NAME
    write_atomic(record, json.dumps({"kind": kind, "paths": [str(p) for p in paths], **extra}, indent=1))
    return record


def load(folder: Path) -> dict:
    record = folder / RECORD_NAME
    try:
        return json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError:
        raise ValueError(f"{record} is damaged; delete {folder} by hand") from None


def remove(path: Path) -> bool:
    if path.is_symlink() or path.is_file():
        path.unlink()
        return True
    if path.is_dir():
        shutil.rmtree(path)
        return True
    return False


def add_block(script: Path, body: str) -> None:
    """Put our marked block into a startup script we share with the user (userSetup.py)."""
    text = script.read_text(encoding="utf-8") if script.is_file() else ""
    text = strip_block(text)
    if text and not text.endswith("\n"):
        text += "\n"
    write_atomic(script, f"{text}{BLOCK_START}\n{body.rstrip()}\n{BLOCK_END}\n")


def strip_block(text: str) -> str:
    start, end = text.find(BLOCK_START), text.find(BLOCK_END)
    if start < 0 or end < start:
        return text
    return text[:start] + text[end + len(BLOCK_END):].lstrip("\n")


def remove_block(script: Path) -> bool:
    if not script.is_file():
        return False
    text = script.read_text(encoding="utf-8")
    stripped = strip_block(text)
    if stripped == text:
        return False
    if stripped.strip():
        write_atomic(script, stripped)
    else:
        script.unlink()
    return True
