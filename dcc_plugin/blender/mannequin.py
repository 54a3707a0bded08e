"""An SMPL-X armature with HY-Motion's wooden body skinned to it: a ready target for takes
(the same-topology path, no retargeting) and a quick way to look at a prompt's motion."""

from __future__ import annotations

import bpy
import numpy as np

from motionbridge.rigs.smplx import SMPLX_FROM_SMPLH, SMPLX_JOINT_NAMES, load_body_model, smplx_parents, smplx_rest_world_positions

Y_TO_Z = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64)  # model Y-up -> Blender Z-up


def build_mannequin(name: str = "SMPLX_Mannequin", with_body: bool = True) -> bpy.types.Object:
    pos = smplx_rest_world_positions() @ Y_TO_Z.T
    parents = smplx_parents()
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    bones = []
    for j, joint in enumerate(SMPLX_JOINT_NAMES):
        kids = np.nonzero(parents == j)[0]
        head = pos[j]
        tail = pos[kids[0]] if len(kids) == 1 else head + np.array([0.0, 0.0, 0.06])
        if np.linalg.norm(tail - head) < 1e-3:
            tail = head + np.array([0.0, 0.0, 0.03])
        bone = arm.edit_bones.new(joint)
        bone.head, bone.tail = head, tail
        if parents[j] >= 0:
            bone.parent = bones[parents[j]]
        bones.append(bone)
    bpy.ops.object.mode_set(mode="OBJECT")
    if with_body:
        _skin_body(obj)
    return obj


def _skin_body(arm_obj: bpy.types.Object) -> bpy.types.Object:
    body = load_body_model()
    verts = body.v_template.astype(np.float64) @ Y_TO_Z.T
    mesh = bpy.data.meshes.new(f"{arm_obj.name}_body")
    mesh.from_pydata(verts.tolist(), [], body.faces.tolist())
    mesh.update()
    obj = bpy.data.objects.new(mesh.name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.parent = arm_obj
    groups = [obj.vertex_groups.new(name=SMPLX_JOINT_NAMES[int(x)]) for x in SMPLX_FROM_SMPLH]
    for slot in range(body.skin_weights.shape[1]):
        for h in np.unique(body.skin_indices[:, slot]):
            chosen = np.nonzero((body.skin_indices[:, slot] == h) & (body.skin_weights[:, slot] > 0))[0]
            for v, w in zip(chosen.tolist(), body.skin_weights[chosen, slot].tolist()):
                groups[int(h)].add([v], w, "ADD")
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = arm_obj
    return obj
