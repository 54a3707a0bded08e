"""The model's skeleton: HY-Motion's SMPL-H body (52 joints) laid out on SMPL-X (55 joints).

The 52 SMPL-H joints take their rest positions from HY-Motion's wooden body model
(`assets/body_model/j_template.bin`, Y-up, metres, T-pose, facing +Z, character left = +X).
SMPL-X adds jaw and two eyes, which HY-Motion does not animate; they get fixed offsets from
the head, taken from the SMPL-X neutral template (rounded to the millimetre), and always
keep their rest (identity) rotation.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .skeleton import Skeleton, skeleton_from_world

ASSETS = Path(__file__).resolve().parent / "assets" / "body_model"

SMPLX_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "jaw", "left_eye_smplhf", "right_eye_smplhf",
    *(f"left_{f}{i}" for f in ("index", "middle", "pinky", "ring", "thumb") for i in (1, 2, 3)),
    *(f"right_{f}{i}" for f in ("index", "middle", "pinky", "ring", "thumb") for i in (1, 2, 3)),
)
NUM_SMPLX_JOINTS = 55
NUM_BODY_JOINTS = 22  # driven by the model: root + 21 body joints
JAW, LEFT_EYE, RIGHT_EYE, HEAD = 22, 23, 24, 15

# SMPL-X index of each of the 52 SMPL-H joints (body 0..21 unchanged, hands shift by 3).
SMPLX_FROM_SMPLH = np.array(list(range(22)) + list(range(25, 55)), dtype=np.int64)

# Offsets from the head joint, metres, Y-up (SMPL-X neutral template, rounded).
JAW_OFFSET = np.array([0.0, -0.017, 0.036])
EYE_OFFSETS = (np.array([0.032, 0.061, 0.059]), np.array([-0.032, 0.061, 0.059]))


@dataclass(frozen=True, eq=False)
class BodyModelAssets:
    """The wooden mannequin, as the official loader reads it (flat little-endian arrays)."""

    v_template: np.ndarray  # (V, 3) float32
    j_template: np.ndarray  # (52, 3) float32, world rest joint positions
    parents: np.ndarray  # (52,) int64
    skin_weights: np.ndarray  # (V, 4) float32
    skin_indices: np.ndarray  # (V, 4) int64
    faces: np.ndarray  # (F, 3) int64
    joint_names: tuple[str, ...]


def _read(path: Path, dtype: str) -> np.ndarray:
    try:
        return np.frombuffer(path.read_bytes(), dtype=dtype)
    except FileNotFoundError:
        raise FileNotFoundError(f"body model file missing: {path} (reinstall motionbridge)") from None


@functools.lru_cache(maxsize=4)
def load_body_model(directory: str | Path = ASSETS) -> BodyModelAssets:
    d = Path(directory)
    v = _read(d / "v_template.bin", "<f4").reshape(-1, 3)
    j = _read(d / "j_template.bin", "<f4").reshape(-1, 3)
    parents = _read(d / "kintree.bin", "<i4").astype(np.int64)
    weights = _read(d / "skinWeights.bin", "<f4").reshape(-1, 4)
    indices = _read(d / "skinIndice.bin", "<u2").astype(np.int64).reshape(-1, 4)
    faces = _read(d / "faces.bin", "<u2").astype(np.int64).reshape(-1, 3)
    names = tuple(json.loads((d / "joint_names.json").read_text()))
    if not (len(j) == len(parents) == len(names) == 52 and len(weights) == len(v) == len(indices)):
        raise ValueError(f"body model in {d} is inconsistent: {len(j)} joints, {len(names)} names, {len(v)} vertices")
    return BodyModelAssets(v, j, parents, weights, indices, faces, names)


def smplx_parents() -> np.ndarray:
    smplh = load_body_model().parents
    parents = np.full(NUM_SMPLX_JOINTS, -1, dtype=np.int32)
    for h, x in enumerate(SMPLX_FROM_SMPLH):
        p = smplh[h]
        parents[x] = -1 if p < 0 else SMPLX_FROM_SMPLH[p]
    parents[[JAW, LEFT_EYE, RIGHT_EYE]] = HEAD
    return parents


def smplx_rest_world_positions() -> np.ndarray:
    """(55, 3) world rest joint positions, metres, Y-up."""
    j = load_body_model().j_template.astype(np.float64)
    out = np.zeros((NUM_SMPLX_JOINTS, 3))
    out[SMPLX_FROM_SMPLH] = j
    out[JAW] = j[HEAD] + JAW_OFFSET
    out[LEFT_EYE] = j[HEAD] + EYE_OFFSETS[0]
    out[RIGHT_EYE] = j[HEAD] + EYE_OFFSETS[1]
    return out


@functools.lru_cache(maxsize=1)
def smplx_skeleton() -> Skeleton:
    """The 55-joint SMPL-X skeleton with identity rest rotations (T-pose), Y-up, metres."""
    return skeleton_from_world(SMPLX_JOINT_NAMES, smplx_parents(), smplx_rest_world_positions())
