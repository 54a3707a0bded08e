"""Retarget a clip onto another humanoid skeleton, per mapped bone in world space.

For each canonical bone mapped on both rigs, the target bone takes the source bone's world
rotation *change from rest*, after two rest-pose alignments:
- a body frame (left = right hip -> left hip, up = feet -> head, forward = left x up) turns
  the source's world into the target's, so Y-up/Z-up and facing directions never matter;
- a per-bone rotation turns the target's rest direction (bone -> the bone it points at) onto
  the source's, so a T-pose source drives an A-pose target and bone-local axes never matter.
Unmapped target bones keep their rest pose relative to their parent. Everything is
vectorised over frames; loops run over joints (or depth levels) only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import quat
from .axes import convert_handedness
from .canonical import CANONICAL_BONES, FINGER_BONES, LIMBS, POINTS_AT, SIDES, canonical_ancestor
from .description import RigDescription
from .detect import detect_rig
from .footlock import FootLockParams, detect_contacts, horizontal, pin_targets, two_bone_ik
from .metrics import direction_errors, foot_skate, path_ratio
from .skeleton import UNITS, Clip, RigError, Skeleton, forward_kinematics

ROOT_MOTION = ("on", "off", "xz_in_place")
HANDS = ("model", "relaxed", "rest")
RELAXED_CURL_DEG = {"thumb": (5.0, 10.0, 10.0), "other": (20.0, 30.0, 15.0)}


@dataclass(frozen=True)
class RetargetOptions:
    root_motion: str = "on"  # "off": hips stay at rest; "xz_in_place": keep only the vertical motion
    keep_heading: bool = True  # False: turn the take so its first frame faces the rig's forward
    ground: bool = False  # shift the take so its lowest foot joint sits at height 0
    foot_lock: bool = False  # pin planted feet with two-bone IK on the legs
    hands: str = "model"  # "model": the source's fingers; "relaxed": a relaxed curl; "rest": rest pose
    foot_lock_params: FootLockParams = field(default_factory=FootLockParams)

    def __post_init__(self) -> None:
        if self.root_motion not in ROOT_MOTION:
            raise RigError(f"root_motion must be one of {ROOT_MOTION}, not {self.root_motion!r}")
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


def body_frame(idx: dict[str, int], pos: np.ndarray) -> np.ndarray:
    """3x3 matrix whose columns are the rest pose's left, up and forward directions."""
    def unit(v: np.ndarray) -> np.ndarray:
        return v / max(float(np.linalg.norm(v)), 1e-12)

    left = unit(pos[idx["left_upper_leg"]] - pos[idx["right_upper_leg"]]) + unit(pos[idx["left_upper_arm"]] - pos[idx["right_upper_arm"]])
    up = pos[idx["head"]] - 0.5 * (pos[idx["left_foot"]] + pos[idx["right_foot"]])
    left = unit(left)
    up = unit(up - (up @ left) * left)
    return np.stack([left, up, np.cross(left, up)], axis=1)


def _ground_anchor(idx: dict[str, int], pos: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, float]:
    """The point on the rest pose's ground below the hips, and the hip height above it."""
    feet = [idx[c] for c in ("left_foot", "right_foot", "left_toes", "right_toes") if c in idx]
    height = float(pos[idx["hips"]] @ up - min(pos[j] @ up for j in feet))
    if height <= 1e-9:
        raise RigError("the rig's hips are not above its feet in the rest pose; check the mapping of hips and feet")
    return pos[idx["hips"]] - height * up, height


def _rest_alignment(common, si, ti, rs_pos, rt_pos, gm, source: Skeleton, target: Skeleton) -> dict[str, np.ndarray]:
    align: dict[str, np.ndarray] = {}
    for c in common:
        child = next((k for k in POINTS_AT.get(c, ()) if k in common), None)
        if child is None:
            anc = canonical_ancestor(c, align)
            align[c] = align[anc] if anc else quat.IDENTITY
            continue
        ds = gm @ (rs_pos[si[child]] - rs_pos[si[c]])
        dt = rt_pos[ti[child]] - rt_pos[ti[c]]
        for d, skel, j, k in ((ds, source, si[c], si[child]), (dt, target, ti[c], ti[child])):
            if np.linalg.norm(d) < 1e-9 * (1.0 / UNITS[skel.units]):
                raise RigError(
                    f"bone {skel.names[j]!r} has zero length: it sits on {skel.names[k]!r} in the rest pose; "
                    "fix the rig's rest pose or map another bone"
                )
        align[c] = quat.between(dt, ds)
    return align


