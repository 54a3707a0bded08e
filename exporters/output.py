"""Output options shared by `motionbridge generate` and `motionbridge convert`.

`add_output_arguments(parser)` adds --rig, --takes-per-file, --up, --units, --body and
--rotation-order; `write_outputs(out_path, clips, args)` retargets (when --rig is given),
groups takes into files and writes them through the registry. File names are stable: one
file keeps `out_path`; several get `_01`, `_02`, ... before the extension, in take order.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from motionbridge.rigs import Clip

from . import registry
from .atomic import ExportError, refuse_symlink

log = logging.getLogger("motionbridge.exporters")

# Which CLI options each format understands (registry extension -> option names).
FORMAT_OPTIONS: dict[str, tuple[str, ...]] = {
    ".fbx": ("up", "units", "body"),
    ".glb": ("body",),
    ".gltf": ("body",),
    ".bvh": ("up", "units", "rotation_order"),
    ".usd": ("up", "units", "body"),
    ".usda": ("up", "units", "body"),
    ".usdc": ("up", "units", "body"),
    ".npz": (),
    ".amass.npz": ("body_model",),
}
SINGLE_TAKE = {".bvh", ".amass.npz"}


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("output")
    g.add_argument("--rig", metavar="PRESET|FILE",
                   help="retarget onto a rig first: a preset (mixamo, ue5_manny, ...), a mapping .json/.toml or a character .fbx/.glb/.bvh")
    g.add_argument("--takes-per-file", type=int, default=0, metavar="N",
                   help="takes per output file (default: all in one where the format allows, else 1)")
    g.add_argument("--up", choices=("y", "z"), help="up axis (FBX/BVH/USD; default: the format's usual one)")
    g.add_argument("--units", choices=("m", "cm"), help="length unit (FBX/BVH/USD; default: FBX/BVH cm, USD m)")
    g.add_argument("--body", action="store_true", help="include the skinned wooden body mesh (FBX/glTF/USD, SMPL-X skeleton only)")
    g.add_argument("--rotation-order", choices=("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"), help="BVH rotation channel order (default ZXY)")
    g.add_argument("--body-model", choices=("smplx", "smplh"), help="AMASS .amass.npz joint set (default smplx)")


def _format_options(ext: str, args: argparse.Namespace) -> dict[str, object]:
    given = {
        "up": getattr(args, "up", None),
        "units": getattr(args, "units", None),
        "body": getattr(args, "body", False) or None,
        "rotation_order": getattr(args, "rotation_order", None),
        "body_model": getattr(args, "body_model", None),
    }
    allowed = FORMAT_OPTIONS.get(ext, ())
    stray = [k for k, v in given.items() if v is not None and k not in allowed]
    if stray:
        flags = ", ".join("--" + k.replace("_", "-") for k in stray)
        verb = "does" if len(stray) == 1 else "do"
        raise ValueError(f"{flags} {verb} not apply to {ext} files; drop it or pick a format that uses it")
    return {k: v for k, v in given.items() if v is not None}


def _layout(out_path: Path, args: argparse.Namespace) -> tuple[str, dict[str, object], int]:
    """(extension, writer options, takes per file with 0 = the format's default), or the error
    for an unknown extension, options the format ignores, or a bad --takes-per-file."""
    registry.writer_for(out_path)
    ext = registry.extension_of(out_path)
    options = _format_options(ext, args)
    per_file = int(getattr(args, "takes_per_file", 0) or 0)
    if per_file < 0:
        raise ValueError(f"--takes-per-file must be 1 or more (or 0 for all in one file), not {per_file}")
    if ext in SINGLE_TAKE and per_file > 1:
        raise ValueError(f"{ext} files hold one take each; use --takes-per-file 1")
    return ext, options, per_file


def check_output_location(out_path: Path) -> None:
    """Neither the output file nor the folder it names may be a symbolic link."""
    refuse_symlink(out_path, "output file")
    refuse_symlink(out_path.parent if str(out_path.parent) else Path("."), "output folder")


def check_output_options(out_path: str | Path, args: argparse.Namespace) -> None:
    """Fail before any generation when the output options cannot work: the `_layout` errors,
    a symlinked output, or a --rig that does not load."""
    _layout(Path(out_path), args)
    check_output_location(Path(out_path))
    rig = getattr(args, "rig", None)
    if rig:
        from motionbridge.rigs import load_rig

        load_rig(rig)  # unknown preset, unreadable file or bad mapping: a RigError (a ValueError)


def retarget_clips(clips: Sequence[Clip], rig: str) -> list[Clip]:
    """Retarget every take onto `rig` (preset name, mapping file or character file)."""
    from motionbridge.rigs import load_rig, retarget
    from motionbridge.rigs.humanoid import build_rig

    mapping = load_rig(rig)
    # A preset or mapping file names bones but has no skeleton: build the family's standard one.
    target = mapping.skeleton if mapping.skeleton is not None else build_rig(mapping)
    out = []
    for clip in clips:
        result = retarget(clip, target, mapping)
        out.append(result.clip.replace(metadata={**clip.metadata, "rig": str(rig)}))
    return out


def take_names(clips: Sequence[Clip]) -> list[str]:
    names = []
    for i, clip in enumerate(clips):
        meta = clip.metadata
        name = meta.get("take_name") or (f"seed{meta['seed']}" if "seed" in meta else f"take{i + 1}")
        names.append(str(name))
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique


def file_paths(out_path: Path, groups: int) -> list[Path]:
    if groups == 1:
        return [out_path]
    ext = registry.extension_of(out_path)
    stem = out_path.name[: len(out_path.name) - len(ext)] if ext else out_path.name
    width = max(2, len(str(groups)))
    return [out_path.with_name(f"{stem}_{i + 1:0{width}d}{ext}") for i in range(groups)]


def write_outputs(
    out_path: str | Path, clips: Sequence[Clip], args: argparse.Namespace, report: Callable[[str], None] | None = None
) -> list[Path]:
    """Write `clips` as the CLI options say; returns the written paths. Warnings go to `report`."""
    out_path = Path(out_path)
    if not clips:
        raise ExportError(f"nothing to write to {out_path}: no takes")
    ext, options, per_file = _layout(out_path, args)  # fail before any work
    check_output_location(out_path)
    if per_file == 0:
        per_file = 1 if ext in SINGLE_TAKE else len(clips)
    rig = getattr(args, "rig", None)
    clips = retarget_clips(clips, rig) if rig else list(clips)
    names = take_names(clips)
    groups = [(clips[i : i + per_file], names[i : i + per_file]) for i in range(0, len(clips), per_file)]
    written = []
    for path, (group, group_names) in zip(file_paths(out_path, len(groups)), groups):
        result = registry.export(path, group, group_names, **options)
        for message in result.warnings:
            (report or log.warning)(f"{path.name}: {message}")
        written.append(result.path)
    return written
