"""Euler angles as MotionBuilder and Maya store them (rotate order XYZ: X first, then Y, then Z).

With column vectors that is R = Rz @ Ry @ Rx. Degrees, to match both DCCs' attributes.
"""

from __future__ import annotations

import numpy as np

from motionbridge.rigs import quat


def xyz_degrees_to_quat(angles: np.ndarray) -> np.ndarray:
    a = np.radians(np.asarray(angles, dtype=np.float64))
    axes = np.eye(3)
    qx = quat.from_axis_angle(a[..., 0:1] * axes[0])
    qy = quat.from_axis_angle(a[..., 1:2] * axes[1])
    qz = quat.from_axis_angle(a[..., 2:3] * axes[2])
    return quat.multiply(qz, quat.multiply(qy, qx))


def quat_to_xyz_degrees(q: np.ndarray) -> np.ndarray:
    """Inverse of xyz_degrees_to_quat; continuous across frames when `q` has a frame axis 0."""
    m = quat.to_matrix(np.asarray(q, dtype=np.float64))
    y = np.arcsin(np.clip(-m[..., 2, 0], -1.0, 1.0))
    x = np.arctan2(m[..., 2, 1], m[..., 2, 2])
    z = np.arctan2(m[..., 1, 0], m[..., 0, 0])
    out = np.degrees(np.stack([x, y, z], axis=-1))
    if out.ndim >= 2 and out.shape[0] > 1:  # unwrap 360-degree jumps between frames for smooth curves
        out = np.degrees(np.unwrap(np.radians(out), axis=0))
    return out
