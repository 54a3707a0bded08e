"""glTF 2.0 (.gltf with an embedded buffer, or binary .glb) through pygltflib.

Joints are nodes under one scene root, bound by a skin (inverse bind matrices from the rest
pose); the optional body mesh is skinned to them (JOINTS_0/WEIGHTS_0). Each take is one
animation with a translation and a rotation channel per joint, sampled on every frame with
LINEAR interpolation. glTF is Y-up metres by definition, so takes are converted to that.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pygltflib as gl

from motionbridge.rigs import Clip, quat

from .atomic import atomic_path
from .body import body_mesh
from .prepare import prepare

_COMPONENT = {np.dtype(np.float32): gl.FLOAT, np.dtype(np.uint16): gl.UNSIGNED_SHORT, np.dtype(np.uint32): gl.UNSIGNED_INT}
_TYPE = {1: gl.SCALAR, 3: gl.VEC3, 4: gl.VEC4, 16: gl.MAT4}


class _Buffer:
    """One binary buffer; every array becomes a 4-byte aligned bufferView + accessor."""

    def __init__(self, doc: gl.GLTF2) -> None:
        self.doc = doc
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, array: np.ndarray, target: int | None = None, minmax: bool = False) -> int:
        flat = np.ascontiguousarray(array)
        width = int(np.prod(flat.shape[1:])) if flat.ndim > 1 else 1
        data = flat.tobytes()
        self.doc.bufferViews.append(gl.BufferView(buffer=0, byteOffset=self.size, byteLength=len(data), target=target))
        pad = (-len(data)) % 4
        self.chunks.append(data + b"\x00" * pad)
        self.size += len(data) + pad
        rows = flat.reshape(len(flat), -1)
        accessor = gl.Accessor(
            bufferView=len(self.doc.bufferViews) - 1,
            componentType=_COMPONENT[flat.dtype],
            count=len(flat),
            type=_TYPE[width],
            min=rows.min(axis=0).tolist() if minmax else None,
            max=rows.max(axis=0).tolist() if minmax else None,
        )
        self.doc.accessors.append(accessor)
        return len(self.doc.accessors) - 1

    def blob(self) -> bytes:
        return b"".join(self.chunks)


def _continuous(q: np.ndarray) -> np.ndarray:
    """Flip quaternion signs along frames so consecutive keys sit in one hemisphere."""
    flips = np.sum(q[1:] * q[:-1], axis=-1) < 0  # (F-1, J)
    sign = np.where(np.cumsum(flips, axis=0) % 2 == 1, -1.0, 1.0)
    out = q.copy()
    out[1:] *= sign[..., None]
    return out


def _inverse_bind(rest_rot: np.ndarray, rest_pos: np.ndarray) -> np.ndarray:
    """(J, 16) column-major inverse world rest matrices."""
    inv = np.zeros((len(rest_rot), 4, 4))
    r_t = np.swapaxes(quat.to_matrix(rest_rot), 1, 2)
    inv[:, :3, :3] = r_t
    inv[:, :3, 3] = -np.einsum("jab,jb->ja", r_t, rest_pos)
    inv[:, 3, 3] = 1.0
    return np.swapaxes(inv, 1, 2).reshape(len(rest_rot), 16).astype(np.float32)


def build(takes: Sequence[Clip], names: Sequence[str], body: bool = False) -> tuple[gl.GLTF2, bytes, list[str]]:
    prep = prepare(takes, names, "gltf", up="y", units="m")
    skel = prep.skeleton
    doc = gl.GLTF2(asset=gl.Asset(generator="MotionBridge", version="2.0"))
    buf = _Buffer(doc)
    n = skel.num_joints
    for j, name in enumerate(prep.joint_names):
        doc.nodes.append(gl.Node(
            name=name,
            translation=skel.rest_translations[j].tolist(),
            rotation=skel.rest_rotations[j].tolist(),
            children=[int(c) for c in skel.children(j)] or None,
        ))
    roots = [j for j in range(n) if skel.parents[j] < 0]
    rest_rot, rest_pos = skel.rest_world()
    doc.skins.append(gl.Skin(name="skeleton", joints=list(range(n)), skeleton=roots[0],
                             inverseBindMatrices=buf.add(_inverse_bind(rest_rot, rest_pos))))
    scene_nodes = list(roots)
    if body:
        mesh = body_mesh(skel)
        attrs = gl.Attributes(
            POSITION=buf.add(mesh.vertices.astype(np.float32), gl.ARRAY_BUFFER, minmax=True),
            JOINTS_0=buf.add(mesh.joints.astype(np.uint16), gl.ARRAY_BUFFER),
            WEIGHTS_0=buf.add(mesh.weights.astype(np.float32), gl.ARRAY_BUFFER),
        )
        indices = buf.add(mesh.faces.astype(np.uint32).reshape(-1), gl.ELEMENT_ARRAY_BUFFER)
        doc.meshes.append(gl.Mesh(name="Body", primitives=[gl.Primitive(attributes=attrs, indices=indices)]))
        doc.nodes.append(gl.Node(name="Body", mesh=0, skin=0))
        scene_nodes.append(len(doc.nodes) - 1)
    for clip, take in zip(prep.clips, prep.take_names):
        times = buf.add((np.arange(clip.num_frames) / clip.fps).astype(np.float32), minmax=True)
        translations = np.broadcast_to(skel.rest_translations, (clip.num_frames, n, 3)).copy()
        translations[:, 0] = clip.root_translation
        # joint-major float32 copies, so each channel's output is one contiguous slice
        translations = np.ascontiguousarray(translations.transpose(1, 0, 2), dtype=np.float32)
        rotations = np.ascontiguousarray(_continuous(clip.rotations).transpose(1, 0, 2), dtype=np.float32)
        samplers, channels = [], []
        for j in range(n):
            for path, values in (("translation", translations[j]), ("rotation", rotations[j])):
                samplers.append(gl.AnimationSampler(input=times, output=buf.add(values), interpolation="LINEAR"))
                channels.append(gl.AnimationChannel(sampler=len(samplers) - 1, target=gl.AnimationChannelTarget(node=j, path=path)))
        meta = {k: clip.metadata[k] for k in ("prompt", "seed", "model") if k in clip.metadata}
        doc.animations.append(gl.Animation(name=take, samplers=samplers, channels=channels, extras=meta or {}))
    doc.scenes.append(gl.Scene(name="MotionBridge", nodes=scene_nodes))
    doc.scene = 0
    blob = buf.blob()
    doc.buffers.append(gl.Buffer(byteLength=len(blob)))
    return doc, blob, prep.warnings


def write(path: Path, takes: Sequence[Clip], names: Sequence[str], **options: Any) -> list[str]:
    """Registry entry point; options: body (bool). up/units other than y/m are refused."""
    unknown = set(options) - {"body", "up", "units"}
    if unknown:
        raise ValueError(f"unknown glTF options {sorted(unknown)}; use body")
    if options.get("up") not in (None, "y") or options.get("units") not in (None, "m"):
        raise ValueError("glTF is always Y-up metres; drop --up/--units for .glb/.gltf")
    doc, blob, warnings = build(takes, names, body=bool(options.get("body")))
    if path.suffix.lower() == ".glb":
        doc.set_binary_blob(blob)
        data = b"".join(doc.save_to_bytes())
    else:
        doc.buffers[0].uri = "data:application/octet-stream;base64," + base64.b64encode(blob).decode("ascii")
        data = doc.gltf_to_json().encode("utf-8")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return warnings
