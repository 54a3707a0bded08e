"""Quaternion and rotation helpers, vectorised over any leading shape.

Convention everywhere in MotionBridge: quaternions are (x, y, z, w), unit length, and
rotate column vectors (v' = q v q*). Matrices act on column vectors too.
"""

from __future__ import annotations

import numpy as np

IDENTITY = np.array([0.0, 0.0, 0.0, 1.0])


def normalize(q: np.ndarray) -> np.ndarray:
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a*b (apply b first, then a)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ax, ay, az, aw = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bx, by, bz, bw = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = aw * bx + ax * bw + ay * bz - az * by
    out[..., 1] = aw * by - ax * bz + ay * bw + az * bx
    out[..., 2] = aw * bz + ax * by - ay * bx + az * bw
    out[..., 3] = aw * bw - ax * bx - ay * by - az * bz
    return out


def conjugate(q: np.ndarray) -> np.ndarray:
    return q * np.array([-1.0, -1.0, -1.0, 1.0], dtype=q.dtype)


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4)."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    qx, qy, qz, qw = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    vx, vy, vz = v[..., 0], v[..., 1], v[..., 2]
    # v + 2w (u x v) + 2 u x (u x v), written out: np.cross is slow on small trailing axes
    tx = 2.0 * (qy * vz - qz * vy)
    ty = 2.0 * (qz * vx - qx * vz)
    tz = 2.0 * (qx * vy - qy * vx)
    out = np.empty(np.broadcast_shapes(q.shape[:-1], v.shape[:-1]) + (3,))
    out[..., 0] = vx + qw * tx + (qy * tz - qz * ty)
    out[..., 1] = vy + qw * ty + (qz * tx - qx * tz)
    out[..., 2] = vz + qw * tz + (qx * ty - qy * tx)
    return out


def to_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = np.moveaxis(q, -1, 0)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz, wx, wy, wz = x * y, x * z, y * z, w * x, w * y, w * z
    m = np.stack(
        [
            1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
            2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
            2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
        ],
        axis=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def from_matrix(m: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) to unit quaternions with w >= 0 (Shepperd's method).

    Works on the nine entries as contiguous rows, one component at a time: a take is thousands
    of matrices, and the (N, 4) stacks, argmax and norm over short axes made this the slowest
    step of assembling a clip. Same arithmetic, same bits as the straightforward version."""
    m = np.asarray(m, dtype=np.float64)
    shape = m.shape[:-2]
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.reshape(-1, 9).T.copy()
    tr = m00 + m11 + m22
    # which of w, x, y, z is largest (np.argmax of (tr, m00, m11, m22): the first on ties)
    best, pick = tr, np.zeros(tr.shape, dtype=np.int8)
    for i, c in enumerate((m00, m11, m22), start=1):
        larger = c > best
        best, pick = np.where(larger, c, best), np.where(larger, np.int8(i), pick)
    # the four candidates, each as (x, y, z, w) rows
    s = np.sqrt(np.maximum(1.0 + tr, 1e-300)) * 2
    q_w = ((m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s, 0.25 * s)
    s = np.sqrt(np.maximum(1.0 + m00 - m11 - m22, 1e-300)) * 2
    q_x = (0.25 * s, (m01 + m10) / s, (m02 + m20) / s, (m21 - m12) / s)
    s = np.sqrt(np.maximum(1.0 + m11 - m00 - m22, 1e-300)) * 2
    q_y = ((m01 + m10) / s, 0.25 * s, (m12 + m21) / s, (m02 - m20) / s)
    s = np.sqrt(np.maximum(1.0 + m22 - m00 - m11, 1e-300)) * 2
    q_z = ((m02 + m20) / s, (m12 + m21) / s, 0.25 * s, (m10 - m01) / s)
    is_w, is_x, is_y = pick == 0, pick == 1, pick == 2
    x, y, z, w = (np.where(is_w, a, np.where(is_x, b, np.where(is_y, c, d))) for a, b, c, d in zip(q_w, q_x, q_y, q_z))
    norm = np.sqrt(x * x + y * y + z * z + w * w)  # np.linalg.norm's order for 4 entries
    sign = np.where(w < 0, -1.0, 1.0)
    return (np.stack([x, y, z, w], axis=-1) / norm[:, None] * sign[:, None]).reshape(shape + (4,))


def from_axis_angle(axis_angle: np.ndarray) -> np.ndarray:
    aa = np.asarray(axis_angle, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(x/2)/x, with its limit 1/2 near zero
    k = np.where(angle > 1e-12, np.sin(half) / np.where(angle > 1e-12, angle, 1.0), 0.5)
    return np.concatenate([aa * k, np.cos(half)], axis=-1)


def to_axis_angle(q: np.ndarray) -> np.ndarray:
    q = np.where(q[..., 3:4] < 0, -q, q)
    s = np.linalg.norm(q[..., :3], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., 3:4])
    k = np.where(s > 1e-12, angle / np.where(s > 1e-12, s, 1.0), 2.0)
    return q[..., :3] * k


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Shortest-path spherical interpolation; t broadcasts against a[..., :1]."""
    t = np.asarray(t, dtype=np.float64)
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-6
    safe = np.where(near, 1.0, sin_theta)
    wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    wb = np.where(near, t, np.sin(t * theta) / safe)
    return normalize(wa * a + wb * b)


def between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smallest rotation taking direction u onto direction v (both (..., 3), any length)."""
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    d = np.sum(u * v, axis=-1, keepdims=True)
    c = np.cross(u, v)
    q = np.concatenate([c, 1.0 + d], axis=-1)
    # opposite vectors: rotate 180 degrees about any axis orthogonal to u
    opposite = (1.0 + d[..., 0]) < 1e-9
    if np.any(opposite):
        alt = np.cross(u, np.array([1.0, 0.0, 0.0]))
        small = np.linalg.norm(alt, axis=-1) < 1e-6
        alt = np.where(small[..., None], np.cross(u, np.array([0.0, 1.0, 0.0])), alt)
        q = np.where(opposite[..., None], np.concatenate([alt, np.zeros_like(d)], axis=-1), q)
    return normalize(q)
