"""Quaternions <-> Euler angles in degrees, continuous over frames, in any Tait-Bryan order.

One convention, the one Maya, MotionBuilder, FBX and Blender use: an order names the axes in
the order they are applied, so "XYZ" turns about X first, then Y, then Z: R = Rz @ Ry @ Rx
with column vectors (FBX's eEulerXYZ, Maya's rotateOrder xyz). Angles are always given as
(x, y, z), the way those DCCs store rotateX/Y/Z. A BVH channel list reads the other way:
"Zrotation Xrotation Yrotation" is R = Rz @ Rx @ Ry, order "YXZ" here (exporters/bvh.py).
"""

from __future__ import annotations

import numpy as np

from . import quat

ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
_CYCLIC = {(0, 1, 2), (1, 2, 0), (2, 0, 1)}


def check_order(order: str) -> str:
    if order not in ORDERS:
        raise ValueError(f"rotation order must be one of {', '.join(ORDERS)}, not {order!r}")
    return order


def euler_degrees(q: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """(..., 4) xyzw -> (..., 3) degrees about X, Y, Z for rotate order `order`; unwrapped on
    axis 0 (frames), so curves interpolate the short way."""
    check_order(order)
    outer = order[::-1]  # the leftmost factor of the matrix product first
    i, j, k = ("XYZ".index(a) for a in outer)
    s = 1.0 if (i, j, k) in _CYCLIC else -1.0
    q = np.asarray(q, dtype=np.float64)

    def m(r: int, c: int) -> np.ndarray:
        # one entry of the rotation matrix, without building all nine (long takes are large)
        v = q[..., :3]
        w = q[..., 3]
        if r == c:
            return 1.0 - 2.0 * (np.square(v[..., (r + 1) % 3]) + np.square(v[..., (r + 2) % 3]))
        sign = 1.0 if (c - r) % 3 == 1 else -1.0  # m[r][c] = 2(v_r v_c - sign * w v_other)
        other = 3 - r - c
        return 2.0 * (v[..., r] * v[..., c] - sign * w * v[..., other])

    sin_b = np.clip(s * m(i, k), -1.0, 1.0)
    b = np.arcsin(sin_b)
    locked = np.abs(sin_b) > 1.0 - 1e-9
    a = np.where(locked, np.arctan2(s * m(k, j), m(j, j)), np.arctan2(-s * m(j, k), m(k, k)))
    c = np.where(locked, 0.0, np.arctan2(-s * m(i, j), m(i, i)))
    angles = np.empty(np.shape(a) + (3,))
    angles[..., i], angles[..., j], angles[..., k] = a, b, c
    if angles.ndim > 1 and angles.shape[0] > 1:
        # remove 2*pi jumps between frames so curves interpolate the short way
        turns = np.round(np.diff(angles, axis=0) / (2 * np.pi))
        angles[1:] -= 2 * np.pi * np.cumsum(turns, axis=0)
    return np.degrees(angles)


def quat_from_euler_degrees(angles: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """Inverse of `euler_degrees`: (..., 3) degrees about X, Y, Z -> (..., 4) xyzw."""
    check_order(order)
    rad = np.radians(np.asarray(angles, dtype=np.float64))
    out = np.broadcast_to(quat.IDENTITY, rad.shape[:-1] + (4,))
    for axis in order[::-1]:  # R = R_last @ ... @ R_first
        aa = np.zeros(rad.shape[:-1] + (3,))
        n = "XYZ".index(axis)
        aa[..., n] = rad[..., n]
        out = quat.multiply(out, quat.from_axis_angle(aa))
    return out
