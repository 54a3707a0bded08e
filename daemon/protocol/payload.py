"""Track payloads: a `rigs.Clip` <-> the header fields and arrays of RESULT and PROGRESS.

Both directions live here, so the daemon (which sends takes) and every client (which
receives them) share one definition of a take on the wire. Rotations travel as float64 xyzw
quaternions, so a take arrives bit for bit as it was made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from motionbridge.rigs import Clip, RigError, Skeleton

from . import limits
from .frames import (
    E_BAD_ARRAY,
    E_BAD_HEADER,
    PROGRESS,
    RESULT,
    ROTATION_ORDER,
    Message,
    ProtocolError,
)


def _plain(value: Any, depth: int = 0) -> Any:
    """Metadata -> msgpack-safe plain values (numpy scalars and tuples become plain types)."""
    if depth > 8:
        return str(value)
    if isinstance(value, (str, bool, int, float, bytes)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 4096 else f"<array {value.shape}>"
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    return str(value)


def clip_to_payload(clip, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A rigs.Clip -> (header fields, arrays). Rotations are float64 xyzw, so results are exact."""
    sk = clip.skeleton
    header = {
        "skeleton": {"names": list(sk.names), "up_axis": sk.up_axis, "units": sk.units},
        "fps": float(clip.fps),
        "rotation_order": ROTATION_ORDER,
        "metadata": _plain(clip.metadata),
    }
    arrays = {
        f"{prefix}parents": sk.parents.astype("<i4"),
        f"{prefix}rest_translations": sk.rest_translations.astype("<f8"),
        f"{prefix}rest_rotations": sk.rest_rotations.astype("<f8"),
        f"{prefix}rotations": np.asarray(clip.rotations, dtype="<f8"),
        f"{prefix}root_translation": np.asarray(clip.root_translation, dtype="<f8"),
    }
    return header, arrays


def tracks_from_payload(header: Mapping[str, Any], arrays: Mapping[str, np.ndarray], prefix: str = "") -> dict[str, Any]:
    """The inverse of clip_to_payload, as plain checked parts (clip_from_tracks builds the Clip)."""
    try:
        sk = header["skeleton"]
        names = sk["names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ProtocolError(E_BAD_HEADER, "skeleton 'names' must be a list of strings")
        if header.get("rotation_order", ROTATION_ORDER) != ROTATION_ORDER:
            raise ProtocolError(E_BAD_HEADER, f"rotation_order must be {ROTATION_ORDER!r}")
        fps = header["fps"]
        if isinstance(fps, bool) or not isinstance(fps, (int, float)):
            raise ProtocolError(E_BAD_HEADER, "'fps' must be a number")
        metadata = header.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ProtocolError(E_BAD_HEADER, "'metadata' must be a map")
        return {
            "names": tuple(names), "up_axis": sk.get("up_axis", "y"), "units": sk.get("units", "m"),
            "parents": arrays[f"{prefix}parents"], "rest_translations": arrays[f"{prefix}rest_translations"],
            "rest_rotations": arrays[f"{prefix}rest_rotations"], "rotations": arrays[f"{prefix}rotations"],
            "root_translation": arrays[f"{prefix}root_translation"], "fps": float(fps), "metadata": dict(metadata),
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise ProtocolError(E_BAD_ARRAY, f"track payload is incomplete: missing {exc}") from None


def result_message(rid: str, seed: int, index: int, clip, warnings=(), timings=None) -> Message:
    header, arrays = clip_to_payload(clip)
    header.update({"id": rid, "seed": int(seed), "index": int(index), "warnings": list(warnings),
                   "timings": _plain(timings or {})})
    return Message(RESULT, header, arrays)


def progress_message(rid: str, step: int, total: int, previews=None, stage: str = "", queued: int = 0) -> Message:
    """PROGRESS; with previews, one clip per seed under the array prefixes 'p0.', 'p1.', ...
    `stage` (only sent when not empty): why this request runs slower than it will, e.g.
    'compiling' (its shape compiles in the background, `queued` more wait behind it)."""
    header: dict[str, Any] = {"id": rid, "step": int(step), "total": int(total)}
    if stage:
        header.update({"stage": str(stage), "queued": int(queued)})
    arrays: dict[str, np.ndarray] = {}
    if previews:
        header["previews"] = len(previews)
        for k, clip in enumerate(previews):
            h, a = clip_to_payload(clip, prefix=f"p{k}.")
            if k == 0:
                header.update({"skeleton": h["skeleton"], "fps": h["fps"], "rotation_order": h["rotation_order"]})
            arrays.update(a)
    return Message(PROGRESS, header, arrays)


def preview_tracks(msg: Message) -> list[dict[str, Any]]:
    n = msg.header.get("previews", 0)
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= limits.MAX_SEEDS:
        raise ProtocolError(E_BAD_HEADER, "'previews' must be a small int")
    return [tracks_from_payload(msg.header, msg.arrays, prefix=f"p{k}.") for k in range(n)]


def clip_from_tracks(parts: Mapping[str, Any]) -> Clip:
    """Builds and validates the Clip; an inconsistent payload raises ProtocolError(bad_array)."""
    try:
        skeleton = Skeleton(parts["names"], parts["parents"], parts["rest_translations"], parts["rest_rotations"],
                            parts["up_axis"], parts["units"])
        return Clip(skeleton, parts["rotations"], parts["root_translation"], parts["fps"], dict(parts["metadata"]))
    except RigError as exc:
        raise ProtocolError(E_BAD_ARRAY, f"track payload is inconsistent: {exc}") from None


def clip_from_message(msg: Message, prefix: str = "") -> Clip:
    return clip_from_tracks(tracks_from_payload(msg.header, msg.arrays, prefix))


def previews_from_message(msg: Message) -> list[Clip]:
    return [clip_from_tracks(parts) for parts in preview_tracks(msg)]
