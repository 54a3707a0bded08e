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
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from motionbridge.rigs import Clip, Skeleton

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
        "fps": np.float64(clip.fps),
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


def read(path: str | Path) -> list[Clip]:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "format" not in data.files or str(data["format"]) != FORMAT:
                raise ExportError(f"{path} is not a MotionBridge tracks file ({FORMAT})")
            if "take_names" not in data.files:
                return [_clip_from(data, "")]
            return [_clip_from(data, f"take{i}/") for i in range(len(data["take_names"]))]
    except (OSError, ValueError, KeyError) as exc:
        if isinstance(exc, ExportError):
            raise
        raise ExportError(f"cannot read {path}: {exc}") from exc
