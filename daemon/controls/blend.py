"""Seam blending in the decoded motion: free frames next to pinned ones are refitted so that
the motion runs through the join without a kink, the pinned frames untouched.

Replacement inpainting makes the pinned frames exact, but the first free frames after them
need not continue their velocity (measured on the smooth fixture: a velocity jump of 2.3 to
4x the clip's own p95 at a start or a window join). Per channel (each rot6d value of each
joint, each root translation axis) the free values z solve

    min  sum_free w_i (z_i - y_i)^2  +  sum_i (third difference of z at i)^2,   z = y where pinned

with w_i growing with the distance d_i to the nearest pinned frame (w_i = (d_i / RAMP)^4 up
to RAMP, then 1e4), so that frames right at the join follow the pinned motion's velocity and
frames RAMP away keep the sampled motion. A least-squares blend of the velocity-matching kind
(inertialization, Bollo 2016), written as one linear solve; the penalty on the third
difference keeps acceleration continuous, which is what the seam measure sees.

Except right at a join: the one row that would tie the first free frame to three pinned ones
penalises its second difference instead (the pinned motion's last velocity carried on, its
acceleration not). The pinned frames' last step can be an outlier (a take's last frame moves
unlike the rest: on the smooth fixture a source take's last step at 1.5x its p95 velocity
after 0.3x, an acceleration of 2.6x p95), and carrying that acceleration on made the
continuation overshoot: start on seed 2, 1.47 / 1.62x p95 with the third difference there,
1.10 / 1.46 with the second (ramp 12; daemon/controls/README.md). numpy, float64.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

RAMP = 16  # frames over which a join hands over from the pinned motion to the sampled one (README: measured)
FAR_WEIGHT = 1e4  # data weight beyond RAMP: the sampled motion stays (a 1e-4 smoothing there)


def smoothness_rows(pinned: np.ndarray, cyclic: bool = False) -> np.ndarray:
    """Rows of third differences over frames (cyclic: also those across the wrap, frame L-1 ->
    frame 0), except that a row over three pinned frames and a free one (either order)
    becomes the second difference of the three frames nearest the free one (see above)."""
    length = len(pinned)
    n = length if cyclic else max(length - 3, 0)
    d = np.zeros((n, length))
    for i in range(n):
        frames = [(i + k) % length for k in range(4)]
        pins = [bool(pinned[f]) for f in frames]
        if pins == [True, True, True, False]:
            terms = zip(frames[1:], (1.0, -2.0, 1.0))
        elif pins == [False, True, True, True]:
            terms = zip(frames[:3], (1.0, -2.0, 1.0))
        else:
            terms = zip(frames, (-1.0, 3.0, -3.0, 1.0))
        for f, c in terms:
            d[i, f] += c
    return d


def data_weights(pinned: np.ndarray, ramp: int = RAMP, cyclic: bool = False) -> np.ndarray:
    """(L,) weight of each frame's sampled value: 0 where pinned, (d / ramp)^4 at d frames from
    the nearest join up to `ramp`, FAR_WEIGHT beyond. A join is a pinned frame, and with
    `cyclic` also the wrap (half a frame before frame 0 and after frame L-1)."""
    length = len(pinned)
    frames = np.arange(length, dtype=np.float64)
    joins = [float(r) for r in np.flatnonzero(pinned)] + ([-0.5, length - 0.5] if cyclic else [])
    if not joins:
        return np.full(length, FAR_WEIGHT)
    dist = np.abs(frames[:, None] - np.array(joins)[None, :]).min(1)
    w = np.where(dist < ramp, (dist / ramp) ** 4, FAR_WEIGHT)
    w[pinned] = 0.0
    return w


def blend_matrix(pinned: np.ndarray, ramp: int = RAMP, cyclic: bool = False) -> np.ndarray | None:
    """(L, L) linear map y -> z for one pinned pattern (L,) bool, or None when there is no
    join or nothing is free (the blend would change nothing)."""
    pinned = np.asarray(pinned, dtype=bool)
    length = len(pinned)
    if not (pinned.any() or cyclic) or pinned.all() or length < 4:
        return None
    w = data_weights(pinned, ramp, cyclic)
    d = smoothness_rows(pinned, cyclic)
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


def _blend_flat(flat: np.ndarray, mask: np.ndarray, ramp: int, cyclic: bool) -> np.ndarray:
    out = flat.copy()
    patterns: dict[bytes, list[int]] = {}
    for c in range(mask.shape[1]):
        patterns.setdefault(mask[:, c].tobytes(), []).append(c)
    for key, channels in patterns.items():
        m = blend_matrix(np.frombuffer(key, dtype=bool), ramp, cyclic)
        if m is not None:
            out[:, :, channels] = np.einsum("ij,bjc->bic", m, flat[:, :, channels])  # pinned rows: identity
    return out


def blend(values: Tensor, pinned: Tensor, ramp: int = RAMP) -> Tensor:
    """values (B, L, C...) with pinned (L, C...) bool over the same trailing channels: each
    channel blended over frames (pinned entries returned exactly)."""
    b, length = values.shape[:2]
    flat = values.reshape(b, length, -1).double().cpu().numpy()
    mask = pinned.reshape(length, -1).cpu().numpy().astype(bool)
    return torch.from_numpy(_blend_flat(flat, mask, ramp, False)).to(values).reshape(values.shape)


def blend_loop(values: Tensor, pinned: Tensor, period: int, travels: bool, ramp: int = RAMP) -> Tensor:
    """A loop's closure: values (B, L, C...) whose frames [period, L) repeat frames [0, L - period)
    (moved by one cycle's travel where `travels`: the root translation), blended across the
    wrap as one cyclic motion (the travel taken out as a ramp and put back); the repeated
    frames then copy the blended first ones. Pinned entries (L, C...) stay exact."""
    b, length = values.shape[:2]
    flat = values.reshape(b, length, -1).double().cpu().numpy()
    mask = pinned.reshape(length, -1).cpu().numpy().astype(bool)[:period]
    travel = flat[:, period] - flat[:, 0] if travels else np.zeros_like(flat[:, 0])
    ramp_in = np.arange(period)[None, :, None] / period * travel[:, None, :]
    cycle = _blend_flat(flat[:, :period] - ramp_in, mask, ramp, True) + ramp_in
    cycle[:, mask] = flat[:, :period][:, mask]  # exact, not rounded through the ramp
    out = flat.copy()
    out[:, :period] = cycle
    out[:, period:] = cycle[:, : length - period] + travel[:, None, :]
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


def looped_rotations(smooth, pinned_joints: Tensor, period: int, ramp: int = RAMP):
    """As blended_rotations, for a loop of `period` frames (blend_loop)."""

    def smooth_rot(rot6d: Tensor) -> Tensor:
        mask = pinned_joints[: rot6d.shape[1]][:, :, None].expand(-1, -1, rot6d.shape[-1])
        return blend_loop(smooth(rot6d), mask, period, False, ramp)

    return smooth_rot


def looped_translation(smooth, pinned_axes: Tensor, period: int, ramp: int = RAMP):
    """As blended_translation, for a loop of `period` frames, the travel kept."""

    def smooth_transl(transl: Tensor) -> Tensor:
        return blend_loop(smooth(transl), pinned_axes[: transl.shape[1]], period, True, ramp)

    return smooth_transl
