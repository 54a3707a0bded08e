"""Secondary bones the model does not drive: a relaxed finger pose, and twist bones that
share the wrist's or ankle's twist so skinning does not wrap."""

from __future__ import annotations

import numpy as np

from . import quat
from .canonical import FINGER_BONES, POINTS_AT, SIDES
from .skeleton import Skeleton

RELAXED_CURL_DEG = {"thumb": (5.0, 10.0, 10.0), "other": (20.0, 30.0, 15.0)}


def relaxed_finger_locals(target: Skeleton, ti: dict[str, int], rt_rot: np.ndarray, rt_pos: np.ndarray) -> np.ndarray:
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


TWIST_SHARE = 0.5  # of the wrist's (ankle's) twist that the forearm (shin) twist bone carries


def twist_drivers(ti: dict[str, int], common: list[str]) -> list[tuple[str, str, str]]:
    out = []
    for side in SIDES:
        for twist, limb, end in (("lower_arm_twist", "lower_arm", "hand"), ("lower_leg_twist", "lower_leg", "foot")):
            names = (f"{side}_{twist}", f"{side}_{limb}", f"{side}_{end}")
            if names[0] in ti and names[0] not in common and names[1] in common and names[2] in common:
                out.append(names)
    return out


def shared_twist(world, rt_rot, rt_pos, twist: int, limb: int, end: int) -> np.ndarray:
    """World rotation of a forearm/shin twist bone carrying part of the hand's/foot's twist
    about the limb, so skinning does not wrap at the wrist. (F, 4)."""
    axis = quat.rotate(quat.conjugate(rt_rot[limb]), rt_pos[end] - rt_pos[limb])  # limb-local bone axis
    axis = axis / np.linalg.norm(axis)
    rest_rel = quat.multiply(quat.conjugate(rt_rot[limb]), rt_rot[end])
    rel = quat.multiply(quat.multiply(quat.conjugate(world[:, limb]), world[:, end]), quat.conjugate(rest_rel))
    angle = 2.0 * np.arctan2(rel[:, :3] @ axis, rel[:, 3])  # twist part of the swing-twist split
    angle = (angle + np.pi) % (2 * np.pi) - np.pi
    share = quat.from_axis_angle(axis * (TWIST_SHARE * angle)[:, None])
    rest_twist = quat.multiply(quat.conjugate(rt_rot[limb]), rt_rot[twist])
    return quat.multiply(world[:, limb], quat.multiply(share, rest_twist))
