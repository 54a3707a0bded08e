"""Controls on the wire: the optional, versioned `controls` field of GENERATE (PROTOCOL.md,
"Directed takes") <-> `spec.Controls`.

Both directions live here: the client side (`generate --server`, the batch runner) builds the
field, the daemon's server checks it before queueing and its worker rebuilds the Controls
from it. Poses travel as float64 rotation matrices and root translations in raw
little-endian array frames (frames.py), so the daemon samples exactly what an in-process run
would; everything else is plain msgpack. The daemon trusts nothing: shapes, dtypes, finite
values, rotations, frames and combinations are all checked, and a bad field is one
ValueError whose message the daemon sends back in ERROR (bad_request).

It sits here, not in the light layer, because it builds and reads the Controls type; it
imports numpy, the light layer and spec.py only (no torch), so the daemon's server process
stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from motionbridge.daemon.protocol import limits
from motionbridge.daemon.protocol.frames import CONTROLS_VERSION

from .spec import CONTEXT_FRAMES, Controls, Poses, layout

POSES = ("start", "end", "keys", "source")
FIELDS = frozenset({"v", *POSES, "loop", "path", "timeline", "extend_frames"})
PREFIX = "controls."
MODEL_JOINTS = 22
ROTATION_TOLERANCE = 1e-4  # how far from a rotation matrix (R^T R - I, det - 1) a pose may be
MAX_EXTEND_FRAMES = int(limits.MAX_DURATION_S * limits.FPS)


def to_wire(controls: Controls) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The GENERATE `controls` field and its arrays (named 'controls.<part>.<array>')."""
    field: dict[str, Any] = {"v": CONTROLS_VERSION}
    arrays: dict[str, np.ndarray] = {}
    for name in POSES:
        poses: Poses | None = getattr(controls, name)
        if poses is None:
            continue
        field[name] = {"record": dict(poses.record), "root": poses.transl is not None}
        arrays[f"{PREFIX}{name}.rotations"] = np.asarray(poses.rotations, dtype="<f8")
        if poses.transl is not None:
            arrays[f"{PREFIX}{name}.transl"] = np.asarray(poses.transl, dtype="<f8")
    if controls.keys is not None:
        field["keys"]["frames"] = [int(f) for f in controls.key_frames]
    if controls.source is not None:
        field["source"]["span"] = [int(f) for f in controls.span]
    if controls.loop:
        field["loop"] = True
    if controls.path is not None:
        field["path"] = {"record": dict(controls.path_record)}
        arrays[f"{PREFIX}path"] = np.asarray(controls.path, dtype="<f8")
    if controls.timeline:
        field["timeline"] = [[int(f), p] for f, p in controls.timeline]
        field["extend_frames"] = int(controls.extend_frames)
    return field, arrays


def from_wire(field: object, arrays: Mapping[str, np.ndarray], duration_s: float) -> Controls:
    """The checked Controls of a GENERATE whose duration is `duration_s`; ValueError saying
    what is wrong otherwise."""
    if not isinstance(field, Mapping):
        raise ValueError("'controls' must be a map")
    if field.get("v") != CONTROLS_VERSION:
        raise ValueError(f"controls version {field.get('v')!r} is not supported; this daemon reads version {CONTROLS_VERSION}")
    unknown = set(field) - FIELDS
    if unknown:
        raise ValueError(f"unknown controls fields {sorted(map(str, unknown))}; allowed: {sorted(FIELDS)}")
    extra = set(arrays) - {f"{PREFIX}{n}.{a}" for n in POSES for a in ("rotations", "transl")} - {f"{PREFIX}path"}
    if extra:
        raise ValueError(f"unexpected arrays {sorted(extra)} with the controls")
    parts = {name: _poses(name, field[name], arrays) for name in POSES if field.get(name) is not None}
    for name in ("start", "end"):
        if name in parts and len(parts[name]) > CONTEXT_FRAMES:
            raise ValueError(f"controls '{name}' holds {len(parts[name])} poses; at most {CONTEXT_FRAMES}")
    key_frames: tuple[int, ...] = ()
    if "keys" in parts:
        key_frames = _key_frames(field["keys"].get("frames"), len(parts["keys"]))
    span = (0, -1)
    if "source" in parts:
        span = _span(field["source"].get("span"), len(parts["source"]))
    loop = field.get("loop", False)
    if not isinstance(loop, bool):
        raise ValueError("controls 'loop' must be true or false")
    path, path_record = _path(field.get("path"), arrays)
    timeline, extend_frames = _timeline(field.get("timeline"), field.get("extend_frames"))
    controls = Controls(parts.get("start"), parts.get("end"), parts.get("keys"), key_frames, loop, parts.get("source"), span,
                        path, path_record, timeline, extend_frames)
    if not controls:
        raise ValueError("'controls' asks for nothing; leave the field out for a plain take")
    check_duration(controls, duration_s)
    return controls


def check_duration(controls: Controls, duration_s: float) -> None:
    """ValueError if a key or the path lies outside the take this duration makes (an extended
    take's length is its own)."""
    if controls.timeline:
        if controls.timeline[-1][0] >= controls.extend_frames:
            raise ValueError(f"the prompt timeline's last entry starts at frame {controls.timeline[-1][0]}, "
                             f"past the take's {controls.extend_frames} frames")
        return
    lay, _ = layout(controls, limits.num_frames(duration_s), limits.MAX_FRAMES)
    controls.check_frames(lay.frames)


