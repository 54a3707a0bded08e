"""Retarget a clip onto another humanoid skeleton, per mapped bone in world space.

Each canonical bone mapped on both rigs takes the source bone's world rotation *change from
rest*, carried through the rest-pose alignment of `alignment.py` (body frames, per-bone
swing and twist). Unmapped target bones keep their rest pose relative to their parent; the
root moves by the hip-height ratio; options add grounding, foot locking (two-bone IK) and
hand poses. Everything is vectorised over frames; loops run over joints or depth levels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import quat
from .alignment import retarget_plan
from .axes import convert_handedness
from .canonical import CANONICAL_BONES, FINGER_BONES, LIMBS, POINTS_AT, SIDES
from .description import RigDescription
from .detect import detect_rig
from .footlock import FootLockParams, detect_contacts, pin_targets, two_bone_ik
from .metrics import direction_errors, foot_skate, path_ratio
from .root_motion import root_motion_mode
from .secondary import relaxed_finger_locals, shared_twist, twist_drivers
from .skeleton import UNITS, Clip, RigError, Skeleton, joint_major, positions_from_world

HANDS = ("model", "relaxed", "rest")


@dataclass(frozen=True)
class RetargetOptions:
    root_motion: str = "world"  # one of root_motion.ROOT_MOTIONS (former words "on", "xz_in_place" are accepted)
    keep_heading: bool = True  # False: turn the take so its first frame faces the rig's forward
    ground: bool = False  # shift the take so its lowest foot joint sits at height 0
    foot_lock: bool = False  # pin planted feet with two-bone IK on the legs
    hands: str = "model"  # "model": the source's fingers; "relaxed": a relaxed curl; "rest": rest pose
    foot_lock_params: FootLockParams = field(default_factory=FootLockParams)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root_motion", root_motion_mode(self.root_motion))
        if self.hands not in HANDS:
            raise RigError(f"hands must be one of {HANDS}, not {self.hands!r}")
        for name in ("keep_heading", "ground", "foot_lock"):
            if not isinstance(getattr(self, name), bool):
                raise RigError(f"{name} must be true or false, not {getattr(self, name)!r}")


@dataclass
class RetargetResult:
    clip: Clip
    metrics: dict[str, Any]
    mapping: RigDescription  # the target mapping, bound to the target skeleton


def bind_checked(desc: RigDescription | None, skeleton: Skeleton) -> RigDescription:
    if desc is None:
        return detect_rig(skeleton).mapping
    if not isinstance(desc, RigDescription):
        raise RigError(f"mapping must be a RigDescription (see load_rig), not {type(desc).__name__}")
    bound = desc if desc.skeleton is skeleton else desc.bind(skeleton)
    if bound.unmapped_required:
        raise RigError(
            f"rig {desc.name!r} does not map {', '.join(bound.unmapped_required)} on this skeleton; "
            "fix the mapping file (see rigs/README.md)"
        )
    return bound


def retarget(
    source: Clip,
    target: Skeleton | RigDescription,
    mapping: RigDescription | None = None,
    options: RetargetOptions | None = None,
    *,
    source_mapping: RigDescription | None = None,
) -> RetargetResult:
    """Put `source` onto `target`; `mapping` describes the target (detected when None).

    `target` may also be a RigDescription (from load_rig): its skeleton is used, or, for a bare
    preset, a stand-in character of that family.
    """
    opts = options or RetargetOptions()
    if isinstance(target, RigDescription):
        from .load import rig_skeleton

        mapping = mapping or target
        target = rig_skeleton(target)
    if not isinstance(source, Clip) or not isinstance(target, Skeleton):
        raise RigError("retarget(source: Clip, target: Skeleton, ...): pass the take's Clip and the character's Skeleton")
    if source.skeleton.handedness == "left":
        source = convert_handedness(source, "right")
    tgt = convert_handedness(target, "right") if target.handedness == "left" else target
    src_map, tgt_map = bind_checked(source_mapping, source.skeleton), bind_checked(mapping, tgt)
    si, ti = src_map.indices(), tgt_map.indices()
    common = [c for c in CANONICAL_BONES if c in si and c in ti and (opts.hands == "model" or c not in FINGER_BONES)]

    S, T = source.skeleton, tgt
    rs_rot, rs_pos = S.rest_world()
    rt_rot, rt_pos = T.rest_world()
    plan = retarget_plan(S, T, si, ti, common)
    ms, mt, gm, g, k, s_idx, t_idx = plan.ms, plan.mt, plan.gm, plan.g, plan.k, plan.s_idx, plan.t_idx

    ws_rot, ws_pos = source.world()
    if not opts.keep_heading:
        ws_rot, ws_pos = _zero_heading(ws_rot, ws_pos, rs_rot, si["hips"], ms)
    frames = source.num_frames
    world = joint_major((frames, T.num_joints), 4)
    world[:, t_idx] = quat.multiply(g, quat.multiply(ws_rot[:, s_idx], k))
    rest_local = relaxed_finger_locals(T, ti, rt_rot, rt_pos) if opts.hands == "relaxed" else T.rest_rotations
    driven = np.zeros(T.num_joints, dtype=bool)
    driven[t_idx] = True
    for twist, limb, end in twist_drivers(ti, common):
        world[:, ti[twist]] = shared_twist(world, rt_rot, rt_pos, ti[twist], ti[limb], ti[end])
        driven[ti[twist]] = True
    for level in T.levels:
        free = level[~driven[level]]
        if len(free):
            par = T.parents[free]
            world[:, free] = rest_local[free] if par[0] < 0 else quat.multiply(world[:, par], rest_local[free])
    # an undriven joint's local rotation is its rest (or relaxed) one by construction
    local = joint_major((frames, T.num_joints), 4)
    local[:, ~driven] = rest_local[~driven]
    rooted = driven & (T.parents < 0)
    inner = driven & (T.parents >= 0)
    local[:, rooted] = world[:, rooted]
    local[:, inner] = quat.multiply(quat.conjugate(world[:, T.parents[inner]]), world[:, inner])

    # root motion, scaled by the hip-height ratio
    up_s, up_t = ms[:, 1], mt[:, 1]
    anchor_s, anchor_t, height_t = plan.anchor_s, plan.anchor_t, plan.height_t
    ratio = plan.height_t / plan.height_s
    hips = ti["hips"]
    if opts.root_motion == "off":
        desired = np.broadcast_to(rt_pos[hips], (frames, 3))
    else:
        desired = anchor_t + ratio * (ws_pos[:, si["hips"]] - anchor_s) @ gm.T
        if opts.root_motion == "in_place":
            desired = anchor_t + ((desired - anchor_t) @ up_t)[:, None] * up_t
    moved = _subtree_of_first_root(T)
    if not moved[hips]:
        raise RigError(f"the hips bone {T.names[hips]!r} must descend from the first joint {T.names[0]!r} so root motion can move it")
    pos0 = positions_from_world(T, world, np.zeros((frames, 3)))
    root = desired - pos0[:, hips]
    pos = pos0 + moved[None, :, None] * root[:, None]

    if opts.ground:
        e_up = np.eye(3)[{"y": 1, "z": 2}[T.up_axis]]
        feet = [ti[c] for c in ("left_foot", "right_foot", "left_toes", "right_toes") if c in ti]
        shift = float((pos[:, feet] @ e_up).min()) * e_up
        root = root - shift
        pos = pos - moved[None, :, None] * shift

    cm = UNITS[T.units] * 100.0
    contacts = {s: detect_contacts(pos[:, ti[f"{s}_foot"]], up_t, height_t, source.fps, opts.foot_lock_params) for s in SIDES}
    skate_before = {s: foot_skate(pos[:, ti[f"{s}_foot"]], contacts[s], up_t, source.fps, cm) for s in SIDES}
    if opts.foot_lock:
        for s in SIDES:
            _lock_leg(T, ti, s, local, world, pos, rt_rot, mt, contacts[s], opts.foot_lock_params)
        pos = positions_from_world(T, world, root)

    clip = Clip(T, local, root, source.fps, {**source.metadata, "retarget": {"rig": tgt_map.name, "options": _options_dict(opts)}})
    metrics = _metrics(common, si, ti, ws_pos, pos, gm, contacts, skate_before, source, S, plan.height_s, up_s, up_t, ratio, cm, T, driven)
    if target.handedness == "left":
        clip = convert_handedness(clip, "left").replace(skeleton=target)
        tgt_map = dataclasses.replace(tgt_map, skeleton=target)
    return RetargetResult(clip, metrics, tgt_map)


def _subtree_of_first_root(T: Skeleton) -> np.ndarray:
    moved = np.zeros(T.num_joints, dtype=bool)
    moved[0] = True
    for j in range(1, T.num_joints):
        moved[j] = T.parents[j] >= 0 and moved[T.parents[j]]
    return moved


def _zero_heading(ws_rot, ws_pos, rs_rot, hips, ms):
    up, fwd = ms[:, 1], ms[:, 2]
    facing = quat.rotate(quat.multiply(ws_rot[0, hips], quat.conjugate(rs_rot[hips])), fwd)
    facing = facing - (facing @ up) * up
    yaw = np.arctan2(np.cross(fwd, facing) @ up, fwd @ facing)
    turn = quat.from_axis_angle(up * -yaw)
    center = ws_pos[0, hips]
    return quat.multiply(turn, ws_rot), center + quat.rotate(turn, ws_pos - center)


def _lock_leg(T, ti, side, local, world, pos, rt_rot, mt, contact, params) -> None:
    hip, knee, foot = (ti[f"{side}_{b}"] for b in ("upper_leg", "lower_leg", "foot"))
    if not contact.any():
        return
    up = mt[:, 1]
    target, weight = pin_targets(pos[:, foot], contact, up, params.blend_frames)
    # the knee's hinge for a straight leg: the rest's left axis, carried by the thigh
    hinge = quat.rotate(quat.multiply(world[:, hip], quat.conjugate(rt_rot[hip])), -mt[:, 0])
    q_hip, q_knee = two_bone_ik(pos[:, hip], pos[:, knee], pos[:, foot], target, hinge)
    p_hip, p_knee, p_foot = T.parents[hip], T.parents[knee], T.parents[foot]
    # joints between thigh and shin, or shin and foot, stay rigid (twist bones): only these three change
    local[:, hip] = quat.multiply(quat.conjugate(world[:, p_hip]) if p_hip >= 0 else quat.IDENTITY, quat.multiply(q_hip, world[:, hip]))
    local[:, knee] = quat.multiply(quat.conjugate(world[:, p_knee]), quat.multiply(q_knee, world[:, knee]))
    swung = quat.multiply(q_hip, quat.multiply(q_knee, world[:, p_foot]))
    local[:, foot] = quat.multiply(quat.conjugate(swung), world[:, foot])
    # world rotations follow: the thigh's subtree swings, the shin's also bends, the foot's stays
    thigh, shin, kept = _subtree(T, hip), _subtree(T, knee), _subtree(T, foot)
    shin &= ~kept
    thigh &= ~(shin | kept)
    world[:, thigh] = quat.multiply(q_hip[:, None], world[:, thigh])
    world[:, shin] = quat.multiply(quat.multiply(q_hip, q_knee)[:, None], world[:, shin])


def _subtree(T: Skeleton, j: int) -> np.ndarray:
    inside = np.zeros(T.num_joints, dtype=bool)
    inside[j] = True
    for k in range(j + 1, T.num_joints):
        inside[k] = T.parents[k] >= 0 and inside[T.parents[k]]
    return inside


def _options_dict(opts: RetargetOptions) -> dict[str, Any]:
    d = dataclasses.asdict(opts)
    d.pop("foot_lock_params")
    return d


def _metrics(common, si, ti, ws_pos, pos, gm, contacts, skate_before, source, S, src_height, up_s, up_t, ratio, cm, T, driven):
    names, src_dirs, tgt_dirs = [], [], []
    for c in LIMBS:
        child = next((k for k in POINTS_AT.get(c, ()) if k in common), None)
        if c in common and child:
            names.append(c)
            src_dirs.append((ws_pos[:, si[child]] - ws_pos[:, si[c]]) @ gm.T)
            tgt_dirs.append(pos[:, ti[child]] - pos[:, ti[c]])
    errors = direction_errors(np.stack(src_dirs, 1) if names else None, np.stack(tgt_dirs, 1) if names else None, names)
    src_cm = UNITS[S.units] * 100.0
    skate = {"source": {}, "before": skate_before, "after": {}}
    for s in SIDES:
        f = ws_pos[:, si[f"{s}_foot"]]
        src_contact = detect_contacts(f, up_s, src_height, source.fps, FootLockParams())
        skate["source"][s] = foot_skate(f, src_contact, up_s, source.fps, src_cm)
        skate["after"][s] = foot_skate(pos[:, ti[f"{s}_foot"]], contacts[s], up_t, source.fps, cm)
    return {
        "direction_error_deg": errors,
        "foot_skate_cm_s": skate,
        "contact_frames": {s: int(contacts[s].sum()) for s in SIDES},
        "root_path_length_ratio": path_ratio(ws_pos[:, si["hips"]], up_s, pos[:, ti["hips"]], up_t, ratio),
        "hip_height_ratio": ratio,
        "mapped_bones": list(common),
        "undriven_target_bones": [T.names[j] for j in np.nonzero(~driven)[0]],
    }
