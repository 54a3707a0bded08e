"""MotionBridge takes as Blender data: one layered Action and one NLA track per take.

Keys go through the Action API of the running Blender (`action_api`: layered with slots
from 4.4, plain `action.fcurves` on 4.2 and 4.3) and `keyframe_points.foreach_set`, so a 55-bone, 360-frame take is a few
hundred array copies, not a hundred thousand keyframe inserts. The metadata JSON lives on
the Action (an ID, so it is saved with the file and seen by the exporters).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import bpy
import numpy as np

from motionbridge.dcc_plugin.core.host import TakeInfo
from motionbridge.dcc_plugin.core.takes import METADATA_KEY
from motionbridge.rigs import Clip, Skeleton

from . import action_api
from .rig_io import clip_from_channels, pose_channels

FIRST_FRAME = 1
RIG_KEY = "motionbridge_rig"
AUDITION_KEY = "motionbridge_audition"  # on the armature: the take it plays (the others are muted)


_LINEAR = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value


@functools.lru_cache(maxsize=8)
def _linear_keys(count: int) -> tuple[int, ...]:
    # a tuple, not a numpy array: foreach_set takes enum values from a sequence about 3x
    # faster than from an int32 buffer (measured on bpy 4.5)
    return (_LINEAR,) * count


def key_coordinates(wxyz: np.ndarray, loc: np.ndarray) -> np.ndarray:
    """(C, F, 2) float32 keyframe (frame, value) pairs for every F-curve of a take, in
    write order: bone j's rotation W, X, Y, Z at 4j..4j+3, then the root's location X, Y, Z.
    Built in one go so that each F-curve is one foreach_set of a contiguous slice."""
    frames, joints = wxyz.shape[:2]
    values = np.concatenate([wxyz.reshape(frames, joints * 4), loc], axis=1).T
    co = np.empty((values.shape[0], frames, 2), dtype=np.float32)
    co[:, :, 0] = np.arange(frames, dtype=np.float32) + FIRST_FRAME
    co[:, :, 1] = values
    return co


def _add_keys(fcurve: bpy.types.FCurve, co: np.ndarray, linear: tuple[int, ...]) -> None:
    points = fcurve.keyframe_points
    points.add(len(linear))
    points.foreach_set("co", co.reshape(-1))
    # linear keys need no handles, so no fcurve.update() (which would double the cost)
    points.foreach_set("interpolation", linear)


def write_take(obj: bpy.types.Object, skeleton: Skeleton, clip: Clip, name: str, metadata: dict[str, Any]) -> TakeInfo:
    """Create the Action and its NLA track; removes both if anything fails."""
    wxyz, loc = pose_channels(skeleton, clip)
    co = key_coordinates(wxyz, loc)
    linear = _linear_keys(clip.num_frames)
    root_curves = 4 * skeleton.num_joints  # the location curves follow every rotation curve
    action = bpy.data.actions.new(name)
    track = None
    try:
        action.use_fake_user = False
        new_curve, slot = action_api.open_channels(action, obj, "MotionBridge")
        for j, bone_name in enumerate(skeleton.names):
            base = f'pose.bones["{bpy.utils.escape_identifier(bone_name)}"]'
            for c in range(4):
                _add_keys(new_curve(f"{base}.rotation_quaternion", c, bone_name), co[4 * j + c], linear)
            if j == 0:
                for c in range(3):
                    _add_keys(new_curve(f"{base}.location", c, bone_name), co[root_curves + c], linear)
        action[METADATA_KEY] = json.dumps(metadata, sort_keys=True)
        action[RIG_KEY] = obj.name
        action["motionbridge_fps"] = float(clip.fps)
        keyed = set(skeleton.names)
        for pb in obj.pose.bones:
            if pb.rotation_mode != "QUATERNION" and pb.name in keyed:  # writing it tags an update: only when needed
                pb.rotation_mode = "QUATERNION"
        anim = obj.animation_data or obj.animation_data_create()
        track = anim.nla_tracks.new()
        track.name = name
        nla_strip = track.strips.new(name, FIRST_FRAME, action)
        action_api.bind_strip(nla_strip, slot)
        nla_strip.extrapolation = "NOTHING"
        if _auditioned(obj, besides=track):
            track.mute = True  # a new take does not stack over the one being auditioned
        else:
            _solo(obj, track, name)
        return TakeInfo(name, obj.name, FIRST_FRAME, FIRST_FRAME + clip.num_frames - 1, float(clip.fps), dict(metadata))
    except BaseException:
        if track is not None and obj.animation_data is not None:
            obj.animation_data.nla_tracks.remove(track)
        bpy.data.actions.remove(action)
        raise


def _mb_tracks(obj: bpy.types.Object):
    if obj.type != "ARMATURE" or obj.animation_data is None:
        return
    for track in obj.animation_data.nla_tracks:
        for strip in track.strips:
            if strip.action is not None and METADATA_KEY in strip.action:
                yield track, strip
                break


def find_take(name: str):
    for obj in bpy.data.objects:
        for track, strip in _mb_tracks(obj):
            if track.name == name:
                return obj, track, strip
    raise KeyError(f"no MotionBridge take named {name!r}; refresh the takes list")


def list_takes() -> list[TakeInfo]:
    out = []
    for obj in bpy.data.objects:
        for track, strip in _mb_tracks(obj):
            action = strip.action
            meta = json.loads(action[METADATA_KEY])
            out.append(TakeInfo(track.name, obj.name, int(strip.frame_start), int(round(strip.frame_end)),
                                float(action.get("motionbridge_fps", 30.0)), meta))
    return out


def delete_take(name: str) -> None:
    obj, track, strip = find_take(name)
    action = strip.action
    obj.animation_data.nla_tracks.remove(track)
    if action is not None and action.users == 0:
        bpy.data.actions.remove(action)


def rename_take(name: str, new_name: str) -> None:
    obj, track, strip = find_take(name)
    track.name = new_name
    strip.name = new_name
    strip.action.name = new_name
    if obj.get(AUDITION_KEY) == name:
        obj[AUDITION_KEY] = new_name


def place(name: str, frame_start: int) -> TakeInfo:
    """Move the take's NLA strip (keys and all) so it starts at `frame_start`."""
    _, _, strip = find_take(name)
    strip.frame_start_ui = float(frame_start)  # moves the whole strip; frame_start would stretch it
    return next(t for t in list_takes() if t.name == name)


