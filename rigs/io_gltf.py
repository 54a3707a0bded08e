"""glTF 2.0 / GLB skeleton reader (own parser: only the JSON node tree is needed).

Joints are the nodes of the file's skins; their rest transforms are the node transforms
(the scene as authored), composed through any non-joint ancestors (the armature node).
glTF is Y-up, metres, right-handed by specification.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from . import quat
from .skeleton import RigError, Skeleton, nearest_kept_ancestors, rotations_from_world_matrices, skeleton_from_parent_names

GLB_MAGIC = 0x46546C67  # "glTF"
CHUNK_JSON = 0x4E4F534A


def read_gltf_json(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    if path.suffix.lower() == ".glb" or data[:4] == b"glTF":
        if len(data) < 20:
            raise RigError(f"{path.name}: file too short for a GLB")
        magic, version, _ = struct.unpack_from("<III", data, 0)
        length, kind = struct.unpack_from("<II", data, 12)
        if magic != GLB_MAGIC or version != 2 or kind != CHUNK_JSON:
            raise RigError(f"{path.name} is not a glTF 2.0 binary (GLB) file")
        text = data[20 : 20 + length]
    else:
        text = data
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RigError(f"{path.name}: invalid glTF JSON ({exc})") from None
    if not isinstance(doc, dict) or "nodes" not in doc:
        raise RigError(f"{path.name}: glTF file has no nodes")
    return doc


def _local_matrix(node: dict[str, Any]) -> np.ndarray:
    if "matrix" in node:
        return np.asarray(node["matrix"], dtype=np.float64).reshape(4, 4).T  # column-major in the file
    m = np.eye(4)
    r = quat.to_matrix(np.asarray(node.get("rotation", [0, 0, 0, 1]), dtype=np.float64))
    m[:3, :3] = r * np.asarray(node.get("scale", [1, 1, 1]), dtype=np.float64)
    m[:3, 3] = node.get("translation", [0, 0, 0])
    return m


def world_matrices(nodes: list[dict[str, Any]]) -> tuple[np.ndarray, list[int]]:
    parent = [-1] * len(nodes)
    for i, n in enumerate(nodes):
        for c in n.get("children", []):
            if parent[c] != -1:
                raise RigError(f"glTF node {c} has two parents")
            parent[c] = i
    world = np.full((len(nodes), 4, 4), np.nan)

    def solve(i: int, depth: int = 0) -> np.ndarray:
        if depth > len(nodes):
            raise RigError("glTF node hierarchy has a cycle")
        if np.isnan(world[i, 0, 0]):
            local = _local_matrix(nodes[i])
            world[i] = local if parent[i] < 0 else solve(parent[i], depth + 1) @ local
        return world[i]

    for i in range(len(nodes)):
        solve(i)
    return world, parent


def read_gltf_skeleton(path: str | Path) -> Skeleton:
    path = Path(path)
    doc = read_gltf_json(path)
    nodes = doc["nodes"]
    joints = sorted({j for skin in doc.get("skins", []) for j in skin.get("joints", [])})
    if not joints:
        raise RigError(f"{path.name}: no skin (armature) in this glTF file; export the character with its armature")
    world, parent = world_matrices(nodes)
    names = [nodes[j].get("name") or f"node{j}" for j in joints]
    parent_names = [None if p < 0 else nodes[p].get("name") or f"node{p}" for p in nearest_kept_ancestors(joints, parent)]
    m = world[joints]
    return skeleton_from_parent_names(names, parent_names, m[:, :3, 3], rotations_from_world_matrices(m), "y", "m")