def _record(value: object, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"controls {where} 'record' must be a map with text keys")
    return dict(value)


def _array(arrays: Mapping[str, np.ndarray], name: str, shape_tail: tuple[int, ...], what: str) -> np.ndarray:
    a = arrays.get(f"{PREFIX}{name}")
    if a is None:
        raise ValueError(f"controls {what}: array '{PREFIX}{name}' is missing")
    if a.dtype != np.dtype("<f8"):
        raise ValueError(f"controls {what}: '{PREFIX}{name}' must be float64 (<f8), got {a.dtype.str}")
    if a.ndim != 1 + len(shape_tail) or a.shape[1:] != shape_tail or not 1 <= len(a) <= limits.MAX_FRAMES:
        want = ", ".join(["n", *map(str, shape_tail)])
        raise ValueError(f"controls {what}: '{PREFIX}{name}' must have shape ({want}) with 1 <= n <= {limits.MAX_FRAMES}, "
                         f"got {tuple(a.shape)}")
    if not np.isfinite(a).all():
        raise ValueError(f"controls {what}: '{PREFIX}{name}' holds NaN or infinity")
    return a


def _poses(name: str, meta: object, arrays: Mapping[str, np.ndarray]) -> Poses:
    if not isinstance(meta, Mapping):
        raise ValueError(f"controls '{name}' must be a map")
    rotations = arrays.get(f"{PREFIX}{name}.rotations")
    if rotations is not None and rotations.ndim == 4 and rotations.shape[1] != MODEL_JOINTS:
        raise ValueError(f"controls '{name}': {rotations.shape[1]} joints; the model drives {MODEL_JOINTS} (SMPL-X body joints 0..21)")
    rotations = _array(arrays, f"{name}.rotations", (MODEL_JOINTS, 3, 3), f"'{name}'")
    eye = np.einsum("...ji,...jk->...ik", rotations, rotations) - np.eye(3)
    if np.abs(eye).max() > ROTATION_TOLERANCE or np.abs(np.linalg.det(rotations) - 1).max() > ROTATION_TOLERANCE:
        raise ValueError(f"controls '{name}': rotations must be rotation matrices (orthonormal, determinant 1)")
    transl = None
    if meta.get("root", False):
        transl = _array(arrays, f"{name}.transl", (3,), f"'{name}'")
        if len(transl) != len(rotations):
            raise ValueError(f"controls '{name}': {len(rotations)} rotations but {len(transl)} root translations")
    elif f"{PREFIX}{name}.transl" in arrays:
        raise ValueError(f"controls '{name}': root translations sent but 'root' is not true")
    return Poses(rotations, transl, _record(meta.get("record"), f"'{name}'"))


def _ints(value: object, what: str) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError(f"controls {what} must be a list of whole numbers")
    return list(value)


def _key_frames(value: object, count: int) -> tuple[int, ...]:
    frames = _ints(value, "'keys' 'frames'")
    if len(frames) != count:
        raise ValueError(f"controls 'keys': {count} poses but {len(frames)} frames")
    if len(set(frames)) != len(frames):
        raise ValueError("controls 'keys': a frame is keyed twice")
    if frames != sorted(frames):
        raise ValueError("controls 'keys': frames must increase")
    return tuple(frames)


def _span(value: object, frames: int) -> tuple[int, int]:
    span = _ints(value, "'source' 'span'")
    if len(span) != 2 or not 0 <= span[0] <= span[1] < frames:
        raise ValueError(f"controls 'source' 'span' must be [A, B] with 0 <= A <= B <= {frames - 1}, got {span}")
    return span[0], span[1]


def _path(meta: object, arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray | None, dict]:
    if meta is None:
        if f"{PREFIX}path" in arrays:
            raise ValueError("controls: a path array was sent without the 'path' field")
        return None, {}
    if not isinstance(meta, Mapping):
        raise ValueError("controls 'path' must be a map")
    path = _array(arrays, "path", (3,), "'path'")
    if path[0, 0] < 0 or (np.diff(path[:, 0]) <= 0).any():
        raise ValueError("controls 'path': frames (column 0) must start at 0 or later and increase")
    return path, _record(meta.get("record"), "'path'")


def _timeline(value: object, frames: object) -> tuple[tuple[tuple[int, str], ...], int]:
    if value is None:
        if frames is not None:
            raise ValueError("controls 'extend_frames' needs a 'timeline'")
        return (), 0
    if not isinstance(value, list) or not value:
        raise ValueError("controls 'timeline' must be a non-empty list of [first frame, prompt]")
    entries = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int) and not isinstance(item[0], bool)):
            raise ValueError("controls 'timeline' entries must be [first frame, prompt]")
        entries.append((item[0], limits.check_prompt(item[1]).value))
    starts = [f for f, _ in entries]
    if starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:])):
        raise ValueError("controls 'timeline': the first entry starts at frame 0 and the others later, in order")
    if isinstance(frames, bool) or not isinstance(frames, int) or not limits.MIN_FRAMES <= frames <= MAX_EXTEND_FRAMES:
        raise ValueError(f"controls 'extend_frames' must be a whole number from {limits.MIN_FRAMES} to {MAX_EXTEND_FRAMES}")
    return tuple(entries), frames
