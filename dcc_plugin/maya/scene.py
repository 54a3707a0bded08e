"""Maya scene access: joint hierarchies in, one animation layer per take out. Main thread only.

Keys go in through the API (MFnAnimCurve.addKeys, one call per curve) on the curves the
layer creates, not one setKeyframe per key, and come back out (for Export) by evaluating those
curves at each frame, so keys the animator edited are read as they now play. API values are
in internal units: radians and centimetres, whatever the scene's UI units are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
from maya import cmds
from maya.api import OpenMaya as om
from maya.api import OpenMayaAnim as oma

from motionbridge.dcc_plugin.core.euler_keys import clip_from_euler_keys, euler_keys, take_frames
from motionbridge.dcc_plugin.core.host import HostError, TakeInfo
from motionbridge.dcc_plugin.core.takes import METADATA_KEY
from motionbridge.rigs import Clip, Skeleton, quat, skeleton_from_world
from motionbridge.rigs.euler import quat_from_euler_degrees

UNITS = {"cm": 1.0, "m": 100.0}  # scene unit -> centimetres (Maya's internal unit)
FPS_UNITS = {24.0: "film", 25.0: "pal", 30.0: "ntsc", 48.0: "show", 50.0: "palf", 60.0: "ntscf"}
ROTATE = ("rotateX", "rotateY", "rotateZ")
TRANSLATE = ("translateX", "translateY", "translateZ")
# the stubs type animLayer's query flags as booleans; findCurveForPlug takes the plug
_anim_layer: Any = cmds.animLayer


def root_joints() -> list[str]:
    joints = cmds.ls(type="joint", long=True) or []
    return sorted(j for j in joints if not (cmds.listRelatives(j, parent=True, type="joint", fullPath=True) or []))


def root_of(node: str) -> str | None:
    found = cmds.ls(node, long=True) or []
    if not found:
        return None
    path = found[0]
    parts = path.split("|")
    for i in range(2, len(parts) + 1):
        candidate = "|".join(parts[:i])
        if cmds.objectType(candidate) == "joint":
            return candidate
    return None


def joints_below(root: str) -> list[str]:
    out: list[str] = []
    stack = [root]
    while stack:
        joint = stack.pop()
        out.append(joint)
        children = cmds.listRelatives(joint, children=True, type="joint", fullPath=True) or []
        stack.extend(reversed(children))
    return out


def scene_units() -> tuple[str, str]:
    up = str(cmds.upAxis(q=True, axis=True))
    linear = str(cmds.currentUnit(q=True, linear=True))
    if linear not in UNITS:
        raise HostError(f"scene linear unit is {linear!r}; set Preferences > Settings > Working Units to cm or m")
    return up, linear


def read_skeleton(root: str) -> tuple[Skeleton, list[str]]:
    joints = joints_below(root)
    index = {j: i for i, j in enumerate(joints)}
    parents = [index.get("|".join(j.split("|")[:-1]), -1) for j in joints]
    mats = np.array([cmds.getAttr(f"{j}.worldMatrix[0]") for j in joints], dtype=np.float64).reshape(-1, 4, 4)
    # Maya matrices act on row vectors: transpose the rotation part, translation is row 3
    rotations = quat.from_matrix(np.swapaxes(mats[:, :3, :3], -1, -2))
    for j in joints:
        if cmds.getAttr(f"{j}.rotateOrder") != 0:
            raise HostError(f"joint {j.split('|')[-1]} uses another rotate order; set it to xyz to key it")
    up, linear = scene_units()
    names = [j.split("|")[-1] for j in joints]
    return skeleton_from_world(names, parents, mats[:, 3, :3], rotations, up_axis=up, units=linear), joints


def _joint_orients(joints: list[str]) -> np.ndarray:
    return quat_from_euler_degrees(np.array([cmds.getAttr(f"{j}.jointOrient")[0] for j in joints], dtype=np.float64), "XYZ")


def _curve_for(layer: str, plug: str) -> Any:
    try:
        name = _anim_layer(layer, q=True, findCurveForPlug=plug)
    except RuntimeError:  # the plug is not on the layer (a joint added since the take was keyed)
        name = None
    if not name:
        raise HostError(f"layer {layer} has no curve for {plug}")
    selection = om.MSelectionList()
    selection.add(name[0] if isinstance(name, list) else name)
    return oma.MFnAnimCurve(selection.getDependNode(0))


def key_take(joints: list[str], clip: Clip, take_name: str, metadata: dict[str, Any]) -> TakeInfo:
    """A new animation layer holding the clip; deleted again if anything fails. It comes in
    muted while another take plays, so it does not stack over the one being auditioned."""
    playing = playing_takes()
    layer = str(cmds.animLayer(take_name))
    try:
        plugs = [f"{j}.{a}" for j in joints for a in ROTATE]
        plugs += [f"{joints[0]}.{a}" for a in TRANSLATE]
        cmds.animLayer(layer, edit=True, attribute=plugs)
        cmds.setKeyframe(plugs, time=1, animLayer=layer)  # makes the layer's curves
        radians = np.radians(euler_keys(clip, _joint_orients(joints)))
        times = _times(range(1, clip.num_frames + 1))
        for j, joint in enumerate(joints):
            for axis, attr in enumerate(ROTATE):
                _curve_for(layer, f"{joint}.{attr}").addKeys(times, radians[j, axis].tolist(), keepExistingKeys=False)
        _, linear = scene_units()
        for axis, attr in enumerate(TRANSLATE):
            values = (clip.root_translation[:, axis] * UNITS[linear]).tolist()
            _curve_for(layer, f"{joints[0]}.{attr}").addKeys(times, values, keepExistingKeys=False)
        cmds.addAttr(layer, longName=METADATA_KEY, dataType="string")
        cmds.setAttr(f"{layer}.{METADATA_KEY}", json.dumps(metadata, sort_keys=True), type="string")
        cmds.animLayer(layer, edit=True, mute=bool(playing))
        return TakeInfo(layer, joints[0], 1, clip.num_frames, clip.fps, dict(metadata))
    except Exception:
        cmds.delete(layer)
        raise


def _times(frames: Iterable[int]) -> list[Any]:
    """MTimes of scene frames (frame 1 is a take's first), in the scene's time unit."""
    return [om.MTime(float(f), om.MTime.uiUnit()) for f in frames]


def _sample(layer: str, plug: str, times: list[Any]) -> list[float]:
    curve = _curve_for(layer, plug)
    return [float(curve.evaluate(t)) for t in times]


def read_take(layer: str, joints: list[str], skeleton: Skeleton, metadata: dict[str, Any]) -> Clip:
    """The take's curves on `joints` evaluated at each of its frames, as a Clip on `skeleton`
    (the inverse of key_take)."""
    times = _times(take_frames(layer, 1, int(metadata.get("num_frames", 0))))
    radians = np.array([[_sample(layer, f"{joint}.{attr}", times) for attr in ROTATE] for joint in joints])
    root_cm = np.array([_sample(layer, f"{joints[0]}.{attr}", times) for attr in TRANSLATE])
    _, linear = scene_units()
    return clip_from_euler_keys(layer, skeleton, _joint_orients(joints), np.degrees(radians), root_cm / UNITS[linear], metadata)


def take_metadata(layer: str) -> dict[str, Any]:
    return dict(json.loads(str(cmds.getAttr(f"{layer}.{METADATA_KEY}"))))


def take_layers() -> list[str]:
    layers = cmds.ls(type="animLayer") or []
    return [layer for layer in layers if cmds.attributeQuery(METADATA_KEY, node=layer, exists=True)]


def list_takes() -> list[TakeInfo]:
    out = []
    for layer in take_layers():
        meta = take_metadata(layer)
        frames = int(meta.get("num_frames", 0))
        out.append(TakeInfo(layer, "", 1, frames, float(meta.get("fps", 30.0)), meta))
    return out


def playing_takes() -> list[str]:
    """The takes that play: their layers are not muted."""
    return [layer for layer in take_layers() if not cmds.animLayer(layer, q=True, mute=True)]


def audition(take_name: str) -> None:
    for layer in take_layers():
        cmds.animLayer(layer, edit=True, mute=layer != take_name)


def set_timeline(frame_start: int, frame_end: int, fps: float) -> None:
    unit = FPS_UNITS.get(round(fps, 3))
    if unit is not None:
        cmds.currentUnit(time=unit)
    cmds.playbackOptions(minTime=frame_start, maxTime=frame_end)
