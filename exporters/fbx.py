"""FBX (binary 7.4/7.5) writer, our own: no Autodesk SDK.

The scene: a LimbNode hierarchy (Model + NodeAttribute per joint) whose Lcl transforms are
the rest pose; optionally the wooden body mesh skinned to it (Skin + Cluster per joint and a
BindPose); one AnimationStack + AnimationLayer per take with T and R curve nodes on every
joint, keyed on every frame. GlobalSettings carry the up axis, the unit (UnitScaleFactor is
centimetres per file unit), the time mode and the frame rate. Take metadata (prompt, seed,
model) goes into the stack's properties and, as JSON, into the document's SceneInfo.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from motionbridge.rigs import Clip, quat
from motionbridge.rigs.euler import euler_degrees

from .atomic import atomic_path
from .body import BodyMesh, body_mesh
from .fbx_binary import CREATION_TIME, FILE_ID, Encoded, Node, Typed, encode
from .prepare import Prepared, check_option, prepare

KTIME_PER_SECOND = 46186158000
# FBX time modes with a fixed rate; anything else is "custom" (14) + CustomFrameRate.
TIME_MODES = {120.0: 1, 100.0: 2, 60.0: 3, 50.0: 4, 48.0: 5, 30.0: 6, 25.0: 10, 24.0: 11, 96.0: 15, 72.0: 16}
CUSTOM_TIME_MODE = 14
# (UpAxis, UpAxisSign, FrontAxis, FrontAxisSign, CoordAxis, CoordAxisSign): the character faces
# +Z when Y is up and -Y when Z is up (what `prepare.to_frame` produces).
AXES = {"y": (1, 1, 2, 1, 0, 1), "z": (2, 1, 1, -1, 0, 1)}
CM_PER_UNIT = {"cm": 1.0, "m": 100.0}
LINEAR_KEYS = 1 << 2  # KeyAttrFlags: linear interpolation, so readers reproduce the frames exactly


@dataclass
class FbxOptions:
    up: str = "y"
    units: str = "cm"
    body: bool = False
    version: int = 7400


def _props(*entries: tuple[Any, ...]) -> Node:
    node = Node("Properties70")
    for entry in entries:
        node.add("P", *entry)
    return node


def _matrix(rot: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """4x4 column-vector transform, flattened the FBX way (translation in elements 12..14)."""
    m = np.eye(4)
    m[:3, :3] = quat.to_matrix(rot)
    m[:3, 3] = pos
    return m.T.reshape(-1).copy()


class _Scene:
    """Builds the Objects and Connections records; ids are unique int64s."""

    def __init__(self) -> None:
        self._ids: Iterator[int] = itertools.count(1_000_000_000)
        self.objects = Node("Objects")
        self.connections = Node("Connections")
        self.counts: dict[str, int] = {}

    def new(self, kind: str, name: str, cls: str, sub: str) -> tuple[int, Node]:
        uid = next(self._ids)
        node = self.objects.add(kind, Typed("L", uid), f"{name}\x00\x01{cls}", sub)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return uid, node

    def link(self, child: int, parent: int, prop: str | None = None) -> None:
        if prop is None:
            self.connections.add("C", "OO", Typed("L", child), Typed("L", parent))
        else:
            self.connections.add("C", "OP", Typed("L", child), Typed("L", parent), prop)


def _add_skeleton(scene: _Scene, prep: Prepared) -> list[int]:
    skel = prep.skeleton
    euler = euler_degrees(skel.rest_rotations, "XYZ")  # FBX eEulerXYZ
    model_ids: list[int] = []
    for j, name in enumerate(prep.joint_names):
        attr_id, attr = scene.new("NodeAttribute", name, "NodeAttribute", "LimbNode")
        attr.children.append(_props(("Size", "double", "Number", "", 10.0)))
        attr.add("TypeFlags", "Skeleton")
        model_id, model = scene.new("Model", name, "Model", "LimbNode")
        model.add("Version", 232)
        model.children.append(_props(
            ("RotationOrder", "enum", "", "", 0),
            ("InheritType", "enum", "", "", 1),
            ("DefaultAttributeIndex", "int", "Integer", "", 0),
            ("Lcl Translation", "Lcl Translation", "", "A", *map(float, skel.rest_translations[j])),
            ("Lcl Rotation", "Lcl Rotation", "", "A", *map(float, euler[j])),
            ("Lcl Scaling", "Lcl Scaling", "", "A", 1.0, 1.0, 1.0),
        ))
        model.add("Shading", True)
        model.add("Culling", "CullingOff")
        parent = int(skel.parents[j])
        scene.link(attr_id, model_id)
        scene.link(model_id, model_ids[parent] if parent >= 0 else 0)
        model_ids.append(model_id)
    return model_ids


def _add_body(scene: _Scene, prep: Prepared, bones: list[int], mesh: BodyMesh) -> None:
    geom_id, geom = scene.new("Geometry", "Body", "Geometry", "Mesh")
    geom.add("GeometryVersion", 124)
    geom.add("Vertices", mesh.vertices.astype(np.float64))
    poly = mesh.faces.astype(np.int32).copy()
    poly[:, 2] = ~poly[:, 2]  # a negative (bitwise-not) index closes each polygon
    geom.add("PolygonVertexIndex", poly)
    model_id, model = scene.new("Model", "Body", "Model", "Mesh")
    model.add("Version", 232)
    model.children.append(_props(("DefaultAttributeIndex", "int", "Integer", "", 0)))
    model.add("Shading", True)
    model.add("Culling", "CullingOff")
    scene.link(geom_id, model_id)
    scene.link(model_id, 0)

    skin_id, skin = scene.new("Deformer", "Body", "Deformer", "Skin")
    skin.add("Version", 101)
    skin.add("Link_DeformAcuracy", 50.0)
    scene.link(skin_id, geom_id)

    rest_rot, rest_pos = prep.skeleton.rest_world()
    dense = np.zeros((len(mesh.vertices), len(bones)))  # a vertex may name a joint twice
    np.add.at(dense, (np.arange(len(mesh.vertices))[:, None], mesh.joints), mesh.weights)
    _, pose = scene.new("Pose", "BindPose", "Pose", "BindPose")
    pose.add("Type", "BindPose")
    pose.add("Version", 100)
    pose.add("NbPoseNodes", len(bones) + 1)
    entry = pose.add("PoseNode")
    entry.add("Node", Typed("L", model_id))
    entry.add("Matrix", np.eye(4).reshape(-1))
    for j, bone in enumerate(bones):
        bind = _matrix(rest_rot[j], rest_pos[j])
        entry = pose.add("PoseNode")
        entry.add("Node", Typed("L", bone))
        entry.add("Matrix", bind)
        verts = np.nonzero(dense[:, j] > 0)[0]
        if len(verts) == 0:
            continue
        cluster_id, cluster = scene.new("Deformer", prep.joint_names[j], "SubDeformer", "Cluster")
        cluster.add("Version", 100)
        cluster.add("UserData", "", "")
        cluster.add("Indexes", verts.astype(np.int32))
        cluster.add("Weights", dense[verts, j])
        # Transform: mesh space -> bone space at bind; TransformLink: the bone's bind matrix.
        inv_rot = quat.conjugate(rest_rot[j])
        cluster.add("Transform", _matrix(inv_rot, -quat.rotate(inv_rot, rest_pos[j])))
        cluster.add("TransformLink", bind)
        scene.link(cluster_id, skin_id)
        scene.link(bone, cluster_id)


def _add_take(scene: _Scene, clip: Clip, take: str, bones: list[int], prep: Prepared) -> tuple[int, int]:
    frames = clip.num_frames
    ktimes = np.round(np.arange(frames) * (KTIME_PER_SECOND / clip.fps)).astype(np.int64)
    stop = int(ktimes[-1])
    meta = {k: clip.metadata[k] for k in ("prompt", "seed", "model") if k in clip.metadata}
    stack_id, stack = scene.new("AnimationStack", take, "AnimStack", "")
    stack.children.append(_props(
        ("Description", "KString", "", "", str(meta.get("prompt", ""))),
        ("LocalStart", "KTime", "Time", "", Typed("L", 0)),
        ("LocalStop", "KTime", "Time", "", Typed("L", stop)),
        ("ReferenceStart", "KTime", "Time", "", Typed("L", 0)),
        ("ReferenceStop", "KTime", "Time", "", Typed("L", stop)),
        *((f"motionbridge_{k}", "KString", "", "U", str(v)) for k, v in meta.items()),
    ))
    layer_id, _ = scene.new("AnimationLayer", "BaseLayer", "AnimLayer", "")
    scene.link(layer_id, stack_id)

    translations = np.broadcast_to(clip.skeleton.rest_translations, (frames,) + clip.skeleton.rest_translations.shape).copy()
    translations[:, 0] = clip.root_translation
    # channel-major float32 copies: every curve's values are one contiguous row
    translations = np.ascontiguousarray(translations.transpose(1, 2, 0), dtype=np.float32)  # (J, 3, F)
    eulers = np.ascontiguousarray(euler_degrees(clip.rotations, "XYZ").transpose(1, 2, 0), dtype=np.float32)
    key_times = Encoded(ktimes)
    flags = Encoded(np.array([LINEAR_KEYS], dtype=np.int32))
    data_float = Encoded(np.zeros(4, dtype=np.float32))
    refcount = Encoded(np.array([frames], dtype=np.int32))
    key_version = Encoded(4008)
    for j, bone in enumerate(bones):
        for channel, prop_name, values in (("T", "Lcl Translation", translations[j]), ("R", "Lcl Rotation", eulers[j])):
            node_id, node = scene.new("AnimationCurveNode", channel, "AnimCurveNode", "")
            node.children.append(_props(*((f"d|{a}", "Number", "", "A", float(values[i, 0])) for i, a in enumerate("XYZ"))))
            scene.link(node_id, layer_id)
            scene.link(node_id, bone, prop_name)
            for i, axis in enumerate("XYZ"):
                curve_id, curve = scene.new("AnimationCurve", "", "AnimCurve", "")
                curve.add("Default", float(values[i, 0]))
                curve.add("KeyVer", key_version)
                curve.add("KeyTime", key_times)
                curve.add("KeyValueFloat", values[i])
                curve.add("KeyAttrFlags", flags)
                curve.add("KeyAttrDataFloat", data_float)
                curve.add("KeyAttrRefCount", refcount)
                scene.link(curve_id, node_id, f"d|{axis}")
    return stack_id, stop


def _header(prep: Prepared, version: int) -> list[Node]:
    meta = [{"take": n, **c.metadata} for n, c in zip(prep.take_names, prep.clips)]
    header = Node("FBXHeaderExtension")
    header.add("FBXHeaderVersion", 1003)
    header.add("FBXVersion", version)
    stamp = header.add("CreationTimeStamp")
    for key, value in (("Version", 1000), ("Year", 1970), ("Month", 1), ("Day", 1), ("Hour", 10), ("Minute", 0), ("Second", 0),
                       ("Millisecond", 0)):
        stamp.add(key, value)
    header.add("Creator", "MotionBridge FBX writer")
    info = header.add("SceneInfo", "GlobalInfo\x00\x01SceneInfo", "UserData")
    info.add("Type", "UserData")
    info.add("Version", 100)
    md = info.add("MetaData")
    md.add("Version", 100)
    md.add("Title", ", ".join(prep.take_names))
    md.add("Subject", str(prep.clips[0].metadata.get("prompt", "")))
    md.add("Author", "MotionBridge")
    md.add("Keywords", "motion")
    md.add("Revision", "")
    md.add("Comment", json.dumps(meta, default=str, sort_keys=True))
    info.children.append(_props(("Original|ApplicationName", "KString", "", "", "MotionBridge")))
    top = Node("")
    top.add("FileId", FILE_ID)
    top.add("CreationTime", CREATION_TIME)
    top.add("Creator", "MotionBridge")
    return [header, *top.children]


def _global_settings(opts: FbxOptions, fps: float, stop: int) -> Node:
    up, up_sign, front, front_sign, coord, coord_sign = AXES[opts.up]
    mode = TIME_MODES.get(float(fps), CUSTOM_TIME_MODE)
    node = Node("GlobalSettings")
    node.add("Version", 1000)
    node.children.append(_props(
        ("UpAxis", "int", "Integer", "", up), ("UpAxisSign", "int", "Integer", "", up_sign),
        ("FrontAxis", "int", "Integer", "", front), ("FrontAxisSign", "int", "Integer", "", front_sign),
        ("CoordAxis", "int", "Integer", "", coord), ("CoordAxisSign", "int", "Integer", "", coord_sign),
        ("OriginalUpAxis", "int", "Integer", "", up), ("OriginalUpAxisSign", "int", "Integer", "", up_sign),
        ("UnitScaleFactor", "double", "Number", "", CM_PER_UNIT[opts.units]),
        ("OriginalUnitScaleFactor", "double", "Number", "", CM_PER_UNIT[opts.units]),
        ("DefaultCamera", "KString", "", "", "Producer Perspective"),
        ("TimeMode", "enum", "", "", mode),
        ("TimeSpanStart", "KTime", "Time", "", Typed("L", 0)),
        ("TimeSpanStop", "KTime", "Time", "", Typed("L", stop)),
        ("CustomFrameRate", "double", "Number", "", float(fps)),
    ))
    return node


def build(takes: Sequence[Clip], names: Sequence[str], opts: FbxOptions) -> tuple[bytes, list[str]]:
    check_option("up", opts.up, ("y", "z"))
    check_option("units", opts.units, ("m", "cm"))
    prep = prepare(takes, names, "fbx", up=opts.up, units=opts.units)
    fps = {c.fps for c in prep.clips}
    if len(fps) > 1:
        raise ValueError(f"takes in one FBX file must share a frame rate, got {sorted(fps)}; write them to separate files")
    scene = _Scene()
    bones = _add_skeleton(scene, prep)
    if opts.body:
        _add_body(scene, prep, bones, body_mesh(prep.skeleton))
    stops = [(_add_take(scene, c, n, bones, prep), n) for c, n in zip(prep.clips, prep.take_names)]

    documents = Node("Documents")
    documents.add("Count", 1)
    doc = documents.add("Document", Typed("L", 999_999_999), "", "Scene")
    doc.children.append(_props(("SourceObject", "object", "", ""), ("ActiveAnimStackName", "KString", "", "", prep.take_names[0])))
    doc.add("RootNode", Typed("L", 0))

    definitions = Node("Definitions")
    definitions.add("Version", 100)
    definitions.add("Count", sum(scene.counts.values()) + 1)
    definitions.add("ObjectType", "GlobalSettings").add("Count", 1)
    for kind, count in scene.counts.items():
        definitions.add("ObjectType", kind).add("Count", count)

    takes_node = Node("Takes")
    takes_node.add("Current", prep.take_names[0])
    for (_, stop), name in stops:
        take = takes_node.add("Take", name)
        take.add("FileName", f"{name}.tak")
        take.add("LocalTime", Typed("L", 0), Typed("L", stop))
        take.add("ReferenceTime", Typed("L", 0), Typed("L", stop))

    top = _header(prep, opts.version) + [
        _global_settings(opts, fps.pop(), max(s for (_, s), _ in stops)),
        documents, Node("References"), definitions, scene.objects, scene.connections, takes_node,
    ]
    return encode(top, opts.version), prep.warnings


def write(path: Path, takes: Sequence[Clip], names: Sequence[str], **options: Any) -> list[str]:
    """Registry entry point; options: up ('y'|'z'), units ('cm'|'m'), body (bool), version (7400|7500)."""
    unknown = set(options) - {"up", "units", "body", "version"}
    if unknown:
        raise ValueError(f"unknown FBX options {sorted(unknown)}; use up, units, body, version")
    opts = FbxOptions(**{k: v for k, v in options.items() if v is not None})
    data, warnings = build(takes, names, opts)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return warnings
