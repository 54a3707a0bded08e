"""The wooden body mesh, skinned to the SMPL-X skeleton, in a clip's frame (axes and units).

Only the SMPL-X skeleton (the model's own) can carry it: a retargeted rig has its own mesh in
the user's DCC scene, so asking for the body there is an error rather than a silent mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionbridge.rigs import Skeleton
from motionbridge.rigs.smplx import SMPLX_FROM_SMPLH, SMPLX_JOINT_NAMES, load_body_model, smplx_skeleton

from .prepare import convert_points


@dataclass(frozen=True, eq=False)
class BodyMesh:
    vertices: np.ndarray  # (V, 3) float64, rest (T-pose) positions in the skeleton's frame
    faces: np.ndarray  # (F, 3) int64 triangle vertex indices
    joints: np.ndarray  # (V, 4) int64 skeleton joint indices
    weights: np.ndarray  # (V, 4) float64, rows sum to 1


def body_mesh(skeleton: Skeleton) -> BodyMesh:
    """The body bound to `skeleton`, which must be SMPL-X (in any axes/units)."""
    if tuple(skeleton.names) != SMPLX_JOINT_NAMES:
        raise ValueError("the body mesh fits only the SMPL-X skeleton; export a retargeted rig without body=True (--no-body)")
    body = load_body_model()
    # The body is authored at the standard rest root; follow the clip's root if it moved.
    ref = smplx_skeleton()
    verts = body.v_template.astype(np.float64) - ref.rest_translations[0]
    verts = convert_points(verts, ref.up_axis, ref.units, skeleton.up_axis, skeleton.units) + skeleton.rest_translations[0]
    weights = body.skin_weights.astype(np.float64)
    weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    joints = SMPLX_FROM_SMPLH[body.skin_indices]
    joints = np.where(weights > 0, joints, 0)
    return BodyMesh(verts, body.faces.astype(np.int64), joints, weights)
