"""Quaternions to Euler angles in any Tait-Bryan order, continuous over frames.

`order` lists axes left to right as matrices multiply: "ZXY" means R = Rz Rx Ry (Y is applied
first), which is how BVH channel lists read. FBX's eEulerXYZ is R = Rz Ry Rx, i.e. "ZYX" here.
"""

from __future__ import annotations

import numpy as np

from motionbridge.rigs import quat

ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
_CYCLIC = {(0, 1, 2), (1, 2, 0), (2, 0, 1)}


def euler_degrees(q: np.ndarray, order: str) -> np.ndarray:
    """(..., 4) xyzw -> (..., 3) degrees about order[0], order[1], order[2]; unwrapped on axis 0."""
    if order not in ORDERS:
        raise ValueError(f"rotation order must be one of {', '.join(ORDERS)}, not {order!r}")
    i, j, k = ("XYZ".index(a) for a in order)
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
    angles = np.stack([a, b, c], axis=-1)
    if angles.ndim > 1 and angles.shape[0] > 1:
        # remove 2*pi jumps between frames so curves interpolate the short way
        turns = np.round(np.diff(angles, axis=0) / (2 * np.pi))
        angles[1:] -= 2 * np.pi * np.cumsum(turns, axis=0)
    return np.degrees(angles)


def quat_from_euler_degrees(angles: np.ndarray, order: str) -> np.ndarray:
    """Inverse of `euler_degrees` (for tests and readers)."""
    rad = np.radians(np.asarray(angles, dtype=np.float64))
    out = np.broadcast_to(quat.IDENTITY, rad.shape[:-1] + (4,))
    for n, axis in enumerate(order):
        aa = np.zeros(rad.shape[:-1] + (3,))
        aa[..., "XYZ".index(axis)] = rad[..., n]
        q = quat.from_axis_angle(aa)
        out = quat.multiply(out, q)
    return out
