"""BVH reader (our own parser): hierarchy, rest offsets and motion.

BVH joints have identity rest orientations; a joint's rotation is the product of its
rotation channels in the order listed (`Zrotation Xrotation Yrotation` -> Rz Rx Ry). End
sites are dropped. BVH declares neither units nor up axis, so both are guessed from the rest
pose (see io_common.guess_units, io_common.guess_up_axis) unless given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import quat
from .io_common import guess_units, guess_up_axis
from .skeleton import Clip, RigError, Skeleton

_AXES = {"X": np.array([1.0, 0, 0]), "Y": np.array([0, 1.0, 0]), "Z": np.array([0, 0, 1.0])}


def _parse_hierarchy(tokens: list[str], path: Path):
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    stack: list[int] = []
    i = 0
    pending_end = False
    try:
        if not tokens or tokens[0].upper() != "HIERARCHY":
            raise RigError(f"{path.name} is not a BVH file (no HIERARCHY)")
        i = 1
        while i < len(tokens):
            t = tokens[i]
            up = t.upper()
            if up in ("ROOT", "JOINT"):
                names.append(tokens[i + 1])
                parents.append(stack[-1] if stack and up == "JOINT" else -1)
                offsets.append([0.0, 0.0, 0.0])
                channels.append([])
                i += 2
            elif up == "END":  # End Site
                pending_end = True
                i += 2
            elif t == "{":
                stack.append(-2 if pending_end else len(names) - 1)
                pending_end = False
                i += 1
            elif t == "}":
                stack.pop()
                i += 1
            elif up == "OFFSET":
                if stack[-1] >= 0:
                    offsets[stack[-1]] = [float(x) for x in tokens[i + 1 : i + 4]]
                i += 4
            elif up == "CHANNELS":
                n = int(tokens[i + 1])
                channels[stack[-1]] = tokens[i + 2 : i + 2 + n]
                i += 2 + n
            elif up == "MOTION":
                return names, parents, offsets, channels, i + 1
            else:
                raise RigError(f"{path.name}: unexpected token {t!r} in the BVH hierarchy")
    except RigError:
        raise
    except (IndexError, ValueError):  # a missing token, or text where a number belongs
        raise RigError(f"{path.name}: truncated or malformed BVH hierarchy") from None
    raise RigError(f"{path.name}: BVH file has no MOTION section")


def read_bvh(path: str | Path, units: str | None = None, up_axis: str | None = None) -> Clip:
    path = Path(path)
    tokens = path.read_text(errors="replace").split()
    names, parents, offsets, channels, i = _parse_hierarchy(tokens, path)
    if not names:
        raise RigError(f"{path.name}: BVH file has no joints")
    try:
        frames = int(tokens[i + 1])
        frame_time = float(tokens[i + 4])
        values = np.array(tokens[i + 5 :], dtype=np.float64)
    except (IndexError, ValueError):
        raise RigError(f"{path.name}: malformed BVH MOTION header (Frames:/Frame Time:)") from None
    if frame_time <= 0:
        raise RigError(f"{path.name}: BVH frame time must be positive, got {frame_time}")
    width = sum(len(c) for c in channels)
    if frames < 1 or values.size < frames * width:
        raise RigError(f"{path.name}: BVH declares {frames} frames of {width} channels but holds {values.size} values")
    motion = values[: frames * width].reshape(frames, width)
    if not (np.isfinite(motion).all() and np.isfinite(offsets).all()):
        raise RigError(f"{path.name}: BVH holds a NaN or infinite number")

    rest = np.array(offsets)
    world = np.zeros_like(rest)
    for j, p in enumerate(parents):
        world[j] = rest[j] + (world[p] if p >= 0 else 0.0)
    skel = Skeleton(
        tuple(names), np.array(parents), rest, np.tile(quat.IDENTITY, (len(names), 1)),
        up_axis or guess_up_axis(world), units or guess_units(world),
    )
    rotations = np.tile(quat.IDENTITY, (frames, len(names), 1))
    root = np.tile(rest[0], (frames, 1))
    col = 0
    for j, chans in enumerate(channels):
        for c in chans:
            axis, kind = c[0].upper(), c[1:].lower()
            if axis not in _AXES or kind not in ("rotation", "position"):
                raise RigError(f"{path.name}: unknown BVH channel {c!r} on joint {names[j]!r}")
            if kind == "rotation":
                rotations[:, j] = quat.multiply(rotations[:, j], quat.from_axis_angle(np.radians(motion[:, col])[:, None] * _AXES[axis]))
            elif j == 0:
                root[:, "XYZ".index(axis)] = motion[:, col]
            col += 1
    return Clip(skel, rotations, root, 1.0 / frame_time, {"source_file": path.name})
