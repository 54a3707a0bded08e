"""Seam blending in the decoded motion: free frames next to pinned ones are refitted so that
the motion runs through the join without a kink, the pinned frames untouched.

Replacement inpainting makes the pinned frames exact, but the first free frames after them
need not continue their velocity (measured on the smooth fixture: a velocity jump of 2.3 to
4x the clip's own p95 at a start or a window join). Per channel (each rot6d value of each
joint, each root translation axis) the free values z solve

    min  sum_free w_i (z_i - y_i)^2  +  sum_i (third difference of z at i)^2,   z = y where pinned

with w_i growing with the distance d_i to the nearest pinned frame (w_i = (d_i / RAMP)^4 up
to RAMP, then 1e4), so that frames right at the join follow the pinned motion's velocity and
acceleration and frames RAMP away keep the sampled motion. A least-squares blend of the
velocity-matching kind (inertialization, Bollo 2016), written as one linear solve; the
penalty on the third difference keeps acceleration continuous, which is what the seam
measure sees. numpy, float64.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

RAMP = 12  # frames over which a join hands over from the pinned motion to the sampled one
FAR_WEIGHT = 1e4  # data weight beyond RAMP: the sampled motion stays (a 1e-4 smoothing there)


def _third_difference(length: int) -> np.ndarray:
    d = np.zeros((max(length - 3, 0), length))
    for i in range(length - 3):
        d[i, i : i + 4] = (-1.0, 3.0, -3.0, 1.0)
    return d


def data_weights(pinned: np.ndarray, ramp: int = RAMP) -> np.ndarray:
    """(L,) weight of each frame's sampled value: 0 where pinned, (d / ramp)^4 at d frames from
    the nearest pinned frame up to `ramp`, FAR_WEIGHT beyond (or everywhere without a pin)."""
    length = len(pinned)
    rows = np.flatnonzero(pinned)
    if len(rows) == 0:
        return np.full(length, FAR_WEIGHT)
    dist = np.abs(np.arange(length)[:, None] - rows[None, :]).min(1).astype(np.float64)
    w = np.where(dist < ramp, (dist / ramp) ** 4, FAR_WEIGHT)
    w[pinned] = 0.0
    return w


def blend_matrix(pinned: np.ndarray, ramp: int = RAMP) -> np.ndarray | None:
    """(L, L) linear map y -> z for one pinned pattern (L,) bool, or None when nothing is
    pinned or nothing is free (the blend would change nothing)."""
    pinned = np.asarray(pinned, dtype=bool)
    length = len(pinned)
    if not pinned.any() or pinned.all() or length < 4:
        return None
    w = data_weights(pinned, ramp)
    d = _third_difference(length)
    free = ~pinned
    # z = P y_pinned + F z_free; solve the normal equations for z_free
    h = d.T @ d + np.diag(w)
    hff = h[np.ix_(free, free)]
    out = np.zeros((length, length))
    out[pinned, pinned] = 1.0
    # z_free = hff^-1 (W_ff y_free - H_fp y_pinned)
    inv = np.linalg.solve(hff, np.eye(int(free.sum())))
    out[np.ix_(free, free)] = inv @ np.diag(w[free])
    out[np.ix_(free, pinned)] = -inv @ h[np.ix_(free, pinned)]
    return out


def blend(values: Tensor, pinned: Tensor, ramp: int = RAMP) -> Tensor:
    """values (B, L, C...) with pinned (L, C...) bool over the same trailing channels: each
    channel blended over frames (pinned entries returned exactly)."""
    b, length = values.shape[:2]
    flat = values.reshape(b, length, -1).double().cpu().numpy()
    mask = pinned.reshape(length, -1).cpu().numpy().astype(bool)
    out = flat.copy()
    patterns: dict[bytes, list[int]] = {}
    for c in range(mask.shape[1]):
        patterns.setdefault(mask[:, c].tobytes(), []).append(c)
    for key, channels in patterns.items():
        m = blend_matrix(np.frombuffer(key, dtype=bool), ramp)
        if m is not None:
            out[:, :, channels] = np.einsum("ij,bjc->bic", m, flat[:, :, channels])  # pinned rows: identity
    return torch.from_numpy(out).to(values).reshape(values.shape)


def blended_rotations(smooth, pinned_joints: Tensor, ramp: int = RAMP):
    """Wrap a rot6d smoother (B, L, 22, 6) -> the same, then seams blended; pinned_joints (L, 22)."""

    def smooth_rot(rot6d: Tensor) -> Tensor:
        mask = pinned_joints[: rot6d.shape[1]][:, :, None].expand(-1, -1, rot6d.shape[-1])
        return blend(smooth(rot6d), mask, ramp)

    return smooth_rot


def blended_translation(smooth, pinned_axes: Tensor, ramp: int = RAMP):
    """Wrap a translation smoother (B, L, 3); pinned_axes (L, 3)."""

    def smooth_transl(transl: Tensor) -> Tensor:
        return blend(smooth(transl), pinned_axes[: transl.shape[1]], ramp)

    return smooth_transl
