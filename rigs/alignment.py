"""Rest-pose alignment between two humanoids: the part of retargeting that depends only on
the two rest poses and the mapping, computed once per (source, target) pair and cached.

- A body frame (left = right hip -> left hip plus right arm -> left arm, up = the declared
  world up, forward = left x up) turns the source's world into the target's.
- Per bone, a swing lays the target's rest direction (bone -> the bone it points at) onto the
  source's, and a twist about it makes the body's forward agree: T-pose drives A-pose, and
  bone-local axes never matter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import quat
from .canonical import POINTS_AT, canonical_ancestor
from .skeleton import UNITS, RigError, Skeleton


def body_frame(idx: dict[str, int], pos: np.ndarray, up_axis: str) -> np.ndarray:
    """3x3 matrix whose columns are the rest pose's left, up and forward directions.

    Up is the skeleton's declared world up (so trajectories stay level whatever the rest
    pose's lean); left is the level part of right hip -> left hip plus right arm -> left arm.
    """
    def unit(v: np.ndarray) -> np.ndarray:
        return v / max(float(np.linalg.norm(v)), 1e-12)

    up = np.eye(3)[{"y": 1, "z": 2}[up_axis]]
    left = unit(pos[idx["left_upper_leg"]] - pos[idx["right_upper_leg"]]) + unit(pos[idx["left_upper_arm"]] - pos[idx["right_upper_arm"]])
    left = unit(left - (left @ up) * up)
    return np.stack([left, up, np.cross(left, up)], axis=1)


def ground_anchor(idx: dict[str, int], pos: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, float]:
    """The point on the rest pose's ground below the hips, and the hip height above it."""
    feet = [idx[c] for c in ("left_foot", "right_foot", "left_toes", "right_toes") if c in idx]
    height = float(pos[idx["hips"]] @ up - min(pos[j] @ up for j in feet))
    if height <= 1e-9:
        raise RigError("the rig's hips are not above its feet in the rest pose; check the mapping of hips and feet")
    return pos[idx["hips"]] - height * up, height


@dataclass(frozen=True)
class RetargetPlan:
    """Everything that depends only on the two rest poses and the mapping."""

    ms: np.ndarray  # source body frame (columns left, up, forward)
    mt: np.ndarray  # target body frame
    gm: np.ndarray  # source world -> target world
    g: np.ndarray  # the same, as a quaternion
    k: np.ndarray  # (P, 4) per mapped bone: undo source rest, change frames, align rests, target rest
    s_idx: np.ndarray
    t_idx: np.ndarray
    anchor_s: np.ndarray
    height_s: float
    anchor_t: np.ndarray
    height_t: float


def retarget_plan(S: Skeleton, T: Skeleton, si: dict[str, int], ti: dict[str, int], common: list[str]) -> RetargetPlan:
    # cached on the (immutable) target skeleton: a batch retargets many takes onto one character
    cache = T.__dict__.setdefault("_retarget_plans", {})
    key = (S, tuple(si.items()), tuple(ti.items()), tuple(common))
    if key in cache:
        return cache[key]
    rs_rot, rs_pos = S.rest_world()
    rt_rot, rt_pos = T.rest_world()
    ms, mt = body_frame(si, rs_pos, S.up_axis), body_frame(ti, rt_pos, T.up_axis)
    gm = mt @ ms.T
    g = quat.from_matrix(gm)
    align = _rest_alignment(common, si, ti, rs_pos, rt_pos, gm, mt, S, T)
    s_idx = np.array([si[c] for c in common])
    t_idx = np.array([ti[c] for c in common])
    a = np.array([align[c] for c in common])
    k = quat.multiply(quat.multiply(quat.conjugate(rs_rot[s_idx]), quat.conjugate(g)), quat.multiply(a, rt_rot[t_idx]))
    anchor_s, height_s = ground_anchor(si, rs_pos, ms[:, 1])
    anchor_t, height_t = ground_anchor(ti, rt_pos, mt[:, 1])
    plan = RetargetPlan(ms, mt, gm, g, k, s_idx, t_idx, anchor_s, height_s, anchor_t, height_t)
    if len(cache) >= 8:
        cache.clear()
    cache[key] = plan
    return plan


def _rest_alignment(common, si, ti, rs_pos, rt_pos, gm, frame, source: Skeleton, target: Skeleton) -> dict[str, np.ndarray]:
    pointing = {c: k for c in common if (k := next((k for k in POINTS_AT.get(c, ()) if k in common), None))}
    bones = list(pointing)
    ds = (rs_pos[[si[pointing[c]] for c in bones]] - rs_pos[[si[c] for c in bones]]) @ gm.T
    dt = rt_pos[[ti[pointing[c]] for c in bones]] - rt_pos[[ti[c] for c in bones]]
    for d, skel, idx in ((ds, source, si), (dt, target, ti)):
        short = np.linalg.norm(d, axis=-1) < 1e-7 / UNITS[skel.units]
        if short.any():
            c = bones[int(np.argmax(short))]
            raise RigError(
                f"bone {skel.names[idx[c]]!r} has zero length: it sits on {skel.names[idx[pointing[c]]]!r} in the rest pose; "
                "fix the rig's rest pose or map another bone"
            )
    # Swing each target rest direction onto the source's, then twist about it so the body's
    # forward (or, for bones pointing forward such as feet, its up) agrees: this recovers a
    # rigid A-pose turn of a whole arm exactly, twist included.
    forward, up = frame[:, 2], frame[:, 1]
    unit = ds / np.linalg.norm(ds, axis=-1, keepdims=True) if bones else ds
    ref = np.where((np.abs(unit @ forward) > 0.7)[:, None], up, forward)
    swing = quat.between(dt, ds) if bones else np.zeros((0, 4))
    turned = quat.rotate(swing, ref)

    def flat(v: np.ndarray) -> np.ndarray:
        return v - np.sum(v * unit, axis=-1, keepdims=True) * unit

    a, b = flat(turned), flat(ref)
    angle = np.arctan2(np.sum(np.cross(a, b) * unit, axis=-1), np.sum(a * b, axis=-1))
    rotations = quat.multiply(quat.from_axis_angle(unit * angle[:, None]), swing) if bones else swing
    align = dict(zip(bones, rotations))
    for c in common:  # parents first: a bone that points nowhere takes its parent's alignment
        if c not in align:
            anc = canonical_ancestor(c, align)
            align[c] = align[anc] if anc else quat.IDENTITY
    return align