def _relaxed_locals(target: Skeleton, ti: dict[str, int], rt_rot: np.ndarray, rt_pos: np.ndarray) -> np.ndarray:
    local = target.rest_rotations.copy()
    for side, sign in zip(SIDES, (1.0, -1.0)):
        need = [f"{side}_hand", f"{side}_middle_proximal", f"{side}_index_proximal", f"{side}_little_proximal"]
        if not all(c in ti for c in need):
            continue
        hand, mid, idx, lit = (rt_pos[ti[c]] for c in need)
        palm = sign * np.cross(mid - hand, idx - lit)
        for c in FINGER_BONES:
            if not c.startswith(side + "_") or c not in ti:
                continue
            j = ti[c]
            child = next((k for k in POINTS_AT.get(c, ()) if k in ti), None)
            d = rt_pos[ti[child]] - rt_pos[j] if child else rt_pos[j] - rt_pos[target.parents[j]]
            axis = np.cross(d, palm)
            if np.linalg.norm(axis) < 1e-12:
                continue
            finger, phalanx = c.split("_")[1], ("proximal", "intermediate", "distal").index(c.split("_")[2])
            angle = np.radians(RELAXED_CURL_DEG["thumb" if finger == "thumb" else "other"][phalanx])
            axis_local = quat.rotate(quat.conjugate(rt_rot[j]), axis / np.linalg.norm(axis))
            local[j] = quat.multiply(local[j], quat.from_axis_angle(axis_local * angle))
    return local


def retarget(
    source: Clip,
    target: Skeleton,
    mapping: RigDescription | None = None,
    options: RetargetOptions | None = None,
    *,
    source_mapping: RigDescription | None = None,
) -> RetargetResult:
    """Put `source` onto `target`; `mapping` describes the target (detected when None)."""
    opts = options or RetargetOptions()
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
    ms, mt = body_frame(si, rs_pos), body_frame(ti, rt_pos)
    gm = mt @ ms.T  # source world -> target world (rotation)
    g = quat.from_matrix(gm)
    align = _rest_alignment(common, si, ti, rs_pos, rt_pos, gm, S, T)

    ws_rot, ws_pos = source.world()
    if not opts.keep_heading:
        ws_rot, ws_pos = _zero_heading(ws_rot, ws_pos, rs_rot, si["hips"], ms)

    s_idx = np.array([si[c] for c in common])
    t_idx = np.array([ti[c] for c in common])
    a = np.array([align[c] for c in common])
    # constant per bone: undo the source rest, change frames, align rests, apply the target rest
    k = quat.multiply(quat.multiply(quat.conjugate(rs_rot[s_idx]), quat.conjugate(g)), quat.multiply(a, rt_rot[t_idx]))
    frames = source.num_frames
    world = np.empty((frames, T.num_joints, 4))
    world[:, t_idx] = quat.multiply(g, quat.multiply(ws_rot[:, s_idx], k))
    rest_local = _relaxed_locals(T, ti, rt_rot, rt_pos) if opts.hands == "relaxed" else T.rest_rotations
    driven = np.zeros(T.num_joints, dtype=bool)
    driven[t_idx] = True
    for level in T.levels:
        free = level[~driven[level]]
        if len(free):
            par = T.parents[free]
            world[:, free] = rest_local[free] if par[0] < 0 else quat.multiply(world[:, par], rest_local[free])
    local = world.copy()
    child = T.parents >= 0
    local[:, child] = quat.multiply(quat.conjugate(world[:, T.parents[child]]), world[:, child])

    # root motion, scaled by the hip-height ratio
    up_s, up_t = ms[:, 1], mt[:, 1]
    anchor_s, height_s = _ground_anchor(si, rs_pos, up_s)
    anchor_t, height_t = _ground_anchor(ti, rt_pos, up_t)
    ratio = height_t / height_s
    hips = ti["hips"]
    if opts.root_motion == "off":
        desired = np.broadcast_to(rt_pos[hips], (frames, 3))
    else:
        desired = anchor_t + ratio * (ws_pos[:, si["hips"]] - anchor_s) @ gm.T
        if opts.root_motion == "xz_in_place":
            desired = anchor_t + ((desired - anchor_t) @ up_t)[:, None] * up_t
    moved = _subtree_of_first_root(T)
    if not moved[hips]:
        raise RigError(f"the hips bone {T.names[hips]!r} must descend from the first joint {T.names[0]!r} so root motion can move it")
    _, pos0 = forward_kinematics(T, local, np.zeros((frames, 3)))
    root = desired - pos0[:, hips] + pos0[:, 0]
    pos = pos0 + moved[None, :, None] * (root - pos0[:, 0])[:, None]

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
        world, pos = forward_kinematics(T, local, root)

    clip = Clip(T, local, root, source.fps, {**source.metadata, "retarget": {"rig": tgt_map.name, "options": _options_dict(opts)}})
    metrics = _metrics(common, si, ti, ws_pos, pos, gm, contacts, skate_before, source, S, src_map, up_s, up_t, ratio, cm, T, driven)
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


def _options_dict(opts: RetargetOptions) -> dict[str, Any]:
    d = dataclasses.asdict(opts)
    d.pop("foot_lock_params")
    return d


def _metrics(common, si, ti, ws_pos, pos, gm, contacts, skate_before, source, S, src_map, up_s, up_t, ratio, cm, T, driven):
    names, src_dirs, tgt_dirs = [], [], []
    for c in LIMBS:
        child = next((k for k in POINTS_AT.get(c, ()) if k in common), None)
        if c in common and child:
            names.append(c)
            src_dirs.append((ws_pos[:, si[child]] - ws_pos[:, si[c]]) @ gm.T)
            tgt_dirs.append(pos[:, ti[child]] - pos[:, ti[c]])
    errors = direction_errors(np.stack(src_dirs, 1) if names else None, np.stack(tgt_dirs, 1) if names else None, names)
    src_height = _ground_anchor(si, S.rest_world()[1], up_s)[1]
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
