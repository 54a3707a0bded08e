"""Reads an armature as a motionbridge Skeleton and converts clips to pose-bone channels.

Everything is in armature space, so the object's own transform (a 0.01 scale on an FBX
import, a placement in the set) is left to the user. Bone order is parents-first.
"""

from __future__ import annotations

import bpy
import numpy as np

from motionbridge.rigs import Clip, Skeleton, quat


def bone_order(arm: bpy.types.Armature) -> list[bpy.types.Bone]:
    ordered: list[bpy.types.Bone] = []
    stack = [b for b in arm.bones if b.parent is None][::-1]
    while stack:
        bone = stack.pop()
        ordered.append(bone)
        stack.extend(list(bone.children)[::-1])
    return ordered


def _units(obj: bpy.types.Object) -> str:
    scale = obj.matrix_world.to_scale()
    return "cm" if abs(scale[0] - 0.01) < 1e-4 else "m"


def read_skeleton(obj: bpy.types.Object) -> Skeleton:
    if obj is None or obj.type != "ARMATURE":
        raise ValueError("the target must be an armature object; select the character's armature")
    bones = bone_order(obj.data)
    if not bones:
        raise ValueError(f"armature {obj.name!r} has no bones; pick the character's skeleton")
    index = {b.name: i for i, b in enumerate(bones)}
    parents = np.array([index[b.parent.name] if b.parent else -1 for b in bones], dtype=np.int32)
    mats = np.array([np.array(b.matrix_local) for b in bones])  # (J, 4, 4) armature-space rest
    local = mats.copy()
    has_parent = parents >= 0
    local[has_parent] = np.linalg.inv(mats[parents[has_parent]]) @ mats[has_parent]
    rot = quat.from_matrix(local[:, :3, :3])
    return Skeleton(tuple(b.name for b in bones), parents, local[:, :3, 3], quat.normalize(rot), up_axis="z", units=_units(obj))


def pose_channels(skeleton: Skeleton, clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone basis rotations (F, J, 4) **wxyz**, hemisphere-continuous, and the root
    bone's basis location (F, 3), for a clip on `skeleton`."""
    if tuple(clip.skeleton.names) != tuple(skeleton.names):
        raise ValueError("the clip was made for another rig; retarget it onto this armature first")
    rest_inv = quat.conjugate(skeleton.rest_rotations)
    basis = quat.multiply(np.broadcast_to(rest_inv, clip.rotations.shape), clip.rotations)
    # no sign flips between frames, so interpolated keys take the short way round
    dots = np.einsum("fjc,fjc->fj", basis[1:], basis[:-1])
    flips = np.cumprod(np.where(dots < 0, -1.0, 1.0), axis=0)
    basis[1:] *= flips[..., None]
    wxyz = basis[..., [3, 0, 1, 2]]
    offset = clip.root_translation - skeleton.rest_translations[0]
    loc = quat.rotate(np.broadcast_to(rest_inv[0], (clip.num_frames, 4)), offset)
    return np.ascontiguousarray(wxyz), loc


def clip_from_channels(skeleton: Skeleton, wxyz: np.ndarray, loc: np.ndarray, fps: float, metadata: dict) -> Clip:
    """Inverse of pose_channels: pose-bone basis values back to a Clip on `skeleton`."""
    basis = quat.normalize(wxyz[..., [1, 2, 3, 0]])
    rot = quat.multiply(np.broadcast_to(skeleton.rest_rotations, basis.shape), basis)
    root = skeleton.rest_translations[0] + quat.rotate(np.broadcast_to(skeleton.rest_rotations[0], (len(loc), 4)), loc)
    return Clip(skeleton, rot, root, fps, dict(metadata))
