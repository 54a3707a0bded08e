"""Latent -> motion: denormalise, rot6d -> rotations, smoothing, FK + LBS, ground alignment.

Follows the official decoder (README items 22-27): std entries below 1e-3 are zeroed, rot6d
is read as two matrix *columns*, joint rotations are smoothed by a Gaussian-weighted
quaternion average (Markley's eigenvector method), root translation by a Savitzky-Golay
filter in float32 (scipy, as the official code), then the wooden body model is posed and the
lowest vertex over the whole take sets the ground.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from motionbridge.rigs.smplx import BodyModelAssets, load_body_model

NUM_MODEL_JOINTS = 22  # root + 21 body joints in the latent
STD_EPS = 1e-3


@dataclass
class DecodedMotion:
    latent_denorm: Tensor  # (B, L, 201)
    rot6d: Tensor  # (B, L, 22, 6) smoothed
    transl: Tensor  # (B, L, 3) smoothed, ground-aligned
    keypoints3d: Tensor  # (B, L, 52, 3) FK joints without translation, ground-aligned in y
    root_rotations_mat: Tensor  # (B, L, 3, 3)
    min_y: Tensor  # (B,)
    rotation_matrices: Tensor | None = None  # (B, L, 22, 3, 3) as the decoder computed them

    def rotations(self) -> Tensor:
        """(B, L, 22, 3, 3) local joint rotation matrices (smoothed)."""
        if self.rotation_matrices is not None:  # the same op on the same rot6d: no need to redo it
            return self.rotation_matrices
        return rot6d_to_matrix(self.rot6d)


@dataclass
class PosedLatent:
    """Everything of a decode that does not need the smoothed root translation, so that the
    translation filter (scipy, on the CPU) can run while the device poses the body."""

    latent_denorm: Tensor  # (B, L, 201)
    rot6d: Tensor  # (B, L, 22, 6), smoothed when asked
    rotation_matrices: Tensor  # (B, L, 22, 3, 3) from rot6d
    joints: Tensor  # (B, L, J, 3) float32 FK joint positions without translation
    lowest_vertex_y: Tensor  # (B, L) float64 height of each frame's lowest vertex without translation


def denormalize(latent: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    std = torch.where(std < STD_EPS, torch.zeros_like(std), std)
    return latent * std + mean


def rot6d_to_matrix(r6: Tensor) -> Tensor:
    """(..., 6) read row-major as 3x2; its two columns are Gram-Schmidt-ed into R[:, :2]."""
    m = r6.reshape(*r6.shape[:-1], 3, 2)
    a1, a2 = m[..., 0], m[..., 1]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def matrix_to_rot6d(m: Tensor) -> Tensor:
    return m[..., :, :2].reshape(*m.shape[:-2], 6)


def matrix_to_quaternion_wxyz(m: Tensor) -> Tensor:
    """Branch-free: the largest of the four candidate forms is taken per element."""
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    sq = torch.stack((1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22), -1)
    root = torch.sqrt(sq.clamp_min(0))
    candidates = torch.stack(
        (
            torch.stack((root[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01), -1),
            torch.stack((m21 - m12, root[..., 1] ** 2, m10 + m01, m02 + m20), -1),
            torch.stack((m02 - m20, m10 + m01, root[..., 2] ** 2, m12 + m21), -1),
            torch.stack((m10 - m01, m20 + m02, m21 + m12, root[..., 3] ** 2), -1),
        ),
        -2,
    ) / (2.0 * root.clamp_min(0.1)[..., None])
    best = sq.argmax(-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    return F.normalize(q, dim=-1)


def quaternion_wxyz_to_matrix(q: Tensor) -> Tensor:
    w, x, y, z = q.unbind(-1)
    s = 2.0 / (q * q).sum(-1)
    return torch.stack(
        (
            1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w),
            s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w),
            s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y),
        ),
        -1,
    ).reshape(*q.shape[:-1], 3, 3)


def gaussian_taps(sigma: float = 1.0) -> Tensor:
    radius = int(4 * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def smooth_rotations(rot6d: Tensor, sigma: float = 1.0) -> Tensor:
    """(B, L, J, 6) -> smoothed rot6d. Per joint and frame, the weighted quaternion average is
    the top eigenvector of sum w q q^T (edges repeat the end frames). Only q q^T enters, so
    quaternion signs need no care. Accumulated in float64 like the official code."""
    q = matrix_to_quaternion_wxyz(rot6d_to_matrix(rot6d).double())  # (B, L, J, 4)
    taps = gaussian_taps(sigma).to(q.device)
    radius = (len(taps) - 1) // 2
    length = q.shape[1]
    idx = (torch.arange(length, device=q.device)[:, None] + torch.arange(-radius, radius + 1, device=q.device)[None, :]).clamp(0, length - 1)
    window = q[:, idx]  # (B, L, K, J, 4)
    outer = window[..., :, None] * window[..., None, :]  # (B, L, K, J, 4, 4)
    acc = (outer * taps.view(1, 1, -1, 1, 1, 1)).sum(2) / taps.sum()
    _, vecs = torch.linalg.eigh(acc)
    avg = vecs[..., -1]  # eigenvalues ascending: the last is the largest
    out = matrix_to_rot6d(quaternion_wxyz_to_matrix(avg))
    return out.to(rot6d.dtype)


def smooth_translation(transl: Tensor, window_length: int = 11, polyorder: int = 5) -> Tensor:
    """scipy's savgol_filter per batch item and coordinate on float32 data (its edge fit runs
    in the input dtype, so float64 here would differ by ~1e-4 at the first/last frames)."""
    from scipy.signal import savgol_filter

    data = transl.detach().cpu().numpy().astype(np.float32)
    out = np.empty_like(data)
    for b in range(data.shape[0]):
        for c in range(data.shape[2]):
            out[b, :, c] = savgol_filter(data[b, :, c], window_length, polyorder)
    return torch.from_numpy(out).to(transl.device)


class BodyModel:
    """The wooden mannequin as torch tensors, with a precomputed skinning matrix for vertex y."""

    def __init__(self, assets: BodyModelAssets | None = None, device: torch.device | str = "cpu") -> None:
        a = assets or load_body_model()
        self.parents = [int(p) for p in a.parents]
        self.num_joints = len(self.parents)
        depth = [0] * self.num_joints
        for j, p in enumerate(self.parents):  # parents precede children
            depth[j] = 0 if p < 0 else depth[p] + 1
        # joints grouped by tree depth: FK is one batched matmul per level, not per joint
        self.levels = [
            (torch.tensor([j for j in range(self.num_joints) if depth[j] == d], device=device),
             torch.tensor([self.parents[j] for j in range(self.num_joints) if depth[j] == d], device=device))
            for d in range(1, max(depth) + 1)
        ]
        self.roots = torch.tensor([j for j in range(self.num_joints) if depth[j] == 0], device=device)
        self.j_template = torch.from_numpy(np.array(a.j_template, dtype=np.float64)).to(device)
        rel = self.j_template.clone()
        rel[1:] = self.j_template[1:] - self.j_template[self.parents[1:]]
        self.rel_offsets = rel
        verts = torch.from_numpy(np.array(a.v_template, dtype=np.float64))
        weights = torch.zeros(len(verts), self.num_joints, dtype=torch.float64)
        weights.scatter_add_(1, torch.from_numpy(a.skin_indices), torch.from_numpy(np.array(a.skin_weights, dtype=np.float64)))
        homo = torch.cat((verts, torch.ones(len(verts), 1, dtype=torch.float64)), 1)
        # y of a skinned vertex = sum_j W[v,j] * (row 1 of the joint's skinning transform) . [v, 1]
        self.skin_y = (weights[:, :, None] * homo[:, None, :]).reshape(len(verts), -1).to(device)  # (V, J*4)

    def pose(self, rotations: Tensor) -> tuple[Tensor, Tensor]:
        """rotations (N, J, 3, 3) local -> (world rotations (N, J, 3, 3), joint positions (N, J, 3))."""
        n = rotations.shape[0]
        world_r = torch.empty_like(rotations)
        world_t = torch.empty(n, self.num_joints, 3, dtype=rotations.dtype, device=rotations.device)
        offsets = self.rel_offsets.to(rotations)
        world_r[:, self.roots] = rotations[:, self.roots]
        world_t[:, self.roots] = offsets[self.roots].expand(n, -1, 3)
        for joints, parents in self.levels:
            parent_r = world_r[:, parents]
            world_r[:, joints] = parent_r @ rotations[:, joints]
            world_t[:, joints] = world_t[:, parents] + (parent_r @ offsets[joints][:, :, None]).squeeze(-1)
        return world_r, world_t

    def vertex_y(self, world_r: Tensor, world_t: Tensor) -> Tensor:
        """(N, V) vertex heights without translation."""
        shift = world_t - (world_r @ self.j_template[:, :, None]).squeeze(-1)  # skinning transform translation
        rows = torch.cat((world_r[:, :, 1, :], shift[:, :, 1:2]), -1)  # (N, J, 4)
        return rows.reshape(rows.shape[0], -1) @ self.skin_y.T


def full_rotations(body_rot: Tensor, num_joints: int) -> Tensor:
    """(N, 22, 3, 3) -> (N, J, 3, 3) with identity for the finger joints."""
    n = body_rot.shape[0]
    eye = torch.eye(3, dtype=body_rot.dtype, device=body_rot.device).expand(n, num_joints - body_rot.shape[1], 3, 3)
    return torch.cat((body_rot, eye), 1)


def root_translation(denorm: Tensor) -> Tensor:
    return denorm[..., 0:3]


def pose_latent(denorm: Tensor, body, smooth_rot=None) -> PosedLatent:
    """Denormalised latent (B, L, 201) -> rotations (smoothed by `smooth_rot` unless None), FK
    joints and each frame's lowest vertex. `body` as in `decode_latent`."""
    b, length = denorm.shape[:2]
    rot6d = denorm[..., 3 : 3 + 6 * NUM_MODEL_JOINTS].reshape(b, length, NUM_MODEL_JOINTS, 6)
    if smooth_rot is not None:
        rot6d = smooth_rot(rot6d)
    rotm = rot6d_to_matrix(rot6d)
    rot64 = full_rotations(rotm.double().reshape(b * length, NUM_MODEL_JOINTS, 3, 3), body.num_joints)
    world_r, joints = body.pose(rot64.to(body.j_template.device))  # float64 (cheap; matches to ~1e-7)
    # The lowest vertex per frame, the translation added later: rounding is monotonic, so
    # min_v(y_v) + t rounds to exactly min_v(y_v + t), and no (B, L, vertices) sum is kept.
    lowest = body.vertex_y(world_r, joints).reshape(b, length, -1).amin(-1)
    joints32 = joints.reshape(b, length, body.num_joints, 3).to(torch.float32).to(denorm.device)
    return PosedLatent(denorm, rot6d, rotm, joints32, lowest)


