"""glTF 2.0 / GLB skeleton reader (own parser: only the JSON node tree is needed).

Joints are the nodes of the file's skins; their rest transforms are the node transforms
(the scene as authored), composed through any non-joint ancestors (the armature node).
glTF is Y-up, metres, right-handed by specification.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from . import quat
from .io_common import parse_json
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
        if length > len(data) - 20:
            raise RigError(f"{path.name}: GLB JSON chunk declares {length} bytes but the file holds {len(data) - 20}")
        text = data[20 : 20 + length]
    else:
        text = data
    doc = parse_json(text, path.name, "glTF JSON")
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list) or not doc["nodes"]:
        raise RigError(f"{path.name}: glTF file has no nodes")
    if not all(isinstance(n, dict) for n in doc["nodes"]):
        raise RigError(f"{path.name}: glTF nodes must be objects")
    return doc


def _indices(value: Any, count: int, what: str) -> list[int]:
    """A list of node indices, each an integer in [0, count); anything else is one RigError."""
    if not isinstance(value, list) or not all(type(i) is int and 0 <= i < count for i in value):
        raise RigError(f"glTF {what} must be a list of node indices 0..{count - 1}")
    return value


def _numbers(node: dict[str, Any], key: str, default: list[float], size: int, index: int) -> np.ndarray:
    value = node.get(key, default)
    if not isinstance(value, list) or len(value) != size or not all(type(v) in (int, float) for v in value):
        raise RigError(f"glTF node {index}: {key!r} must be a list of {size} numbers")
    out = np.asarray(value, dtype=np.float64)
    if not np.isfinite(out).all():
        raise RigError(f"glTF node {index}: {key!r} holds a non-finite number")
    return out


def _local_matrix(node: dict[str, Any], index: int) -> np.ndarray:
    if "matrix" in node:
        return _numbers(node, "matrix", [], 16, index).reshape(4, 4).T  # column-major in the file
    m = np.eye(4)
    r = quat.to_matrix(_numbers(node, "rotation", [0, 0, 0, 1], 4, index))
    m[:3, :3] = r * _numbers(node, "scale", [1, 1, 1], 3, index)
    m[:3, 3] = _numbers(node, "translation", [0, 0, 0], 3, index)
    return m


def world_matrices(nodes: list[dict[str, Any]]) -> tuple[np.ndarray, list[int]]:
    parent = [-1] * len(nodes)
    for i, n in enumerate(nodes):
        for c in _indices(n.get("children", []), len(nodes), f"node {i} children"):
            if parent[c] != -1:
                raise RigError(f"glTF node {c} has two parents")
            parent[c] = i
    world = np.full((len(nodes), 4, 4), np.nan)
    for i in range(len(nodes)):  # walk up to a solved ancestor, then down: no recursion on deep chains
        chain = [i]
        while np.isnan(world[chain[-1], 0, 0]) and parent[chain[-1]] >= 0:
            chain.append(parent[chain[-1]])
            if len(chain) > len(nodes):
                raise RigError("glTF node hierarchy has a cycle")
        above = np.eye(4)
        for j in reversed(chain):
            if np.isnan(world[j, 0, 0]):
                world[j] = above @ _local_matrix(nodes[j], j)
            above = world[j]
    return world, parent


def _node_name(nodes: list[dict[str, Any]], i: int) -> str:
    name = nodes[i].get("name")
    return name if isinstance(name, str) and name else f"node{i}"


def read_gltf_skeleton(path: str | Path) -> Skeleton:
    path = Path(path)
    doc = read_gltf_json(path)
    nodes = doc["nodes"]
    skins = doc.get("skins", [])
    if not isinstance(skins, list) or not all(isinstance(s, dict) for s in skins):
        raise RigError(f"{path.name}: glTF skins must be a list of objects")
    try:
        joints = sorted({j for i, skin in enumerate(skins) for j in _indices(skin.get("joints", []), len(nodes), f"skin {i} joints")})
        world, parent = world_matrices(nodes)
    except RigError as exc:
        raise RigError(f"{path.name}: {exc}") from None
    if not joints:
        raise RigError(f"{path.name}: no skin (armature) in this glTF file; export the character with its armature")
    names = [_node_name(nodes, j) for j in joints]
    parent_names = [None if p < 0 else _node_name(nodes, p) for p in nearest_kept_ancestors(joints, parent)]
    m = world[joints]
    return skeleton_from_parent_names(names, parent_names, m[:, :3, 3], rotations_from_world_matrices(m), "y", "m")
