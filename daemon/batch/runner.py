"""One batch run: check everything, find what is left to do, generate, write, report.

The same steps serve every backend: `plan()` does the checks and the resume bookkeeping,
`run_windows()` drives a Generator (in-process engine or daemon) window by window, and
`finish()` merges the manifest and writes the review page. Ray (`ray_runner.py`) swaps the
middle step for actors that call `run_windows()` themselves.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from motionbridge.exporters import registry

from . import manifest, retarget, review, takes
from .export_pool import ExportBroken, make_exporter
from .generation import EngineBroken, Generated, Generator, windows
from .progress import Progress
from .writer import REVIEW_DIR, DiskFull, OutputOptions, TakeWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchConfig:
    takes_file: Path
    out_dir: Path
    formats: tuple[str, ...] = ("npz",)
    rig: str | None = None
    selection: str | None = None  # "0-99"; None = every take
    resume: bool = False
    batch_size: int = 8  # takes per engine call
    previews: bool = True
    export_workers: int = 0  # processes that export while the engine generates (0: in line)
    merge: bool = True  # False: leave the shard for a final `batch --merge` (farm tasks)
    subfolders: int | None = None  # takes per subfolder; 0: none; None: SUBFOLDER_SIZE past SUBFOLDERS_FROM takes

    def output_options(self) -> OutputOptions:
        return OutputOptions(self.out_dir, self.formats, self.rig, self.previews, self.subfolders or 0)


# a folder of 10,000 takes x 3 formats is slow to list on shared storage and in file browsers
SUBFOLDERS_FROM = 2000
SUBFOLDER_SIZE = 1000


@dataclass
class Plan:
    config: BatchConfig
    num_takes: int  # in the whole file
    selected: range
    pending: list[int]  # take indices still to do (ints only: small even for 100k takes)
    skipped: int  # selected takes already complete


@dataclass
class BatchResult:
    selected: int
    ok: int = 0
    skipped: int = 0
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (index, name, error)
    stopped: str | None = None  # why the run stopped early (disk full)
    elapsed_s: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if (self.failed or self.stopped) else 0

    def summary(self) -> str:
        lines = [f"{self.ok} ok, {self.skipped} already done, {len(self.failed)} failed of {self.selected} takes in {self.elapsed_s:.1f} s"]
        for index, name, error in self.failed[:50]:
            lines.append(f"  FAILED #{index} {name}: {error}")
        if len(self.failed) > 50:
            lines.append(f"  ... and {len(self.failed) - 50} more (see manifest.jsonl)")
        if self.stopped:
            lines.append(f"STOPPED: {self.stopped}")
        return "\n".join(lines)


def check_formats(formats: set[str]) -> None:
    """Every format has a writer that imports here; otherwise fail before any GPU work."""
    for fmt in sorted(formats):
        registry.writer_for(f"x.{fmt}")


def plan(config: BatchConfig) -> Plan:
    """Validates the takes file, formats and rigs; works out which selected takes remain.
    Raises ValueError (TakesFileError for bad rows) before anything runs."""
    summary = takes.validate(config.takes_file)
    if config.subfolders is None:  # decided by the whole file, so every farm task agrees
        config = dataclasses.replace(config, subfolders=SUBFOLDER_SIZE if summary.num_takes > SUBFOLDERS_FROM else 0)
    elif config.subfolders < 0:
        raise ValueError(f"--subfolders must be 0 (none) or a number of takes per subfolder, got {config.subfolders}")
    selected = takes.parse_range(config.selection, summary.num_takes)
    check_formats(set(config.formats) | set(summary.formats))
    for spec in sorted(summary.rigs | ({config.rig} if config.rig else set())):
        retarget.check_spec(spec)
    _check_writable(config.out_dir)
    _check_no_links(config.out_dir)
    latest = manifest.read_latest(config.out_dir) if config.resume else {}
    options = config.output_options()
    pending: list[int] = []
    skipped = 0
    for take in selected_takes(config.takes_file, selected):
        verdict = manifest.check_done(config.out_dir, latest.get(take.index), options.expect(take))
        if verdict.done:
            skipped += 1
        else:
            pending.append(take.index)
    return Plan(config, summary.num_takes, selected, pending, skipped)


def _check_writable(out_dir: Path) -> None:
    """Fails before any work when the output folder (or the parent it will be made in) is
    not writable; creates nothing, so `--check` and refused runs leave no trace."""
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write to {existing}; pass an --out folder you can write to")


def _check_no_links(out_dir: Path) -> None:
    """The names the batch writes under, besides the take files (which are replaced by rename,
    never written through), must not be symbolic links: a link planted as `review` or
    `manifest.d` would send previews, the page or the shards wherever it points."""
    for name in (REVIEW_DIR, manifest.SHARDS, manifest.MANIFEST, f"{REVIEW_DIR}/{review.PAGE}"):
        if (out_dir / name).is_symlink():
            raise ValueError(f"{out_dir / name} is a symbolic link; the batch writes only into real folders: remove it")


def selected_takes(takes_file: Path, selected: range) -> Iterator[takes.Take]:
    for take in takes.iter_takes(takes_file):
        if take.index >= selected.stop:
            return
        if take.index >= selected.start:
            yield take


def pending_takes(p: Plan) -> Iterator[takes.Take]:
    wanted = set(p.pending)
    return (t for t in selected_takes(p.config.takes_file, p.selected) if t.index in wanted)


def run_windows(
    generator: Generator, take_iter: Iterator[takes.Take], writer: TakeWriter, batch_size: int, result: BatchResult,
    progress: Progress | None, export_workers: int = 0,
) -> None:
    """Generates window after window; the takes are exported in `export_workers` processes
    while the next window generates (in line with 0). Stops at a full disk."""

    def recorded(gen: Generated, entry: dict[str, Any]) -> None:
        if entry["status"] == "ok":
            result.ok += 1
        else:
            result.failed.append((gen.take.index, gen.take.name, entry["error"] or "failed"))
        if progress:
            progress.update(ok=entry["status"] == "ok", failed=entry["status"] != "ok")

    exporter = make_exporter(writer, recorded, export_workers, batch_size)
    try:
        for window in windows(take_iter, batch_size):
            try:
                generated = generator.generate(window)
            except EngineBroken as exc:
                result.stopped = str(exc)
                break
            for gen in generated:
                exporter.submit(gen)
                gen.clip = None  # drop the clip now: memory stays bounded by the export queue
        exporter.drain()
    except DiskFull as exc:
        result.failed.append((exc.take_index, exc.take_name, "disk full"))
        result.stopped = str(exc)
    except ExportBroken as exc:
        result.stopped = str(exc)
    finally:
        exporter.close()


def run_local(p: Plan, generator: Generator) -> BatchResult:
    start = time.monotonic()
    result = BatchResult(selected=len(p.selected), skipped=p.skipped)
    progress = Progress(len(p.pending), skipped=p.skipped)
    shard = manifest.ShardWriter(p.config.out_dir)
    try:
        writer = TakeWriter(p.config.output_options(), shard)
        run_windows(generator, pending_takes(p), writer, p.config.batch_size, result, progress, p.config.export_workers)
    finally:
        shard.close()
        progress.close()
        getattr(generator, "close", lambda: None)()
        if p.config.merge:
            finish(p.config, drop=(shard.path,), result=result)
        result.elapsed_s = time.monotonic() - start
    return result


def finish(config: BatchConfig, drop: tuple[Path, ...], result: BatchResult) -> None:
    """Merges the manifest and writes the review page; on a full disk says so and leaves
    the shards in place (the next --resume reads them)."""
    try:
        config.out_dir.mkdir(parents=True, exist_ok=True)
        manifest.merge(config.out_dir, drop=drop)
        entries = manifest.read_latest(config.out_dir)
        review.write_page(config.out_dir, (entries[i] for i in sorted(entries)), f"MotionBridge batch: {config.takes_file.name}")
    except OSError as exc:
        if not manifest.is_disk_full(exc):
            raise
        result.stopped = result.stopped or f"disk full while merging the manifest in {config.out_dir}; free space and rerun with --resume"


def take_to_json(take: takes.Take) -> str:
    return json.dumps(asdict(take))


def take_from_json(text: str) -> takes.Take:
    data: dict[str, Any] = json.loads(text)
    if data.get("formats") is not None:
        data["formats"] = tuple(data["formats"])
    return takes.Take(**data)
