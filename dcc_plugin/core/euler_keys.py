"""Takes as MotionBuilder and Maya key them, as plain arrays: per joint, three XYZ Euler
curves (degrees) on top of the joint's own pre-rotation (MotionBuilder's PreRotation, Maya's
jointOrient), and three translation curves on the root joint.

Arrays are laid out by curve, as the adapters key and read them: rotation curves
(joints, 3 axes, frames), root translation curves (3 axes, frames). `euler_keys` gives the
values a take writes; `clip_from_euler_keys` turns the values read back from those curves
into the Clip that Export hands the exporters. The adapters only move these arrays in and
out of their scene, so the arithmetic and the checks in between are tested here without a DCC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from motionbridge.rigs import Clip, Skeleton, quat
from motionbridge.rigs.euler import euler_degrees, quat_from_euler_degrees

DEFAULT_FPS = 30.0  # what takes written before fps was stored play at


def euler_keys(clip: Clip, pre_rotations: np.ndarray) -> np.ndarray:
    """Rotation curves (joints, 3, frames) in XYZ degrees that, on top of each joint's
    pre-rotation (joints, 4), give the clip's local rotations; continuous across frames (no
    360-degree jumps)."""
    pre = np.broadcast_to(quat.conjugate(np.asarray(pre_rotations, dtype=np.float64)), clip.rotations.shape)
    return euler_degrees(quat.multiply(pre, clip.rotations), "XYZ").transpose(1, 2, 0)


def take_fps(take_name: str, metadata: Mapping[str, Any]) -> float:
    """The frame rate a take stores in its metadata (DEFAULT_FPS when it stores none)."""
    value = metadata.get("fps", DEFAULT_FPS)
    try:
        fps = float(value)
    except (TypeError, ValueError):
        fps = math.nan
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"take {take_name!r} stores fps {value!r}; it is not a frame rate, so it cannot be exported")
    return fps


def take_frames(take_name: str, frame_start: int, frame_end: int) -> list[int]:
    """The frames to read a take at: every frame from its first to its last, inclusive."""
    if frame_end < frame_start:
        raise ValueError(f"take {take_name!r} has no frames (it ends at {frame_end}, before its start {frame_start})")
    return list(range(frame_start, frame_end + 1))


def clip_from_euler_keys(take_name: str, skeleton: Skeleton, pre_rotations: np.ndarray, rotation_curves: np.ndarray,
                         root_curves: np.ndarray, metadata: Mapping[str, Any]) -> Clip:
    """The inverse of `euler_keys`: `rotation_curves` (joints, 3, frames; degrees) read from
    each joint's rotation curves and `root_curves` (3, frames; the skeleton's units) from the
    root's translation curves, as a Clip on `skeleton` carrying the take's metadata and name.
    A ValueError (one line naming the take) when the arrays do not fit the rig or hold
    values that are not numbers."""
    curves = np.asarray(rotation_curves, dtype=np.float64)
    root_xyz = np.asarray(root_curves, dtype=np.float64)
    joints = skeleton.num_joints
    if curves.ndim != 3 or curves.shape[:2] != (joints, 3):
        raise ValueError(f"take {take_name!r}: rotation curves of shape {curves.shape} do not fit its rig's {joints} joints")
    frames = curves.shape[2]
    if frames == 0:
        raise ValueError(f"take {take_name!r} has no frames to export")
    if root_xyz.shape != (3, frames):
        raise ValueError(f"take {take_name!r}: root translation curves of shape {root_xyz.shape} do not match its {frames} frames")
    degrees, root = curves.transpose(2, 0, 1), root_xyz.T  # (frames, joints, 3), (frames, 3)
    broken = [skeleton.names[j] for j in range(joints) if not np.isfinite(curves[j]).all()]
    if broken:
        raise ValueError(f"take {take_name!r}: the rotation curves of {', '.join(broken[:3])} hold values that are not numbers")
    if not np.isfinite(root).all():
        raise ValueError(f"take {take_name!r}: the root translation curves hold values that are not numbers")
    pre = np.broadcast_to(np.asarray(pre_rotations, dtype=np.float64), (frames, joints, 4))
    rotations = quat.normalize(quat.multiply(pre, quat_from_euler_degrees(degrees, "XYZ")))
    return Clip(skeleton, rotations, root, take_fps(take_name, metadata), {**metadata, "take_name": take_name})
