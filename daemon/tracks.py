"""Decoded HY-Motion output -> a `motionbridge.rigs.Clip` on the 55-joint SMPL-X skeleton.

The model drives SMPL-X joints 0..21 (root + body); fingers, jaw and eyes keep their rest
(identity) rotation. The skeleton's rest pose is the wooden model's T-pose with identity rest
rotations, so the model's local rotation matrices are the clip's local rotations as they are.
root_translation = rest root position + transl, which puts the mesh's lowest vertex of the
take at y = 0 (transl is already ground-aligned by the decoder).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from motionbridge.rigs import Clip, quat
from motionbridge.rigs.smplx import NUM_BODY_JOINTS, NUM_SMPLX_JOINTS, smplx_skeleton

from . import __version__
from .model_license import MODEL_LICENSE

FPS = 30


def clip_from_rotations(
    body_rotations: np.ndarray,
    transl: np.ndarray,
    metadata: Mapping[str, Any] | None = None,
    fps: float = FPS,
) -> Clip:
    """body_rotations (F, 22, 3, 3) local matrices, transl (F, 3) ground-aligned -> Clip."""
    body_rotations = np.asarray(body_rotations, dtype=np.float64)
    transl = np.asarray(transl, dtype=np.float64)
    frames = body_rotations.shape[0]
    if body_rotations.shape[1:] != (NUM_BODY_JOINTS, 3, 3) or transl.shape != (frames, 3):
        raise ValueError(f"expected (F, {NUM_BODY_JOINTS}, 3, 3) rotations and (F, 3) translation, got {body_rotations.shape} and {transl.shape}")
    skeleton = smplx_skeleton()
    rotations = np.tile(quat.IDENTITY, (frames, NUM_SMPLX_JOINTS, 1))
    rotations[:, :NUM_BODY_JOINTS] = quat.normalize(quat.from_matrix(body_rotations))
    root = skeleton.rest_translations[0][None, :] + transl
    meta = {"motionbridge_version": __version__, "skeleton": "smplx55", "model_license": MODEL_LICENSE, **(metadata or {})}
    return Clip(skeleton, rotations, root, float(fps), meta)


def clips_from_decoded(decoded, metadata: list[Mapping[str, Any]] | None = None, fps: float = FPS) -> list[Clip]:
    """One Clip per batch row of a `model.decode.DecodedMotion`."""
    rot = decoded.rotations().detach().cpu().double().numpy()
    transl = decoded.transl.detach().cpu().double().numpy()
    metas = metadata or [{} for _ in range(rot.shape[0])]
    return [clip_from_rotations(rot[i], transl[i], metas[i], fps) for i in range(rot.shape[0])]
