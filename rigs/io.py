"""read_skeleton: a character's skeleton from FBX, glTF/GLB or BVH (dispatch by suffix)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .skeleton import RigError, Skeleton

SKELETON_SUFFIXES = (".fbx", ".glb", ".gltf", ".bvh")


def parse_json(text: str | bytes, source: str, what: str = "JSON") -> Any:
    """json.loads with every failure as one RigError: syntax, bad UTF-8, and nesting deep
    enough to exhaust Python's recursion limit (a 100k-deep array in a hostile file)."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RigError(f"{source} is not valid {what} ({str(exc)[:120]})") from None
    except RecursionError:
        raise RigError(f"{source}: {what} nested too deeply; the file is damaged or hostile") from None


def read_skeleton(path: str | Path) -> Skeleton:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SKELETON_SUFFIXES:
        raise RigError(f"cannot read a skeleton from {path.name}: use one of {', '.join(SKELETON_SUFFIXES)}")
    if not path.is_file():
        raise RigError(f"character file not found: {path}")
    if suffix == ".bvh":
        from .io_bvh import read_bvh

        return read_bvh(path).skeleton
    if suffix in (".glb", ".gltf"):
        from .io_gltf import read_gltf_skeleton

        return read_gltf_skeleton(path)
    from .io_fbx import read_fbx_skeleton

    return read_fbx_skeleton(path)


def guess_up_axis(world_positions: np.ndarray) -> str:
    """For a humanoid rest pose: the taller of the Y and Z extents is up (X is the arm span)."""
    extent = np.ptp(world_positions, axis=0)
    return "z" if extent[2] > extent[1] else "y"


def guess_units(world_positions: np.ndarray) -> str:
    """Metres for a figure under 10 units tall, else centimetres."""
    return "cm" if float(np.ptp(world_positions, axis=0).max()) > 10.0 else "m"
