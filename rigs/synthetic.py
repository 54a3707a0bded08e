"""Synthetic SMPL-X motions built from joint angles: walking, waving, squatting.

The model's real output needs the full weights; these clips give the retargeting tests (and
anyone else) believable motion with known structure: planted feet, large arm and leg
rotations, root motion. SMPL-X rest rotations are identity, so local axes are world axes:
X = character left, Y = up, Z = forward. Hip flexion is -X, knee flexion +X.
"""

from __future__ import annotations

import numpy as np

from . import quat
from .skeleton import Clip
from .smplx import SMPLX_JOINT_NAMES, smplx_skeleton

J = {n: i for i, n in enumerate(SMPLX_JOINT_NAMES)}
X, Y, Z = np.eye(3)


def _rot(axis: np.ndarray, deg: np.ndarray) -> np.ndarray:
    return quat.from_axis_angle(np.asarray(deg, dtype=np.float64)[..., None] * np.radians(1.0) * axis)


def _blank(frames: int) -> np.ndarray:
    return np.tile(quat.IDENTITY, (frames, len(SMPLX_JOINT_NAMES), 1))


def _arms_down(rot: np.ndarray, deg: float = 70.0) -> None:
    rot[:, J["left_shoulder"]] = _rot(Z, np.full(len(rot), -deg))
    rot[:, J["right_shoulder"]] = _rot(Z, np.full(len(rot), deg))


def _plant(rot: np.ndarray, stance: np.ndarray, lowest_on_ground: bool = False) -> np.ndarray:
    """Root translation keeping the stance ankle (0 left, 1 right, per frame) horizontally still,
    and the stance ankle (or the lower one) at its rest height."""
    skel = smplx_skeleton()
    n = len(rot)
    _, pos = Clip(skel, rot, np.zeros((n, 3)), 30.0).world()
    _, rest = skel.rest_world()
    feet = pos[:, [J["left_ankle"], J["right_ankle"]]]
    step = np.diff(feet, axis=0)[np.arange(n - 1), stance[1:]]
    flat = np.array([1.0, 0.0, 1.0])
    horizontal = rest[0] * flat - np.concatenate([np.zeros((1, 3)), np.cumsum(step, axis=0)]) * flat
    low = feet[:, :, 1].min(axis=1) if lowest_on_ground else feet[np.arange(n), stance, 1]
    vertical = rest[J["left_ankle"], 1] - low
    return horizontal + vertical[:, None] * Y


def walking(seconds: float = 2.0, fps: float = 30.0, cycle_s: float = 1.1, stride_deg: float = 28.0) -> Clip:
    n = int(round(seconds * fps))
    phase = 2 * np.pi * np.arange(n) / (fps * cycle_s)
    rot = _blank(n)
    for side, shift in (("left", 0.0), ("right", np.pi)):
        p = phase + shift
        rot[:, J[f"{side}_hip"]] = _rot(X, -stride_deg * np.sin(p))
        # the knee bends while the leg swings forward (cos > 0), nearly straight in stance
        rot[:, J[f"{side}_knee"]] = _rot(X, 5.0 + 60.0 * np.clip(np.cos(p), 0.0, None) ** 2)
        rot[:, J[f"{side}_ankle"]] = _rot(X, -8.0 * np.sin(p))
    _arms_down(rot)
    for side, sign, shift in (("left", -1.0, np.pi), ("right", 1.0, 0.0)):
        swing = _rot(X, -20.0 * np.sin(phase + shift))
        rot[:, J[f"{side}_shoulder"]] = quat.multiply(swing, rot[:, J[f"{side}_shoulder"]])
        rot[:, J[f"{side}_elbow"]] = _rot(Y, sign * (15.0 + 10.0 * np.sin(phase + shift)))
    rot[:, J["spine1"]] = _rot(Y, 5.0 * np.sin(phase))
    rot[:, J["spine3"]] = _rot(Y, -7.0 * np.sin(phase))
    rot[:, J["pelvis"]] = _rot(Y, -4.0 * np.sin(phase))
    skel = smplx_skeleton()
    # the stance leg is the one moving back under the body: cos(phase) < 0 for the left
    stance = (np.cos(phase) >= 0).astype(np.int64)
    return Clip(skel, rot, _plant(rot, stance, lowest_on_ground=True), fps, {"synthetic": "walking"})


def waving(seconds: float = 2.0, fps: float = 30.0) -> Clip:
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    rot = _blank(n)
    _arms_down(rot)
    raise_ = np.clip(t / 0.5, 0.0, 1.0)
    rot[:, J["right_shoulder"]] = quat.multiply(_rot(Y, -30.0 * raise_), _rot(Z, 70.0 - 80.0 * raise_))
    rot[:, J["right_elbow"]] = _rot(Z, -raise_ * (100.0 + 25.0 * np.sin(2 * np.pi * 2.0 * t)))
    rot[:, J["right_wrist"]] = _rot(Y, 15.0 * np.sin(2 * np.pi * 2.0 * t))
    rot[:, J["head"]] = _rot(Y, -15.0 * raise_)
    rot[:, J["neck"]] = _rot(X, 5.0 * np.sin(2 * np.pi * 0.5 * t))
    for side in ("left", "right"):
        for f in ("index", "middle", "ring", "pinky"):
            for i in (1, 2, 3):
                curl = 1 - raise_ if side == "right" else np.ones(n)
                rot[:, J[f"{side}_{f}{i}"]] = _rot(Z, (1 if side == "right" else -1) * 20.0 * curl)
    skel = smplx_skeleton()
    return Clip(skel, rot, np.tile(skel.rest_translations[0], (n, 1)), fps, {"synthetic": "waving"})


def squatting(seconds: float = 2.0, fps: float = 30.0, depth_deg: float = 80.0) -> Clip:
    n = int(round(seconds * fps))
    s = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / (seconds * fps))
    rot = _blank(n)
    for side in ("left", "right"):
        rot[:, J[f"{side}_hip"]] = _rot(X, -depth_deg * s)
        rot[:, J[f"{side}_knee"]] = _rot(X, 1.4 * depth_deg * s)
        rot[:, J[f"{side}_ankle"]] = _rot(X, -0.4 * depth_deg * s)
    rot[:, J["spine1"]] = _rot(X, 0.35 * depth_deg * s)
    _arms_down(rot, 70.0)
    rot[:, J["left_shoulder"]] = quat.multiply(_rot(X, -60.0 * s), rot[:, J["left_shoulder"]])
    rot[:, J["right_shoulder"]] = quat.multiply(_rot(X, -60.0 * s), rot[:, J["right_shoulder"]])
    return Clip(smplx_skeleton(), rot, _plant(rot, np.zeros(n, dtype=np.int64)), fps, {"synthetic": "squatting"})


MOTIONS = {"walking": walking, "waving": waving, "squatting": squatting}
