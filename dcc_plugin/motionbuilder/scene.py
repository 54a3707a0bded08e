"""MotionBuilder scene access: skeletons in, takes out (Direct mode). Main thread only.

MotionBuilder is Y-up and in centimetres; rotations are Euler XYZ degrees on top of each
joint's PreRotation. Keys are written through the FBFCurve edit API (EditBegin / KeyAdd /
EditEnd), one curve at a time, which is the fast path the SDK documents, and read back (for
Export) with FBFCurve.Evaluate at each frame, so keys the animator edited are read as they
now play. A property's curves belong to the current take: reading a take makes it current
for the time of the read.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from pyfbsdk import (
    FBFCurve,
    FBInterpolation,
    FBModel,
    FBModelSkeleton,
    FBModelTransformationType,
    FBPlayerControl,
    FBPropertyAnimatable,
    FBPropertyType,
    FBSystem,
    FBTake,
    FBTime,
    FBTimeSpan,
    FBVector3d,
)

from motionbridge.dcc_plugin.core.euler_keys import clip_from_euler_keys, euler_keys, take_frames
from motionbridge.dcc_plugin.core.host import HostError, TakeInfo
from motionbridge.dcc_plugin.core.takes import METADATA_KEY
from motionbridge.rigs import Clip, Skeleton, skeleton_from_world
from motionbridge.rigs.euler import quat_from_euler_degrees

KEYED_ON = "keyed_on"  # metadata: the root joint a take's keys are on (the rig's, or the HumanIK source's)


def find_model(name: str) -> FBModel:
    for comp in FBSystem().Scene.Components:
        if isinstance(comp, FBModel) and comp.LongName == name:
            return comp
    raise HostError(f"no model named {name!r} in the scene; select the character's root joint")


def skeleton_roots() -> list[FBModel]:
    roots: list[FBModel] = []
    for comp in FBSystem().Scene.Components:
        if isinstance(comp, FBModelSkeleton) and not isinstance(comp.Parent, FBModelSkeleton):
            roots.append(comp)
    return roots


def joints_below(root: FBModel) -> list[FBModel]:
    """The joint hierarchy under `root`, parents first."""
    out: list[FBModel] = []
    stack: list[FBModel] = [root]
    while stack:
        model = stack.pop()
        out.append(model)
        stack.extend(reversed([c for c in model.Children if isinstance(c, FBModelSkeleton)]))
    return out


def _vector(model: FBModel, what: FBModelTransformationType) -> np.ndarray:
    v = FBVector3d()
    model.GetVector(v, what, True)
    return np.array([v[0], v[1], v[2]], dtype=np.float64)


def read_skeleton(root: FBModel) -> tuple[Skeleton, list[FBModel]]:
    joints = joints_below(root)
    index = {id(m): i for i, m in enumerate(joints)}
    parents = [index.get(id(m.Parent), -1) if m.Parent is not None else -1 for m in joints]
    positions = np.array([_vector(m, FBModelTransformationType.kModelTranslation) for m in joints])
    rotations = quat_from_euler_degrees(np.array([_vector(m, FBModelTransformationType.kModelRotation) for m in joints]), "XYZ")
    names = [m.LongName for m in joints]
    return skeleton_from_world(names, parents, positions, rotations, up_axis="y", units="cm"), joints


def _pre_rotations(joints: list[FBModel]) -> np.ndarray:
    pre = np.array([[m.PreRotation[0], m.PreRotation[1], m.PreRotation[2]] if m.RotationActive else [0.0, 0.0, 0.0] for m in joints])
    return quat_from_euler_degrees(pre, "XYZ")


def _key_curve(curve: FBFCurve, frames: np.ndarray, values: np.ndarray) -> None:
    curve.EditBegin(len(frames))
    curve.EditClear()
    for f, v in zip(frames.tolist(), values.tolist()):
        curve.KeyAdd(FBTime(0, 0, 0, int(f)), float(v), FBInterpolation.kFBInterpolationLinear)
    curve.EditEnd(len(frames))


def _curves(prop: Any) -> list[FBFCurve]:
    prop.SetAnimated(True)
    node = prop.GetAnimationNode()
    return [node.Nodes[i].FCurve for i in range(3)]


def key_clip(joints: list[FBModel], skeleton: Skeleton, clip: Clip, take_name: str, metadata: dict[str, Any]) -> TakeInfo:
    """A new FBTake holding the clip; the previous current take is restored on failure."""
    system = FBSystem()
    previous = system.CurrentTake
    take = FBTake(take_name)
    try:
        system.Scene.Takes.append(take)
        system.CurrentTake = take
        span = FBTimeSpan(FBTime(0, 0, 0, 0), FBTime(0, 0, 0, clip.num_frames - 1))
        take.LocalTimeSpan = span
        frames = np.arange(clip.num_frames)
        degrees = euler_keys(clip, _pre_rotations(joints))
        for j, model in enumerate(joints):
            for axis, curve in enumerate(_curves(model.Rotation)):
                _key_curve(curve, frames, degrees[j, axis])
        for axis, curve in enumerate(_curves(joints[0].Translation)):
            _key_curve(curve, frames, clip.root_translation[:, axis])
        meta = take.PropertyCreate(METADATA_KEY, FBPropertyType.kFBPT_charptr, "String", False, True, None)
        meta.Data = json.dumps(metadata, sort_keys=True)
        if previous is not None and previous.PropertyList.Find(METADATA_KEY) is not None:
            system.CurrentTake = previous  # a take being auditioned keeps playing
        return TakeInfo(take_name, joints[0].LongName, 0, clip.num_frames - 1, clip.fps, dict(metadata))
    except Exception:
        system.CurrentTake = previous
        take.FBDelete()
        raise


def _keyed_curves(take_name: str, model: FBModel, prop: FBPropertyAnimatable) -> list[FBFCurve]:
    node = prop.GetAnimationNode()
    if node is None:
        raise HostError(f"take {take_name!r} has no keys on {model.LongName}; it cannot be exported")
    return [node.Nodes[i].FCurve for i in range(3)]


def read_take(take: FBTake, joints: list[FBModel], skeleton: Skeleton, metadata: dict[str, Any]) -> Clip:
    """The take's curves on `joints` evaluated at each frame of its span, as a Clip on
    `skeleton` (the inverse of key_clip); the take that was current is current again after."""
    system = FBSystem()
    previous = system.CurrentTake
    span = take.LocalTimeSpan
    times = [FBTime(0, 0, 0, f) for f in take_frames(take.Name, span.GetStart().GetFrame(), span.GetStop().GetFrame())]
    try:
        system.CurrentTake = take
        degrees = np.array([[[c.Evaluate(t) for t in times] for c in _keyed_curves(take.Name, m, m.Rotation)] for m in joints])
        root = np.array([[c.Evaluate(t) for t in times] for c in _keyed_curves(take.Name, joints[0], joints[0].Translation)])
    finally:
        system.CurrentTake = previous
    return clip_from_euler_keys(take.Name, skeleton, _pre_rotations(joints), degrees, root, metadata)


def take_metadata(take: FBTake) -> dict[str, Any] | None:
    """The metadata a MotionBridge take stores; None for the scene's other takes."""
    prop = take.PropertyList.Find(METADATA_KEY)
    return None if prop is None else dict(json.loads(str(prop.Data)))


def list_takes() -> list[TakeInfo]:
    out = []
    for take in FBSystem().Scene.Takes:
        meta = take_metadata(take)
        if meta is None:
            continue
        span = take.LocalTimeSpan
        out.append(TakeInfo(take.Name, "", span.GetStart().GetFrame(), span.GetStop().GetFrame(), float(meta.get("fps", 30.0)), meta))
    return out


def find_take(name: str) -> FBTake:
    for take in FBSystem().Scene.Takes:
        if take.Name == name and take.PropertyList.Find(METADATA_KEY) is not None:
            return take
    raise HostError(f"no MotionBridge take named {name!r}")


def set_timeline(frame_start: int, frame_end: int) -> None:
    player = FBPlayerControl()
    player.LoopStart = FBTime(0, 0, 0, frame_start)
    player.LoopStop = FBTime(0, 0, 0, frame_end)
