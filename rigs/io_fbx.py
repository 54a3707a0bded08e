"""FBX skeleton reader through pyassimp (Debian's libassimp5); imported only when used.

Assimp hands back the node tree with each node's local matrix; FBX pivots may appear as
extra `<bone>_$AssimpFbx$_<part>` nodes, which we fold into the transforms of their
descendants. Joints are the meshes' bones and the nodes between them, or, for a skeleton
without meshes, every node below the scene root. Up axis and units come from the file's
global settings (UpAxis, UnitScaleFactor: centimetres per file unit).
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np

from . import quat
from .skeleton import RigError, Skeleton, skeleton_from_parent_names

HELPER = "_$AssimpFbx$_"


def _metadata(scene) -> dict[str, float]:
    out: dict[str, float] = {}
    md = getattr(scene, "mMetadata", None)
    if not md:
        return out
    m = md.contents
    readers: dict[int, Any] = {1: ctypes.c_int32, 3: ctypes.c_float, 4: ctypes.c_double}
    for i in range(m.mNumProperties):
        v = m.mValues[i]
        if v.mType in readers and v.mData:
            out[m.mKeys[i].data.decode(errors="replace")] = float(ctypes.cast(v.mData, ctypes.POINTER(readers[v.mType])).contents.value)
    return out


def read_fbx_skeleton(path: str | Path) -> Skeleton:
    path = Path(path)
    try:
        import pyassimp
    except Exception as exc:  # ImportError, or pyassimp failing to find libassimp
        raise RigError(
            f"reading FBX needs pyassimp and libassimp (pip install pyassimp; apt-get install libassimp5): {exc}"
        ) from None
    try:
        ctx = pyassimp.load(str(path))
        scene = ctx.__enter__()
    except Exception as exc:
        raise RigError(f"{path.name}: assimp could not read this FBX file ({exc})") from None
    try:
        meta = _metadata(scene)
        bones = {b.name for mesh in scene.meshes for b in getattr(mesh, "bones", [])}
        records: list[tuple[str, int, np.ndarray, bool]] = []  # name, parent record, world, has meshes

        def walk(node, parent: int, world: np.ndarray) -> None:
            w = world @ np.asarray(node.transformation, dtype=np.float64)
            records.append((node.name, parent, w, len(node.meshes) > 0))
            me = len(records) - 1
            for child in node.children:
                walk(child, me, w)

        walk(scene.rootnode, -1, np.eye(4))
    finally:
        ctx.__exit__(None, None, None)

    parent_of = [r[1] for r in records]
    if bones:
        keep = {i for i, r in enumerate(records) if r[0] in bones}
        for i in list(keep):  # the nodes between bones
            chain, p = [], parent_of[i]
            while p >= 0:
                chain.append(p)
                if p in keep:
                    keep.update(chain)
                    break
                p = parent_of[p]
    else:
        keep = {i for i, r in enumerate(records) if i > 0 and not r[3]}
    keep = {i for i in keep if HELPER not in records[i][0]}
    if not keep:
        raise RigError(f"{path.name}: no skeleton found in this FBX file")
    joints = sorted(keep)
    parent_names: list[str | None] = []
    for i in joints:
        p = parent_of[i]
        while p >= 0 and p not in keep:
            p = parent_of[p]
        parent_names.append(None if p < 0 else records[p][0])
    m = np.array([records[i][2] for i in joints])
    rot = m[:, :3, :3] / np.linalg.norm(m[:, :3, :3], axis=1, keepdims=True)
    pos = m[:, :3, 3]
    scale = meta.get("UnitScaleFactor", 1.0) or 1.0  # centimetres per file unit
    if abs(scale - 100.0) < 1e-3:
        units = "m"
    else:
        units, pos = "cm", pos * scale
    up = "z" if int(meta.get("UpAxis", 1)) == 2 else "y"
    return skeleton_from_parent_names([records[i][0] for i in joints], parent_names, pos, quat.from_matrix(rot), up, units)
