"""Decode on the model's device, batched: no Python loop over joints or frames.

Same maths as `model.decode.decode_latent` (official order): forward kinematics runs one
level of the joint tree at a time (about ten batched matmuls instead of 52 joint steps),
rotation smoothing is the batched Markley average, and the root translation goes through
scipy's Savitzky-Golay filter in float32 in one call for the whole batch (the official edge
fit is float32; a float64 port would move the first/last frames by ~1e-4).

The Markley average needs the top eigenvector of many 4x4 matrices. The batched CUDA eigen-
solver needs gigabytes of workspace for a few clips and fails outright for larger batches, so
the eigenvector is found by repeated squaring instead: A^(2^k) (trace-normalised, float64)
converges to the projector onto the top eigenvector at the rate (l2/l1)^(2^k); 24 squarings
cover eigen-gaps far below the smallest one seen in the parity fixture (0.0052).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor

from motionbridge.daemon.model.decode import (
    BodyModel,
    DecodedMotion,
    decode_latent,
    gaussian_taps,
    matrix_to_quaternion_wxyz,
    matrix_to_rot6d,
    quaternion_wxyz_to_matrix,
    rot6d_to_matrix,
)

SQUARINGS = 24


def top_eigenvector(sym: Tensor, squarings: int = SQUARINGS) -> Tensor:
    """(..., n, n) symmetric PSD -> unit eigenvector of the largest eigenvalue (sign arbitrary)."""
    a = sym / sym.diagonal(dim1=-2, dim2=-1).sum(-1).clamp_min(1e-300)[..., None, None]
    for _ in range(squarings):
        # as a broadcast product, not a @ a: cuBLAS's batched float64 GEMM of thousands of 4x4
        # matrices took 20 us a call on the H200, 0.5 ms of a one-clip decode
        a = (a.unsqueeze(-1) * a.unsqueeze(-3)).sum(-2)
        a = a / a.diagonal(dim1=-2, dim2=-1).sum(-1).clamp_min(1e-300)[..., None, None]
    # a ~ v v^T: its largest column is the best-conditioned multiple of v
    best = a.norm(dim=-2).argmax(-1)
    col = torch.gather(a, -1, best[..., None, None].expand(*a.shape[:-1], 1)).squeeze(-1)
    return col / col.norm(dim=-1, keepdim=True)


def smooth_rotations(rot6d: Tensor, sigma: float = 1.0, taps: Tensor | None = None) -> Tensor:
    """Same as `model.decode.smooth_rotations` (Gaussian-weighted Markley average per joint
    and frame, float64), with the eigenvector found by `top_eigenvector`. `taps`:
    `gaussian_taps(sigma)` already on the device (a CUDA graph may not copy from the CPU)."""
    q = matrix_to_quaternion_wxyz(rot6d_to_matrix(rot6d).double())
    taps = gaussian_taps(sigma).to(q.device) if taps is None else taps
    radius = (len(taps) - 1) // 2
    length = q.shape[1]
    idx = (torch.arange(length, device=q.device)[:, None] + torch.arange(-radius, radius + 1, device=q.device)[None, :]).clamp(0, length - 1)
    window = q[:, idx]  # (B, L, K, J, 4)
    acc = torch.einsum("blkji,blkjm,k->bljim", window, window, taps) / taps.sum()
    return matrix_to_rot6d(quaternion_wxyz_to_matrix(top_eigenvector(acc))).to(rot6d.dtype)


@functools.lru_cache(maxsize=8)
def _savgol_coeffs(window_length: int, polyorder: int) -> np.ndarray:
    from scipy.signal import savgol_coeffs

    coeffs = savgol_coeffs(window_length, polyorder)
    coeffs.setflags(write=False)
    return coeffs


@functools.lru_cache(maxsize=1)
def _scipy_edge_fit():
    """scipy's private edge fit, if this scipy has it and the staged filter reproduces the
    public one exactly (checked once on sample data; another signature or order falls back)."""
    from scipy.ndimage import convolve1d
    from scipy.signal import _savitzky_golay, savgol_filter

    fit = getattr(_savitzky_golay, "_fit_edges_polyfit", None)
    if fit is None:
        return None
    sample = np.random.default_rng(0).normal(size=(2, 40, 3)).astype(np.float32)
    try:
        staged = fit(sample, 11, 5, 0, 1.0, 1, convolve1d(sample, _savgol_coeffs(11, 5), axis=1, mode="constant"))
    except Exception:  # noqa: BLE001 - any change of the private API means: do not use it
        return None
    return fit if np.array_equal(np.asarray(staged), savgol_filter(sample, 11, 5, axis=1)) else None


def savgol_translation(data: np.ndarray, window_length: int = 11, polyorder: int = 5) -> np.ndarray:
    """(B, L, 3) float32 root translations -> Savitzky-Golay filtered along the frames.

    scipy's `savgol_filter` (mode 'interp') in its own three stages, with the filter
    coefficients cached: solving for them again on every call was a fifth of the filter's
    time, and the filter runs on the CPU between the last step and the finished take. Where
    scipy's private edge fit is missing (another scipy), the public call does the same."""
    from scipy.ndimage import convolve1d
    from scipy.signal import savgol_filter

    fit_edges = _scipy_edge_fit()
    if fit_edges is None or data.dtype != np.float32 or window_length > data.shape[1]:
        return savgol_filter(data, window_length, polyorder, axis=1).astype(np.float32)
    filtered = convolve1d(data, _savgol_coeffs(window_length, polyorder), axis=1, mode="constant")
    return np.asarray(fit_edges(data, window_length, polyorder, 0, 1.0, 1, filtered), dtype=np.float32)


