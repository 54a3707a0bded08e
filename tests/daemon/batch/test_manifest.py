"""The manifest on shared storage: shards merged without a lock file, and a reader that loses
no take when another process merges shards away under it."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from batch_helpers import write_takes

from motionbridge.daemon.batch import manifest, runner
from motionbridge.daemon.batch.generation import EngineGenerator

DEAD_PID = 2**22 + 12345  # above the default pid_max: no process has it


def entry(take: int, finished_at: float = 1.0) -> dict:
    return {"schema": manifest.SCHEMA, "take": take, "status": "ok", "finished_at": finished_at, "name": f"t{take}"}


def write_shard(out: Path, name: str, takes: list[int]) -> Path:
    (out / manifest.SHARDS).mkdir(parents=True, exist_ok=True)
    path = out / manifest.SHARDS / name
    path.write_text("".join(json.dumps(entry(t)) + "\n" for t in takes))
    return path


def test_a_run_leaves_only_its_outputs(tmp_path, engine):
    """No lock file, no shard: the take files, manifest.jsonl and the review folder."""
    takes_file = write_takes(tmp_path / "takes.jsonl", 2)
    out = tmp_path / "out"
    config = runner.BatchConfig(takes_file, out, formats=("npz",), batch_size=2)
    assert runner.run_local(runner.plan(config), EngineGenerator(engine)).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["manifest.d", "manifest.jsonl", "review", "t00_s0.npz", "t01_s1.npz"]
    assert not list((out / manifest.SHARDS).iterdir())


def test_a_shard_merged_away_under_a_reader_is_read_from_the_new_manifest(tmp_path, monkeypatch):
    """Reader R lists shards a and b and reads the old manifest; then another process merges
    (manifest rewritten with a's takes, then a deleted); R must start over, not skip a."""
    out = tmp_path / "out"
    out.mkdir()
    (out / manifest.MANIFEST).write_text(json.dumps(entry(0)) + "\n")
    a = write_shard(out, "elsewhere@1@1.jsonl", [1, 2])
    write_shard(out, "elsewhere@2@1.jsonl", [3])
    real_read = manifest._read_lines
    merged = []

    def read_then_merge_elsewhere(path, missing_ok):
        yield from real_read(path, missing_ok)
        if path.name == manifest.MANIFEST and not merged:  # the other process's merge, between R's reads
            merged.append(True)
            monkeypatch.setattr(manifest, "_read_lines", real_read)
            manifest.merge(out, drop=(a,))
            monkeypatch.setattr(manifest, "_read_lines", read_then_merge_elsewhere)

    monkeypatch.setattr(manifest, "_read_lines", read_then_merge_elsewhere)
    assert sorted(manifest.read_latest(out)) == [0, 1, 2, 3]
    assert merged and not a.exists()


def test_merge_keeps_a_shard_that_appeared_after_it_read(tmp_path, monkeypatch):
    """Shards are deleted only if the merge read them: one written meanwhile stays, even one
    of a process of this host that has ended (whose shards a merge otherwise removes)."""
    out = tmp_path / "out"
    ended = f"{socket.gethostname()}@{DEAD_PID}"
    own = write_shard(out, f"{ended}@1.jsonl", [0])
    real_read_latest = manifest.read_latest
    late: list[Path] = []

    def read_then_a_late_shard(out_dir):
        latest = real_read_latest(out_dir)
        late.append(write_shard(out, f"{ended}@2.jsonl", [1]))
        return latest

    monkeypatch.setattr(manifest, "read_latest", read_then_a_late_shard)
    assert manifest.merge(out, drop=(own,)) == 1
    monkeypatch.setattr(manifest, "read_latest", real_read_latest)
    assert late[0].exists() and sorted(manifest.read_latest(out)) == [0, 1]