def audition(name: str) -> None:
    """Only this take plays on its armature; the others stay, muted."""
    obj, chosen, _ = find_take(name)
    _solo(obj, chosen, name)


def _solo(obj: bpy.types.Object, chosen: Any, name: str) -> None:
    own = obj.animation_data.action
    if own is not None and METADATA_KEY not in own:
        own.use_fake_user = True  # the animator's keys (an In-between's poses) outlive being unassigned
    obj.animation_data.action = None
    for track, _ in _mb_tracks(obj):
        track.mute = track != chosen
    obj[AUDITION_KEY] = name


def _auditioned(obj: bpy.types.Object, besides: Any = None) -> str:
    """The take this armature plays, if it still exists and is not muted."""
    name = obj.get(AUDITION_KEY, "")
    for track, _ in _mb_tracks(obj):
        if track.name == name and not track.mute and track != besides:
            return str(name)
    return ""


def playing_takes() -> set[str]:
    """The takes that play: one per armature (the auditioned one)."""
    return {name for obj in bpy.data.objects if obj.type == "ARMATURE" and (name := _auditioned(obj))}


def read_take(name: str, skeleton: Skeleton) -> Clip:
    """The take's keys back as a Clip on `skeleton` (for exporting)."""
    obj, _, strip = find_take(name)
    action = strip.action
    fcurves = list(action_api.strip_fcurves(strip))
    if not fcurves:
        raise ValueError(f"take {name!r} has no keys for {obj.name!r}")
    curves = {(fc.data_path, fc.array_index): fc for fc in fcurves}
    root = curves[(f'pose.bones["{bpy.utils.escape_identifier(skeleton.names[0])}"].location', 0)]
    frames = len(root.keyframe_points)
    wxyz = np.empty((frames, skeleton.num_joints, 4))
    loc = np.empty((frames, 3))
    buf = np.empty(frames * 2, dtype=np.float32)
    for j, bone_name in enumerate(skeleton.names):
        base = f'pose.bones["{bpy.utils.escape_identifier(bone_name)}"]'
        for c in range(4):
            curves[(f"{base}.rotation_quaternion", c)].keyframe_points.foreach_get("co", buf)
            wxyz[:, j, c] = buf[1::2]
    for c in range(3):
        curves[(f'pose.bones["{bpy.utils.escape_identifier(skeleton.names[0])}"].location', c)].keyframe_points.foreach_get("co", buf)
        loc[:, c] = buf[1::2]
    meta = json.loads(action[METADATA_KEY])
    meta["take_name"] = name
    return clip_from_channels(skeleton, wxyz, loc, float(action.get("motionbridge_fps", 30.0)), meta)
