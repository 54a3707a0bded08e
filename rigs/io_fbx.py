"""FBX skeleton reader through pyassimp (Debian's libassimp5); imported only when used.

Assimp hands back the node tree with each node's local matrix; FBX pivots may appear as
extra `<bone>_$AssimpFbx$_<part>` nodes, which we fold into the transforms of their
descendants. Joints are the nodes (other than meshes, cameras and lights) of the subtree
that holds the meshes' bones, weighted or not, or, for a file without skinned meshes, of the
whole scene. Up axis and units come from the file's global settings (UpAxis,
UnitScaleFactor: centimetres per file unit).
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np

from .io_fbx_check import check_fbx_file
from .skeleton import RigError, Skeleton, nearest_kept_ancestors, rotations_from_world_matrices, skeleton_from_parent_names

HELPER = "_$AssimpFbx$_"


def _text(ai_string) -> str:
    return bytes(ai_string.data[: ai_string.length]).decode("utf-8", errors="replace")


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
            out[_text(m.mKeys[i])] = float(ctypes.cast(v.mData, ctypes.POINTER(readers[v.mType])).contents.value)
    return out


def _matrix(t) -> np.ndarray:
    return np.array([[t.a1, t.a2, t.a3, t.a4], [t.b1, t.b2, t.b3, t.b4], [t.c1, t.c2, t.c3, t.c4], [t.d1, t.d2, t.d3, t.d4]])


def _read_nodes(path: Path):
    """(records, bone names, metadata, camera/light names) straight from assimp's C structs.

    pyassimp's own wrapper converts every mesh, bone and weight eagerly and fails on bones
    without weights ("NULL pointer access"), which Blender writes; we read only what we need.
    """
    try:
        from pyassimp import core
    except Exception as exc:  # ImportError, or pyassimp failing to find libassimp
        raise RigError(
            f"reading FBX needs pyassimp and libassimp (pip install pyassimp; apt-get install libassimp5): {exc}"
        ) from None
    check_fbx_file(path)  # assimp trusts declared sizes and recurses on nesting
    model = core._assimp_lib.load(str(path).encode(), 0)
    if not model:
        raise RigError(f"{path.name}: assimp could not read this FBX file")
    try:
        scene = model.contents
        meta = _metadata(scene)
        bones = {
            _text(scene.mMeshes[i].contents.mBones[k].contents.mName)
            for i in range(scene.mNumMeshes)
            for k in range(scene.mMeshes[i].contents.mNumBones)
        }
        skip = {_text(scene.mCameras[i].contents.mName) for i in range(scene.mNumCameras)}
        skip |= {_text(scene.mLights[i].contents.mName) for i in range(scene.mNumLights)}
        records: list[tuple[str, int, np.ndarray, bool]] = []  # name, parent record, world, has meshes
        stack = [(scene.mRootNode.contents, -1, np.eye(4))]
        while stack:
            node, parent, world = stack.pop()
            w = world @ _matrix(node.mTransformation)
            records.append((_text(node.mName), parent, w, node.mNumMeshes > 0))
            me = len(records) - 1
            for c in reversed(range(node.mNumChildren)):
                stack.append((node.mChildren[c].contents, me, w))
    finally:
        core._assimp_lib.release(model)
    return records, bones, meta, skip


def read_fbx_skeleton(path: str | Path) -> Skeleton:
    path = Path(path)
    records, bones, meta, skip = _read_nodes(path)
    parent_of = [r[1] for r in records]
    if bones:  # the whole subtree (below the scene root) holding the skinned bones, weighted or not
        tops = set()
        for i, r in enumerate(records):
            if r[0] in bones:
                while parent_of[i] > 0:
                    i = parent_of[i]
                tops.add(i)
        inside = [False] * len(records)
        for i in range(1, len(records)):
            inside[i] = i in tops or inside[parent_of[i]]
        keep = {i for i in range(len(records)) if inside[i] and not records[i][3] and records[i][0] not in skip}
    else:
        keep = {i for i, r in enumerate(records) if i > 0 and not r[3] and r[0] not in skip}
    keep = {i for i in keep if HELPER not in records[i][0]}
    if not keep:
        raise RigError(f"{path.name}: no skeleton found in this FBX file")
    joints = sorted(keep)
    parent_names = [None if p < 0 else records[p][0] for p in nearest_kept_ancestors(joints, parent_of)]
    m = np.array([records[i][2] for i in joints])
    pos = m[:, :3, 3]
    scale = meta.get("UnitScaleFactor", 1.0) or 1.0  # centimetres per file unit
    if abs(scale - 100.0) < 1e-3:
        units = "m"
    else:
        units, pos = "cm", pos * scale
    up = "z" if int(meta.get("UpAxis", 1)) == 2 else "y"
    return skeleton_from_parent_names([records[i][0] for i in joints], parent_names, pos, rotations_from_world_matrices(m), up, units)
