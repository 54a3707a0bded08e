"""The SMPL-X source skeleton for HumanIK hosts (MotionBuilder, Maya): its joints in the
host's frame and the HumanIK slot each joint fills, so the host can characterise it and
drive any characterised rig through HumanIK retargeting."""

from __future__ import annotations

import numpy as np

from motionbridge.rigs import Skeleton, skeleton_from_world
from motionbridge.rigs.smplx import SMPLX_JOINT_NAMES, smplx_parents, smplx_rest_world_positions

_SIDE = {"left": "Left", "right": "Right"}
_BODY = {
    "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
    "hip": "UpLeg", "knee": "Leg", "ankle": "Foot", "foot": "ToeBase",
    "collar": "Shoulder", "shoulder": "Arm", "elbow": "ForeArm", "wrist": "Hand",
}
_FINGERS = {"thumb": "Thumb", "index": "Index", "middle": "Middle", "ring": "Ring", "pinky": "Pinky"}
# HumanIK refuses to characterise without these
REQUIRED_SLOTS = ("Hips", "LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot", "Spine",
                  "LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightForeArm", "RightHand", "Head")


def hik_slot(joint: str) -> str | None:
    """The HumanIK slot (property name without 'Link') of an SMPL-X joint, or None."""
    if joint in _BODY:
        return _BODY[joint]
    side, _, rest = joint.partition("_")
    if side not in _SIDE:
        return None
    if rest in _BODY:
        return _SIDE[side] + _BODY[rest]
    finger, digit = rest[:-1], rest[-1:]
    if finger in _FINGERS and digit in "123":
        return f"{_SIDE[side]}Hand{_FINGERS[finger]}{digit}"
    return None  # eyes, jaw: not HumanIK body slots


def slot_map() -> dict[str, str]:
    """SMPL-X joint name -> HumanIK slot, for every joint that has one."""
    return {j: s for j in SMPLX_JOINT_NAMES if (s := hik_slot(j)) is not None}


def source_skeleton(up_axis: str = "y", units: str = "cm") -> Skeleton:
    """The SMPL-X rest skeleton (T-pose, facing +Z, identity joint frames) in a host's frame."""
    pos = smplx_rest_world_positions() * (100.0 if units == "cm" else 1.0)
    if up_axis == "z":
        pos = pos @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64).T
    return skeleton_from_world(SMPLX_JOINT_NAMES, smplx_parents(), pos, up_axis=up_axis, units=units)