def smooth_translation_batched(transl: Tensor, window_length: int = 11, polyorder: int = 5) -> Tensor:
    data = transl.detach().float().cpu().numpy()
    return torch.from_numpy(savgol_translation(data, window_length, polyorder)).to(transl.device)


class LevelBody:
    """The wooden body model with its joint tree grouped by depth, on one device."""

    def __init__(self, body: BodyModel, device: torch.device | str) -> None:
        self.num_joints = body.num_joints
        self.j_template = body.j_template.to(device)
        self.rel_offsets = body.rel_offsets.to(device)
        self.skin_y = body.skin_y.to(device)
        depth = []
        for p in body.parents:
            depth.append(0 if p < 0 else depth[p] + 1)
        self.levels = []
        for d in range(1, max(depth) + 1):
            joints = [j for j, dj in enumerate(depth) if dj == d]
            parents = [body.parents[j] for j in joints]
            self.levels.append((torch.tensor(joints, device=device), torch.tensor(parents, device=device)))
        self.roots = [j for j, dj in enumerate(depth) if dj == 0]

    def pose(self, rotations: Tensor) -> tuple[Tensor, Tensor]:
        """(N, J, 3, 3) local -> world rotations (N, J, 3, 3), joint positions (N, J, 3)."""
        n = rotations.shape[0]
        world_r = torch.empty_like(rotations)
        world_t = torch.empty(n, self.num_joints, 3, dtype=rotations.dtype, device=rotations.device)
        for r in self.roots:
            world_r[:, r] = rotations[:, r]
            world_t[:, r] = self.rel_offsets[r]
        for joints, parents in self.levels:
            parent_r = world_r[:, parents]
            world_r[:, joints] = parent_r @ rotations[:, joints]
            world_t[:, joints] = world_t[:, parents] + (parent_r @ self.rel_offsets[joints][:, :, None]).squeeze(-1)
        return world_r, world_t

    def vertex_y(self, world_r: Tensor, world_t: Tensor) -> Tensor:
        shift = world_t - (world_r @ self.j_template[:, :, None]).squeeze(-1)
        rows = torch.cat((world_r[:, :, 1, :], shift[:, :, 1:2]), -1)
        return rows.reshape(rows.shape[0], -1) @ self.skin_y.T


def decode_batched(latent: Tensor, mean: Tensor, std: Tensor, body: LevelBody, smooth: bool = True) -> DecodedMotion:
    """latent (B, L, 201) on any device -> DecodedMotion on that device (float32): the reference
    decode with the level-batched body and the batched (on-device) Savitzky-Golay filter."""
    return decode_latent(latent, mean, std, body, smooth, smooth_rot=smooth_rotations, smooth_transl=smooth_translation_batched)
