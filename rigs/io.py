"""read_skeleton: a character's skeleton from FBX, glTF/GLB or BVH (dispatch by suffix)."""

from __future__ import annotations

from pathlib import Path

from .skeleton import RigError, Skeleton

SKELETON_SUFFIXES = (".fbx", ".glb", ".gltf", ".bvh")


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
