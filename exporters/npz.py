"""NPZ: MotionBridge's SMPL-X joint tracks (lossless; `convert` reads it back).

Layout (np.load(..., allow_pickle=False) works; strings are fixed-width unicode arrays):
    format            "motionbridge.tracks/1"
    joint_names       (J,) str
    parents           (J,) int32, -1 for the root
    rest_translations (J, 3) float64, parent-relative rest offsets
    rest_rotations    (J, 4) float64, xyzw
    rotations         (F, J, 4) float32, local rotations, xyzw
    root_translation  (F, 3) float32, local translation of joint 0
    fps               () float64
    up_axis, units    () str
    quaternion_order  () str, "xyzw"
    metadata_json     () str, JSON object (prompt, seed, cfg, model, hash, versions, ...)
With several takes, every key is prefixed "take<i>/" and `take_names` lists the names.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from motionbridge.rigs import Clip, RigError, Skeleton

from .atomic import ExportError, atomic_path
from .prepare import check_finite

FORMAT = "motionbridge.tracks/1"


def clip_arrays(clip: Clip) -> dict[str, np.ndarray]:
    s = clip.skeleton
    return {
        "joint_names": np.array(s.names),
        "parents": s.parents.astype(np.int32),
        "rest_translations": s.rest_translations,
        "rest_rotations": s.rest_rotations,
        "rotations": clip.rotations.astype(np.float32),
        "root_translation": clip.root_translation.astype(np.float32),
        "fps": np.array(clip.fps, dtype=np.float64),
        "up_axis": np.array(s.up_axis),
        "units": np.array(s.units),
        "quaternion_order": np.array("xyzw"),
        "metadata_json": np.array(json.dumps(clip.metadata, default=_json_default, sort_keys=True)),
    }


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"metadata value of type {type(obj).__name__} is not JSON-serialisable")


def write(path: Path, takes: Sequence[Clip], names: Sequence[str], **options: Any) -> None:
    if options:
        raise ExportError(f"NPZ tracks take no options, got {sorted(options)}")
    for clip, name in zip(takes, names):
        check_finite(clip, name)
    arrays: dict[str, np.ndarray] = {"format": np.array(FORMAT)}
    if len(takes) == 1:
        arrays.update(clip_arrays(takes[0]))
    else:
        arrays["take_names"] = np.array(list(names))
        for i, clip in enumerate(takes):
            arrays.update({f"take{i}/{k}": v for k, v in clip_arrays(clip).items()})
    # zipped in memory, then written: a full disk fails the one write, not numpy's ZipFile, which
    # would be left holding the closed file and print a traceback when garbage-collected
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(buffer.getbuffer())


def _clip_from(data: Any, prefix: str) -> Clip:
    skel = Skeleton(
        names=tuple(str(n) for n in data[prefix + "joint_names"]),
        parents=data[prefix + "parents"],
        rest_translations=data[prefix + "rest_translations"],
        rest_rotations=data[prefix + "rest_rotations"],
        up_axis=str(data[prefix + "up_axis"]),
        units=str(data[prefix + "units"]),
    )
    return Clip(
        skeleton=skel,
        rotations=data[prefix + "rotations"].astype(np.float64),
        root_translation=data[prefix + "root_translation"].astype(np.float64),
        fps=float(data[prefix + "fps"]),
        metadata=json.loads(str(data[prefix + "metadata_json"])),
    )


MAX_TAKES_BYTES = 1 << 30  # all arrays of one tracks file once inflated (a 60 s take is ~2 MB)


def _check_archive(path: Path) -> None:
    """Refuse what np.load would mishandle: a file that is not a zip (np.load falls back to
    pickle and blames that), and members that inflate past MAX_TAKES_BYTES."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror}") from None
    if magic[:2] != b"PK":
        raise ExportError(f"{path} is not a MotionBridge tracks file: not an NPZ (zip) archive")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise ExportError(f"{path} is truncated or damaged: {str(exc)[:120]}") from None
    if sum(i.file_size for i in infos) > MAX_TAKES_BYTES:
        raise ExportError(f"{path} declares more than {MAX_TAKES_BYTES >> 20} MiB of arrays; refusing to inflate it")


def read(path: str | Path) -> list[Clip]:
    path = Path(path)
    _check_archive(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if "format" not in data.files or str(data["format"]) != FORMAT:
                raise ExportError(f"{path} is not a MotionBridge tracks file ({FORMAT})")
            if "take_names" not in data.files:
                return [_clip_from(data, "")]
            return [_clip_from(data, f"take{i}/") for i in range(len(data["take_names"]))]
    except ExportError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, RecursionError, NotImplementedError, zlib.error,
            zipfile.BadZipFile, RigError) as exc:
        # a damaged member, a missing key, or arrays that do not form a skeleton and clip
        raise ExportError(f"cannot read {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
