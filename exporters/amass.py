"""AMASS-style SMPL-H / SMPL-X parameter NPZ (`*.amass.npz`): what research loaders expect.

Keys (loads with np.load(..., allow_pickle=False)):
    poses            (F, 156) SMPL-H or (F, 165) SMPL-X, axis-angle per joint, model joint order
    root_orient      (F, 3), pose_body (F, 63), pose_hand (F, 90); SMPL-X adds pose_jaw (F, 3), pose_eye (F, 6)
    trans            (F, 3) metres: pelvis position minus its rest position (AMASS convention)
    betas            (16,) zeros: HY-Motion's wooden body has no shape parameters
    gender           "neutral";  mocap_framerate / mocap_frame_rate  fps
    surface_model_type  "smplh" | "smplx";  up_axis "y" (SMPL's own frame);  metadata_json
Only the SMPL-X skeleton can be written this way; a retargeted rig has no SMPL parameters.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from motionbridge.rigs import Clip, quat
from motionbridge.rigs.smplx import SMPLX_FROM_SMPLH, SMPLX_JOINT_NAMES

from .atomic import atomic_path
from .prepare import check_finite, check_option, to_frame

NUM_BETAS = 16


def arrays(clip: Clip, body_model: str = "smplx") -> dict[str, np.ndarray]:
    check_option("body_model", body_model, ("smplx", "smplh"))
    if tuple(clip.skeleton.names) != SMPLX_JOINT_NAMES:
        raise ValueError("AMASS parameters need the SMPL-X skeleton; write a retargeted rig as .fbx/.glb/.bvh/.usd instead")
    clip = to_frame(clip, "y", "m")
    skel = clip.skeleton
    pose_q = quat.multiply(quat.conjugate(skel.rest_rotations)[None], clip.rotations)
    aa = quat.to_axis_angle(pose_q)  # (F, 55, 3)
    if body_model == "smplh":
        aa = aa[:, SMPLX_FROM_SMPLH]
    frames = clip.num_frames
    out: dict[str, np.ndarray] = {
        "poses": aa.reshape(frames, -1),
        "root_orient": aa[:, 0],
        "pose_body": aa[:, 1:22].reshape(frames, -1),
        "trans": clip.root_translation - skel.rest_translations[0],
        "betas": np.zeros(NUM_BETAS),
        "gender": np.array("neutral"),
        "mocap_framerate": np.array(float(clip.fps)),
        "mocap_frame_rate": np.array(float(clip.fps)),
        "surface_model_type": np.array(body_model),
        "up_axis": np.array("y"),
        "metadata_json": np.array(json.dumps(clip.metadata, default=str, sort_keys=True)),
    }
    if body_model == "smplh":
        out["pose_hand"] = aa[:, 22:52].reshape(frames, -1)
    else:
        out["pose_jaw"] = aa[:, 22]
        out["pose_eye"] = aa[:, 23:25].reshape(frames, -1)
        out["pose_hand"] = aa[:, 25:55].reshape(frames, -1)
    return out


def write(path: Path, takes: Sequence[Clip], names: Sequence[str], **options: Any) -> list[str]:
    """Registry entry point for `.amass.npz`; options: body_model ('smplx' default, or 'smplh')."""
    unknown = set(options) - {"body_model"}
    if unknown:
        raise ValueError(f"unknown AMASS options {sorted(unknown)}; use body_model")
    if len(takes) != 1:
        raise ValueError(f"an AMASS file holds one take, got {len(takes)}; write one file per take (--takes-per-file 1)")
    check_finite(takes[0], names[0])
    data = arrays(takes[0], options.get("body_model") or "smplx")
    buffer = io.BytesIO()  # zipped in memory: a full disk fails one write (see npz.py)
    np.savez(buffer, **data)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(buffer.getbuffer())
    return []
