"""From a generated clip to files on disk and a manifest entry, for one take.

Order matters for resume: every output file is written atomically first, then the preview,
and the manifest entry (with each file's size and sha256) goes last. A take killed halfway
has no "ok" entry and is redone; one with an entry is verified against its files.
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motionbridge.exporters import registry

from . import manifest, preview, retarget
from .directing import identity as directing_identity
from .generation import Generated
from .takes import Take

REVIEW_DIR = "review"
# per-run clip metadata (engine timings, the engine's request id) goes to the manifest, not
# into the files, so the same take gives the same file whichever backend made it
VOLATILE_METADATA = ("timings", "request_id")
MAX_WARNINGS = 20


class DiskFull(OSError):
    """Out of space: the run stops (every later take would fail too) and can be resumed."""

    def __init__(self, message: str, take_index: int, take_name: str):
        super().__init__(errno.ENOSPC, message)
        self.take_index = take_index
        self.take_name = take_name

    def __str__(self) -> str:  # the message alone, without OSError's "[Errno 28]"
        return str(self.strerror)


@dataclass(frozen=True)
class OutputOptions:
    out_dir: Path
    formats: tuple[str, ...]  # default, when a row gives none
    rig: str | None  # default, when a row gives none
    previews: bool = True
    subfolder_size: int = 0  # takes per subfolder (0: every file in out_dir itself)

    def subfolder(self, take: Take) -> str:
        """'' or the take's subfolder, e.g. '01000-01999': a function of the take's index only."""
        if not self.subfolder_size:
            return ""
        first = take.index // self.subfolder_size * self.subfolder_size
        return f"{first:05d}-{first + self.subfolder_size - 1:05d}"

    def formats_for(self, take: Take) -> tuple[str, ...]:
        return take.formats or self.formats

    def rig_for(self, take: Take) -> str | None:
        return take.rig or self.rig

    def paths_for(self, take: Take) -> list[tuple[str, Path]]:
        folder = self.out_dir / self.subfolder(take)
        return [(fmt, folder / f"{take.name}.{fmt}") for fmt in self.formats_for(take)]

    def preview_path(self, take: Take) -> Path:
        return self.out_dir / REVIEW_DIR / self.subfolder(take) / f"{take.name}.gif"

    def expect(self, take: Take) -> dict[str, Any]:
        """What a complete manifest entry must say for this take to count as done (a directed
        take's columns and their files' digests too: batch/directing.py)."""
        expected = {
            "name": take.name, "seed": take.seed, "prompt": take.prompt, "cfg": take.cfg,
            "duration_s": take.duration_s, "formats": list(self.formats_for(take)), "rig": self.rig_for(take),
        }
        if take.directing:  # absent for a plain take, so its entries from before still count
            expected["directing"] = directing_identity(take.directing)
        return expected


class TakeWriter:
    """Exports takes (here, or in an ExportPool's worker processes: `export_take`) and records
    each entry in this process's manifest shard."""

    def __init__(self, options: OutputOptions, shard: manifest.ShardWriter):
        self.options = options
        self.shard = shard
        if options.previews:
            (options.out_dir / REVIEW_DIR).mkdir(parents=True, exist_ok=True)

    def finish(self, gen: Generated) -> dict[str, Any]:
        """Writes the take's files and its manifest entry; returns the entry. Raises
        DiskFull when out of space (after recording the failure if there is room)."""
        return self.record(*export_take(self.options, gen))

    def record(self, entry: dict[str, Any], disk_full: bool) -> dict[str, Any]:
        """Appends an exported take's entry to the shard, last, once its files are on disk."""
        try:
            self.shard.append(entry)
        except OSError as exc:
            if not manifest.is_disk_full(exc):
                raise
            disk_full = True
        if disk_full:
            raise DiskFull(f"disk full while writing take {entry['name']}; free space in {self.options.out_dir} and rerun with --resume",
                           entry["take"], entry["name"])
        return entry


def export_take(opts: OutputOptions, gen: Generated) -> tuple[dict[str, Any], bool]:
    """Retargets, writes and previews one take: its manifest entry (not yet recorded) and
    whether the disk was full. Pure of process state, so an export worker can run it."""
    take = gen.take
    entry: dict[str, Any] = {
        "take": take.index, "line": take.line, "status": "failed", "files": [],
        "model": gen.model_name, "model_hash": gen.model_hash, "timings": dict(gen.timings),
        "warnings": list(gen.warnings), "metrics": {}, "error": gen.error, "retries": gen.retries, **opts.expect(take),
    }
    disk_full = False
    if gen.clip is not None:
        try:
            _write(opts, gen, entry)
            entry["status"] = "ok"
            entry["error"] = None
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["files"] = []
            disk_full = manifest.is_disk_full(exc)
    return entry, disk_full


def _write(opts: OutputOptions, gen: Generated, entry: dict[str, Any]) -> None:
    take = gen.take
    clip = gen.clip
    assert clip is not None
    for key in VOLATILE_METADATA:
        clip.metadata.pop(key, None)
    clip.metadata.update({"take_name": take.name, "take_index": take.index, "prompt": take.prompt, "seed": take.seed, "cfg": take.cfg})
    timings = entry["timings"]
    rig = opts.rig_for(take)
    if rig:
        start = time.perf_counter()
        clip, entry["metrics"] = retarget.apply(rig, clip)
        timings["retarget_s"] = time.perf_counter() - start
    for fmt, path in opts.paths_for(take):
        start = time.perf_counter()
        if opts.subfolder_size:
            path.parent.mkdir(exist_ok=True)
        written = registry.export(path, [clip], [take.name])
        entry["warnings"].extend(f"{fmt}: {w}" for w in written.warnings)
        timings[f"write_{fmt}_s"] = time.perf_counter() - start
        entry["files"].append(manifest.file_record(opts.out_dir, path, fmt))
    if len(entry["warnings"]) > MAX_WARNINGS:
        more = len(entry["warnings"]) - MAX_WARNINGS
        entry["warnings"] = entry["warnings"][:MAX_WARNINGS] + [f"... and {more} more"]
    if opts.previews:
        start = time.perf_counter()
        gif_path = opts.preview_path(take)
        if opts.subfolder_size:
            gif_path.parent.mkdir(exist_ok=True)
        gif = preview.render_gif(clip, gif_path, rig=retarget.load_target(rig).mapping if rig else None)
        entry["preview"] = gif.relative_to(opts.out_dir).as_posix()
        timings["preview_s"] = time.perf_counter() - start
    entry["frames"] = clip.num_frames
    entry["fps"] = clip.fps
