"""Reverse retargeting: a pose or take keyed on the user's rig back onto SMPL-X.

The exact inverse of `retarget(smplx_clip, rig)` with default options, built from the same
rest-pose alignment (`alignment.retarget_plan` for SMPL-X -> rig), so that "the character's
current pose" and keyed poses can become model constraints. Retargeting maps each shared
canonical bone's world rotation as  rig = g * smplx * k;  here  smplx = g^-1 * rig * k^-1,
and the hips position through the inverse of its anchor, scale and frame change.

What a rig -> SMPL-X -> rig round trip keeps: every bone the two share, and the root. What
it cannot: rotations of rig bones SMPL-X has no counterpart for (twist bones, extra spine or
helper bones) - the forward retarget rebuilds those from rest or from the limbs. SMPL-X
joints the rig does not map keep their rest pose relative to their parent.
"""

from __future__ import annotations

import numpy as np

from . import quat
from .alignment import retarget_plan
from .axes import convert_handedness
from .canonical import CANONICAL_BONES
from .description import RigDescription
from .retarget import bind_checked
from .skeleton import Clip, RigError, joint_major, positions_from_world
from .smplx import smplx_skeleton


def to_smplx(clip: Clip, mapping: RigDescription | None = None) -> Clip:
    """`clip` on any humanoid rig (detected when `mapping` is None) -> a Clip on the 55-joint
    SMPL-X skeleton, Y-up metres, that `retarget(..., rig)` maps back onto `clip`."""
    if not isinstance(clip, Clip):
        raise RigError(f"to_smplx(clip: Clip, ...): pass the pose or take as a Clip, not {type(clip).__name__}")
    rig = convert_handedness(clip, "right") if clip.skeleton.handedness == "left" else clip
    S, T = smplx_skeleton(), rig.skeleton
    src_map, tgt_map = bind_checked(None, S), bind_checked(mapping, T)
    si, ti = src_map.indices(), tgt_map.indices()
    common = [c for c in CANONICAL_BONES if c in si and c in ti]
    plan = retarget_plan(S, T, si, ti, common)

    rig_world, rig_pos = rig.world()
    frames = rig.num_frames
    world = joint_major((frames, S.num_joints), 4)
    world[:, plan.s_idx] = quat.multiply(quat.conjugate(plan.g), quat.multiply(rig_world[:, plan.t_idx], quat.conjugate(plan.k)))
    driven = np.zeros(S.num_joints, dtype=bool)
    driven[plan.s_idx] = True
    for level in S.levels:  # SMPL-X joints the rig does not drive keep their rest local rotation
        free = level[~driven[level]]
        if len(free):
            par = S.parents[free]
            world[:, free] = S.rest_rotations[free] if par[0] < 0 else quat.multiply(world[:, par], S.rest_rotations[free])
    local = joint_major((frames, S.num_joints), 4)
    inner = S.parents >= 0
    local[:, ~inner] = world[:, ~inner]
    local[:, inner] = quat.multiply(quat.conjugate(world[:, S.parents[inner]]), world[:, inner])

    # hips: invert  rig_hips = anchor_t + ratio * (smplx_hips - anchor_s) @ gm.T
    ratio = plan.height_t / plan.height_s
    hips = plan.anchor_s + ((rig_pos[:, ti["hips"]] - plan.anchor_t) @ plan.gm) / ratio
    root = hips - positions_from_world(S, world, np.zeros((frames, 3)))[:, si["hips"]]
    meta = {**clip.metadata, "reverse_retarget": {"rig": tgt_map.name, "mapped_bones": list(common)}}
    return Clip(S, quat.normalize(local), root, clip.fps, meta)
