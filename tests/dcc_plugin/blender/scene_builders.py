"""Armatures for the Blender tests (runs inside bpy): SMPL-X, Mixamo-named and Rigify-like.

All three are built from the SMPL-X rest joints (converted to Blender's Z-up, facing -Y),
each bone pointing at its first child like a DCC-made rig, so their bone rest frames differ
from the model's identity frames.
"""

from __future__ import annotations

import bpy
import numpy as np

from motionbridge.rigs.smplx import SMPLX_JOINT_NAMES, smplx_parents, smplx_rest_world_positions

Y_TO_Z = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float)

MIXAMO = {
    "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
    "left_collar": "LeftShoulder", "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
    "right_collar": "RightShoulder", "right_shoulder": "RightArm", "right_elbow": "RightForeArm", "right_wrist": "RightHand",
    "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot", "left_foot": "LeftToeBase",
    "right_hip": "RightUpLeg", "right_knee": "RightLeg", "right_ankle": "RightFoot", "right_foot": "RightToeBase",
}
RIGIFY = {
    "pelvis": "DEF-spine", "spine1": "DEF-spine.001", "spine2": "DEF-spine.002", "spine3": "DEF-spine.003",
    "neck": "DEF-spine.004", "head": "DEF-spine.006",
    "left_collar": "DEF-shoulder.L", "left_shoulder": "DEF-upper_arm.L", "left_elbow": "DEF-forearm.L", "left_wrist": "DEF-hand.L",
    "right_collar": "DEF-shoulder.R", "right_shoulder": "DEF-upper_arm.R", "right_elbow": "DEF-forearm.R", "right_wrist": "DEF-hand.R",
    "left_hip": "DEF-thigh.L", "left_knee": "DEF-shin.L", "left_ankle": "DEF-foot.L", "left_foot": "DEF-toe.L",
    "right_hip": "DEF-thigh.R", "right_knee": "DEF-shin.R", "right_ankle": "DEF-foot.R", "right_foot": "DEF-toe.R",
}


def build_armature(name: str, rename: dict[str, str] | None = None, prefix: str = "") -> bpy.types.Object:
    """An armature on the SMPL-X joints (all 55, or only those in `rename`)."""
    pos = smplx_rest_world_positions() @ Y_TO_Z.T
    parents = smplx_parents()
    keep = [j for j, n in enumerate(SMPLX_JOINT_NAMES) if rename is None or n in rename]
    bone_name = {j: prefix + (rename[SMPLX_JOINT_NAMES[j]] if rename else SMPLX_JOINT_NAMES[j]) for j in keep}
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    edit = {}
    for j in keep:
        kids = [c for c in keep if parents[c] == j]
        head = pos[j]
        tail = pos[kids[0]] if kids else head + (head - pos[parents[j]]) * 0.5 if parents[j] >= 0 else head + [0, 0, 0.1]
        if np.linalg.norm(tail - head) < 1e-3:
            tail = head + np.array([0.0, 0.0, 0.05])
        eb = data.edit_bones.new(bone_name[j])
        eb.head, eb.tail = head, tail
        p = parents[j]
        while p >= 0 and p not in bone_name:
            p = parents[p]
        if p >= 0:
            eb.parent = edit[p]
        edit[j] = eb
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj
