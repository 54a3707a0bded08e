"""The takes file's directing columns: the `motionbridge generate` directing flags, as columns
(start_from, end_at, keys, loop, regenerate + from, path, extend, prompt_at).

A row's columns are checked with the row, exactly as the CLI checks its flags (the same
reader, daemon/controls/cli.py), so `batch --check` reports a bad file or frame on the row's
line before anything runs. File columns are relative to the takes file's folder and must stay
inside it: an absolute path, `..` or a symbolic link that leads out is refused.

A take carries its columns as one canonical JSON text (`Take.directing`): the file paths as
resolved, plus each file's SHA-256. It is part of the take's identity in the manifest, so
changing a column or a file it names redoes that take on --resume.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .manifest import sha256_of

FILE_COLUMNS = ("start_from", "end_at", "keys", "from", "path")
FLAG_COLUMNS = ("loop", "extend")
COLUMNS = frozenset({*FILE_COLUMNS, *FLAG_COLUMNS, "regenerate", "prompt_at"})
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def read_columns(raw: dict[str, Any], base: Path, prompt: str, duration_s: float) -> str:
    """The row's directing columns as Take.directing ('' when it has none); ValueError with
    what is wrong, as the CLI words it."""
    given = {k: raw[k] for k in COLUMNS if raw.get(k) not in (None, "", False)}
    if not given:
        return ""
    columns: dict[str, Any] = {}
    files: dict[str, str] = {}
    for name in FILE_COLUMNS:
        if name in given:
            text, frame = _split_frame(str(given[name]).strip(), name)
            path = _inside(base, text, name)
            columns[name] = str(path) + frame
            if path.is_file():
                files[str(path)] = sha256_of(path)
    for name in FLAG_COLUMNS:
        if name in given:
            columns[name] = _flag(given[name], name)
    if "regenerate" in given:
        columns["regenerate"] = str(given["regenerate"]).strip()
    if "prompt_at" in given:
        columns["prompt_at"] = _prompt_at(given["prompt_at"])
    directing = json.dumps({**columns, "files": files}, sort_keys=True, ensure_ascii=False)
    controls(directing, prompt, duration_s)  # read and check every file and frame now
    return directing


def controls(directing: str, prompt: str, duration_s: float):
    """Take.directing -> the checked spec.Controls, read as `motionbridge generate` reads its
    flags; ValueError otherwise."""
    from motionbridge.daemon.controls.cli import read_flags
    from motionbridge.daemon.controls.wire import check_duration

    columns = json.loads(directing)
    args = argparse.Namespace(
        prompt=prompt, start_from=columns.get("start_from"), end_at=columns.get("end_at"),
        keys=_path_or_none(columns.get("keys")), loop=columns.get("loop", False), path=_path_or_none(columns.get("path")),
        extend=columns.get("extend", False), prompt_at=columns.get("prompt_at", []),
        regenerate=columns.get("regenerate"), regenerate_from=_path_or_none(columns.get("from")),
    )
    found, _ = read_flags(args, duration_s)
    check_duration(found, duration_s)
    return found


def identity(directing: str) -> dict[str, Any]:
    """What the manifest records of a take's directing columns (its resume identity)."""
    return json.loads(directing) if directing else {}


def _path_or_none(text: str | None) -> Path | None:
    return Path(text) if text else None


def _split_frame(text: str, name: str) -> tuple[str, str]:
    """'walk.npz@12' -> ('walk.npz', '@12') for the take columns; the frame is checked later."""
    if name in ("start_from", "end_at"):
        path, sep, frame = text.rpartition("@")
        if sep and path:
            return path, sep + frame
    return text, ""


def _inside(base: Path, text: str, name: str) -> Path:
    if not text:
        raise ValueError(f"{name}: give a file name relative to the takes file's folder")
    if Path(text).is_absolute():
        raise ValueError(f"{name} {text!r}: give a path relative to the takes file's folder, not an absolute one")
    path = base / text
    root = base.resolve()
    if not path.resolve().is_relative_to(root):
        raise ValueError(f"{name} {text!r} leads outside the takes file's folder {root}; keep its files there")
    return path


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in TRUE + FALSE:
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return text in TRUE


def _prompt_at(value: Any) -> list[str]:
    """A list (YAML, JSONL) or, in a CSV cell, entries separated by '|': '4:A person sits.|7:Waves.'"""
    items = value.split("|") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"prompt_at must be SECONDS:PROMPT entries (a list, or separated by '|'), got {value!r}")
    return [i.strip() for i in items if i.strip()]
