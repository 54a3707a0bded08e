"""The manifest: one JSON line per take, the record `--resume` trusts.

Each running process appends to its own shard (`DIR/manifest.d/<host>@<pid>@<time>.jsonl`,
flushed and fsynced per line), so concurrent farm tasks and Ray actors never interleave
writes. A merge folds the shards into `DIR/manifest.jsonl` (rewritten atomically, one line
per take, sorted by take index); the latest entry for a take wins. A SIGKILL leaves at worst
a partial last line in a shard, which readers skip.

No lock (fcntl is not to be trusted on NFS): a merge renames the new manifest into place
first and only then deletes the shards it folded in, and a reader lists the shards before
it reads the manifest, so a shard that vanishes under a reader was merged into a manifest
the reader will see when it starts over (`read_latest`). Concurrent merges therefore lose
nothing; farm tasks may also leave the merge to one final step (`batch --merge`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motionbridge.exporters.atomic import atomic_path

MANIFEST = "manifest.jsonl"
SHARDS = "manifest.d"
SCHEMA = "motionbridge.batch/1"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_record(out_dir: Path, path: Path, fmt: str) -> dict[str, Any]:
    return {"format": fmt, "path": path.relative_to(out_dir).as_posix(), "bytes": path.stat().st_size, "sha256": sha256_of(path)}


def files_intact(out_dir: Path, entry: dict[str, Any]) -> bool:
    """True when every file the entry lists exists with the recorded size and sha256."""
    files = entry.get("files") or []
    for rec in files:
        path = out_dir / rec["path"]
        try:
            if path.stat().st_size != rec["bytes"] or sha256_of(path) != rec["sha256"]:
                return False
        except (OSError, KeyError):
            return False
    return bool(files)


class _Vanished(Exception):
    """A shard listed a moment ago is gone: another process merged and deleted it."""


def _read_lines(path: Path, missing_ok: bool) -> Iterator[dict[str, Any]]:
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return
        raise _Vanished(path) from None
    with fh:
        for line in fh:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill or a full disk
            if isinstance(entry, dict) and entry.get("schema") == SCHEMA and isinstance(entry.get("take"), int):
                yield entry


def _newer(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
    return a is None or b.get("finished_at", 0) >= a.get("finished_at", 0)


READ_ATTEMPTS = 20


def read_latest(out_dir: Path) -> dict[int, dict[str, Any]]:
    """take index -> its latest entry, over the merged manifest and every shard."""
    for _ in range(READ_ATTEMPTS):
        shards = sorted((out_dir / SHARDS).glob("*.jsonl"))  # listed before the manifest is read
        latest: dict[int, dict[str, Any]] = {}
        try:
            for src in [out_dir / MANIFEST, *shards]:
                for entry in _read_lines(src, missing_ok=src.name == MANIFEST):
                    if _newer(latest.get(entry["take"]), entry):
                        latest[entry["take"]] = entry
        except _Vanished:
            continue  # merged meanwhile: the manifest now holds it
        return latest
    raise OSError(f"the manifest shards in {out_dir / SHARDS} kept changing during {READ_ATTEMPTS} reads; rerun")


class ShardWriter:
    """This process's append-only shard."""

    def __init__(self, out_dir: Path, tag: str = ""):
        self.out_dir = out_dir
        shard_dir = out_dir / SHARDS
        shard_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{socket.gethostname()}@{os.getpid()}@{time.time_ns()}{('@' + tag) if tag else ''}"
        self.path = shard_dir / f"{stem}.jsonl"
        self._fh = open(self.path, "a", encoding="utf-8")

    def append(self, entry: dict[str, Any]) -> None:
        entry = {"schema": SCHEMA, "finished_at": time.time(), **entry}
        self._fh.write(json.dumps(entry, sort_keys=True, default=_plain) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._fh.close()


def _plain(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _pid_alive_here(shard: Path) -> bool:
    """False only for a shard written by a process of this host that no longer runs."""
    host, _, rest = shard.stem.partition("@")
    if host != socket.gethostname():
        return True  # another machine's process: cannot tell, keep its shard
    try:
        os.kill(int(rest.partition("@")[0]), 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True
    return True


def merge(out_dir: Path, drop: tuple[Path, ...] = ()) -> int:
    """Folds every shard into manifest.jsonl (one line per take); then removes the shards in
    `drop` (this process's own) and those of dead processes on this host. Returns the
    number of takes in the manifest."""
    shards = sorted((out_dir / SHARDS).glob("*.jsonl"))
    latest = read_latest(out_dir)
    with atomic_path(out_dir / MANIFEST) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(latest[index], sort_keys=True) + "\n" for index in sorted(latest))
    for shard in shards:  # only shards read above: one made since may hold entries not merged
        if shard in drop or not _pid_alive_here(shard):
            with contextlib.suppress(OSError):
                shard.unlink()
    return len(latest)


@dataclass
class Verdict:
    done: bool
    reason: str


def check_done(out_dir: Path, entry: dict[str, Any] | None, expect: dict[str, Any]) -> Verdict:
    """Whether a take recorded as `entry` is complete for what is asked now (`expect`:
    name, seed, prompt, formats, rig). Anything else is redone."""
    if entry is None:
        return Verdict(False, "not started")
    if entry.get("status") != "ok":
        return Verdict(False, f"last run {entry.get('status', 'unknown')}")
    for key, value in expect.items():
        if entry.get(key) != value:
            return Verdict(False, f"{key} changed since the last run")
    if not files_intact(out_dir, entry):
        return Verdict(False, "files missing or changed")
    return Verdict(True, "complete")


def is_disk_full(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False
