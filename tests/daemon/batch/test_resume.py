"""A 20-take batch killed mid-run and resumed; a full disk; tampered outputs."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from batch_helpers import run_cli, write_takes
from daemon_proc import wait_gone
from equal_outputs import assert_same_outputs

from motionbridge.daemon.batch import manifest, review, runner
from motionbridge.daemon.batch.generation import EngineGenerator
from motionbridge.exporters import atomic, npz, registry

TAKES = 20


def two_formats() -> tuple[str, str]:
    """npz plus the best other writer this checkout has (FBX or GLB once exporters land)."""
    def available(ext: str) -> bool:
        try:
            registry.writer_for(f"x.{ext}")
            return True
        except atomic.ExportError:
            return False

    exts = [e.lstrip(".") for e in registry.supported_extensions()]
    other = next((e for e in ("glb", "fbx", "usda", "bvh") if available(e)), None)
    if other is None:
        pytest.fail(f"only {exts} writers are registered; the batch test needs two formats")
    return ("npz", other)


def output_files(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_file() and not p.name.startswith((".", "manifest")))


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def check_consistent(out: Path, formats: tuple[str, ...], count: int) -> list[dict]:
    """Exactly count x formats files, one manifest line per take, every file matching it."""
    files = output_files(out)
    assert len(files) == count * len(formats), [p.name for p in files]
    assert not list(out.glob(".*.part")), "temp files left behind"
    lines = [json.loads(line) for line in (out / manifest.MANIFEST).read_text().splitlines()]
    assert [e["take"] for e in lines] == list(range(count)), "duplicate or missing manifest lines"
    listed = Counter(f["path"] for e in lines for f in e["files"])
    assert set(listed) == {p.name for p in files} and max(listed.values()) == 1
    for e in lines:
        assert e["status"] == "ok", e
        assert manifest.files_intact(out, e)
        assert [f["format"] for f in e["files"]] == list(formats)
    for p in files:
        check_valid(p)
    return lines


def check_valid(path: Path) -> None:
    """Reads the file back with an independent reader where one is at hand."""
    if path.suffix == ".npz":
        (clip,) = npz.read(path)
        assert clip.num_frames == 30 and clip.metadata["take_name"] == path.stem
    elif path.suffix == ".glb":
        import pygltflib

        gltf = pygltflib.GLTF2().load_binary(str(path))
        assert len(gltf.animations) == 1 and len(gltf.skins) == 1, path
    elif path.suffix == ".fbx":
        assert path.read_bytes()[:20] == b"Kaydara FBX Binary  ", path
    else:
        assert path.stat().st_size > 0


def test_sigkill_mid_run_then_resume(tmp_path, engine_args, batch_env):
    formats = two_formats()
    takes_file = write_takes(tmp_path / "takes.jsonl", TAKES)
    out = tmp_path / "out"
    args = [str(takes_file), "--out", str(out), "--format", ",".join(formats), "--batch-size", "2", *engine_args]
    # killed with an export worker running: its takes are redone, and the worker does not outlive the run
    proc = subprocess.Popen([sys.executable, "-m", "motionbridge.daemon.cli", "batch", *args, "--export-workers", "1"],
                            env=batch_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        done = sum(len(p.read_text().splitlines()) for p in (out / manifest.SHARDS).glob("*.jsonl")) if (out / manifest.SHARDS).is_dir() else 0
        if done >= 6:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be killed:\n{proc.stderr.read()}"
    workers = children_of(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert workers, "no export worker was running"
    assert all(wait_gone(pid, 30) for pid in workers), "an export worker outlived its killed batch"
    assert 6 <= done < TAKES
    assert len(output_files(out)) < TAKES * len(formats)

    started = time.monotonic()
    result = run_cli([*args, "--resume"], env=batch_env)
    assert result.returncode == 0, result.stderr
    m = re.search(r"(\d+) takes selected of (\d+), (\d+) already done", result.stderr)
    assert m and int(m[1]) == int(m[2]) == TAKES, result.stderr
    skipped = int(m[3])
    assert re.search(r"\] \d+/\d+ takes, 0 failed, \d+ already done, elapsed \d\d:\d\d, ETA \d\d:\d\d", result.stderr)  # progress, no TTY
    assert 6 <= skipped < TAKES  # the kill's complete takes were kept, the rest redone
    check_consistent(out, formats, TAKES)
    assert not list((out / manifest.SHARDS).glob("*.jsonl")), "shards left after a clean finish"
    # the review page's data has one row per take, each with an animated preview
    rows = review.read_data(out)["takes"]
    assert len(rows) == TAKES and all(row["preview"] == f"review/{row['name']}.gif" for row in rows)
    from PIL import Image

    with Image.open(out / "review" / "t07_s7.gif") as gif:
        assert gif.n_frames > 10 and gif.size == (160, 160)
    print(f"resume after kill: {time.monotonic() - started:.1f} s")


class _DiskFullAfter:
    """The `os` module as seen by atomic.py, with os.replace failing ENOSPC after n calls."""

    def __init__(self, n: int):
        self.left = n

    def __getattr__(self, name):
        return getattr(os, name)

    def replace(self, src, dst):
        if self.left <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.left -= 1
        return os.replace(src, dst)


def test_full_disk_stops_cleanly_and_resumes(tmp_path, engine, monkeypatch):
    takes_file = write_takes(tmp_path / "takes.jsonl", 6, prompts=2)
    out = tmp_path / "out"
    config = runner.BatchConfig(takes_file, out, formats=("npz",), batch_size=2, previews=False)
    generator = EngineGenerator(engine)
    monkeypatch.setattr(atomic, "os", _DiskFullAfter(3))
    result = runner.run_local(runner.plan(config), generator)
    assert result.exit_code == 1 and result.stopped and "disk full" in result.stopped and "--resume" in result.stopped
    assert result.ok == 3 and [f[1] for f in result.failed] == ["t03_s3"]  # stopped at once: t04, t05 not tried
    assert sorted(p.name for p in output_files(out)) == ["t00_s0.npz", "t01_s1.npz", "t02_s2.npz"]
    assert not list(out.glob(".*.part"))
    # the merge could not be written either (same disk): the records stay in this run's shard
    latest = manifest.read_latest(out)
    assert [(i, latest[i]["status"]) for i in sorted(latest)] == [(0, "ok"), (1, "ok"), (2, "ok"), (3, "failed")]
    assert "disk full" in latest[3]["error"]

    monkeypatch.setattr(atomic, "os", os)  # space freed
    resumed = runner.run_local(runner.plan(runner.BatchConfig(**{**config.__dict__, "resume": True})), generator)
    assert (resumed.exit_code, resumed.ok, resumed.skipped) == (0, 3, 3)
    check_consistent(out, ("npz",), 6)


def test_resume_redoes_tampered_missing_and_changed_takes(tmp_path, engine):
    takes_file = write_takes(tmp_path / "takes.jsonl", 5, prompts=2)
    out = tmp_path / "out"
    config = runner.BatchConfig(takes_file, out, formats=("npz",), batch_size=4, previews=False, resume=True)
    generator = EngineGenerator(engine)
    assert runner.run_local(runner.plan(config), generator).ok == 5
    before = {p.name: (np.load(p, allow_pickle=False)["rotations"], manifest.sha256_of(p)) for p in out.glob("*.npz")}
    (out / "t01_s1.npz").write_bytes(b"truncated")
    (out / "t02_s2.npz").unlink()
    same_size = bytearray((out / "t04_s4.npz").read_bytes())
    same_size[len(same_size) // 2] ^= 0xFF  # one flipped byte: the size still matches, the sha256 does not
    (out / "t04_s4.npz").write_bytes(bytes(same_size))
    write_takes(takes_file, 5, prompts=2, extra={3: {"cfg": 2.0}})  # row 3 changed since the run
    p = runner.plan(config)
    assert p.pending == [1, 2, 3, 4] and p.skipped == 1
    assert runner.run_local(p, generator).ok == 4
    lines = check_consistent(out, ("npz",), 5)
    assert lines[3]["cfg"] == 2.0
    # redone with the same request: the same bytes as before (a take is a pure function of its request)
    for name in ("t00_s0.npz", "t01_s1.npz", "t02_s2.npz", "t04_s4.npz"):
        assert manifest.sha256_of(out / name) == before[name][1], name
    # a shard cut short by a kill (partial last line) is read up to that line
    shard = out / manifest.SHARDS / "elsewhere@1@1.jsonl"
    shard.write_text(json.dumps({**lines[0], "finished_at": lines[0]["finished_at"] + 1}) + "\n" + '{"schema": "motionb')
    assert manifest.read_latest(out)[0]["finished_at"] == lines[0]["finished_at"] + 1


def test_sigterm_from_a_farm_merges_the_manifest_on_the_way_out(tmp_path, engine_args, batch_env):
    takes_file = write_takes(tmp_path / "takes.jsonl", 12, prompts=2)
    out = tmp_path / "out"
    args = [str(takes_file), "--out", str(out), "--format", "npz", "--batch-size", "1", "--no-preview", *engine_args]
    proc = subprocess.Popen([sys.executable, "-m", "motionbridge.daemon.cli", "batch", *args], env=batch_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        shards = list((out / manifest.SHARDS).glob("*.jsonl")) if (out / manifest.SHARDS).is_dir() else []
        if sum(len(p.read_text().splitlines()) for p in shards) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err, err
    lines = [json.loads(line) for line in (out / manifest.MANIFEST).read_text().splitlines()]
    assert 3 <= len(lines) < 12 and all(e["status"] == "ok" for e in lines)
    assert not list((out / manifest.SHARDS).glob("*.jsonl"))
    assert len(lines) <= len(list(out.glob("*.npz"))) <= len(lines) + 1  # + the take cut short, if any


def test_take_bytes_do_not_depend_on_its_window_or_a_resume(tmp_path, engine):
    """Mixed prompts, lengths and cfg: windows of 4 and of 1 and a resume with windows of 3
    after losing some takes give the same bytes in every file."""
    formats = two_formats()
    takes_file = write_takes(tmp_path / "takes.jsonl", 8, prompts=3, extra={1: {"duration": 2.0}, 3: {"cfg": 5.0}, 6: {"duration": 1.5}})

    def run(out: str, batch_size: int, resume: bool = False) -> runner.BatchResult:
        config = runner.BatchConfig(takes_file, tmp_path / out, formats=formats, batch_size=batch_size, resume=resume, previews=False)
        return runner.run_local(runner.plan(config), EngineGenerator(engine))

    assert run("windows4", 4).exit_code == 0 and run("alone", 1).exit_code == 0
    assert_same_outputs(tmp_path / "alone", tmp_path / "windows4")
    for name in ("t01_s1", "t02_s2", "t06_s6"):
        (tmp_path / "windows4" / f"{name}.npz").unlink()
    resumed = run("windows4", 3, resume=True)
    assert resumed.exit_code == 0 and resumed.skipped == 5 and resumed.ok == 3
    assert_same_outputs(tmp_path / "alone", tmp_path / "windows4")


def test_a_disk_full_from_the_start_is_one_clean_message(tmp_path, engine, monkeypatch):
    """Every write fails with ENOSPC (/dev/full): the take fails as `disk full`, the run stops
    with the resume hint, and no half-written ZipFile is left to print a traceback when it is
    garbage-collected."""
    import builtins
    import gc

    unraisable: list = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    real_open = builtins.open
    monkeypatch.setattr(npz, "open", lambda path, mode="r", *a, **kw:
                        real_open("/dev/full", mode, *a, **kw) if "w" in mode else real_open(path, mode, *a, **kw),
                        raising=False)
    takes_file = write_takes(tmp_path / "takes.jsonl", 2)
    config = runner.BatchConfig(takes_file, tmp_path / "out", formats=("npz",), batch_size=2, previews=False)
    result = runner.run_local(runner.plan(config), EngineGenerator(engine))
    gc.collect()
    assert result.failed and result.failed[0][2] == "disk full", result.summary()
    assert result.stopped.startswith("disk full while writing take") and "rerun with --resume" in result.stopped
    assert not unraisable, [str(u.exc_value) for u in unraisable]
