"""What the directing rows read from a Blender scene: the armature's pose at given frames,
the frames its own Action keys, and a curve object's course in the armature's space."""

from __future__ import annotations

import math
from collections.abc import Sequence

import bpy
import numpy as np

from motionbridge.dcc_plugin.core.host import HostError
from motionbridge.rigs import Clip, Skeleton

from . import action_api
from .rig_io import clip_from_channels


def read_pose(obj: bpy.types.Object, skeleton: Skeleton, frames: Sequence[float]) -> Clip:
    """(len(frames)) poses of `obj` as it plays at those scene frames; the playhead is restored."""
    scene = bpy.context.scene
    was = (scene.frame_current, scene.frame_subframe)
    bones = [obj.pose.bones.get(name) for name in skeleton.names]
    wxyz = np.tile([1.0, 0.0, 0.0, 0.0], (len(frames), skeleton.num_joints, 1))
    loc = np.zeros((len(frames), 3))
    try:
        for i, frame in enumerate(frames):
            whole = math.floor(frame)
            scene.frame_set(int(whole), subframe=float(frame - whole))
            for j, pb in enumerate(bones):
                if pb is not None:
                    wxyz[i, j] = tuple(pb.matrix_basis.to_quaternion())
            if bones[0] is not None:
                loc[i] = tuple(bones[0].matrix_basis.to_translation())
    finally:
        scene.frame_set(was[0], subframe=was[1])
    fps = scene.render.fps / scene.render.fps_base
    return clip_from_channels(skeleton, wxyz, loc, float(fps), {"rig": obj.name})


def keyed_frames(obj: bpy.types.Object) -> list[int]:
    """Frames with a key on any of the armature's own F-curves (its active Action)."""
    found: set[int] = set()
    for fc in action_api.active_fcurves(obj):
        co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
        fc.keyframe_points.foreach_get("co", co)
        found.update(int(round(f)) for f in co[0::2])
    return sorted(found)


def sample_curve(name: str, armature: bpy.types.Object, count: int) -> np.ndarray:
    """(count, 3) points along the curve object from its first point to its last, evenly by
    its evaluated vertices, in the armature's space."""
    curve = bpy.data.objects.get(name)
    if curve is None or curve.type != "CURVE":
        raise HostError(f"{name!r} is not a curve object in this file; pick the path's curve under Follow curve")
    evaluated = curve.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    try:
        points = np.empty(3 * len(mesh.vertices))
        mesh.vertices.foreach_get("co", points)
    finally:
        evaluated.to_mesh_clear()
    points = points.reshape(-1, 3)
    if len(points) < 2:
        raise HostError(f"curve {name!r} has fewer than two points; draw the path with at least two")
    to_rig = np.array(armature.matrix_world.inverted() @ curve.matrix_world)
    local = points @ to_rig[:3, :3].T + to_rig[:3, 3]
    where = np.linspace(0.0, len(local) - 1, count)
    return np.column_stack([np.interp(where, np.arange(len(local)), local[:, c]) for c in range(3)])