def ground_align(posed: PosedLatent, transl: Tensor) -> DecodedMotion:
    """Posed body + root translation (B, L, 3) on the latent's device (smoothed or not) ->
    DecodedMotion with the take's lowest vertex at y = 0. New tensors only: `posed.joints` is
    read, not changed."""
    heights = posed.lowest_vertex_y + transl[..., 1].double().to(posed.lowest_vertex_y.device)
    min_y = heights.amin(1).to(torch.float32).to(transl.device)
    k3d = posed.joints.clone()
    k3d[..., 1] -= min_y[:, None, None]
    transl = transl.clone()
    transl[..., 1] -= min_y[:, None]
    rotm = posed.rotation_matrices
    return DecodedMotion(posed.latent_denorm, posed.rot6d, transl, k3d, rotm[:, :, 0], min_y, rotm)


def decode_latent(
    latent: Tensor, mean: Tensor, std: Tensor, body, smooth: bool = True, smooth_rot=None, smooth_transl=None,
) -> DecodedMotion:
    """latent (B, L, 201) cropped to the take length -> DecodedMotion (float32 outputs), on the
    latent's device. `body` poses joints and gives vertex heights (BodyModel here, the GPU
    engine's level-batched body there); the smoothers default to the official ones (eigh
    quaternion average, scipy Savitzky-Golay); the GPU engine passes batched equivalents.
    In three parts (pose, translation, ground alignment) so that the GPU engine can run the
    translation filter on the CPU while the device poses the body."""
    latent = latent.float()
    denorm = denormalize(latent, mean.to(latent.device), std.to(latent.device))
    posed = pose_latent(denorm, body, (smooth_rot or smooth_rotations) if smooth else None)
    transl = root_translation(denorm)
    if smooth:
        transl = (smooth_transl or smooth_translation)(transl)
    return ground_align(posed, transl)
