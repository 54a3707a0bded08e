"""Motion -> latent: the inverse of the decoder's reading of HY-Motion's 201 values per frame.

Layout (official README and HY-Motion issues #33, #39, #47): [0:3] root translation,
[3:9] root rot6d, [9:135] 21 body-joint rot6d, [135:201] the 22 joints' positions from
forward kinematics with zero translation, minus the root joint's position (world-oriented,
not un-rotated by the root). The decoder ignores the position block; the network reads it,
so a pinned pose fills it consistently. rot6d is the first two *columns* of the local
rotation matrix, flattened row-major (decode.rot6d_to_matrix reads it back). Normalised
as z = (x - mean) / std; channels whose std is below the decoder's 1e-3 are dead (the
decoder puts the mean there whatever z is) and encode to 0.

numpy only (no torch): the CLI reads and checks constraint takes before any weights load.
"""

from __future__ import annotations

import numpy as np

from motionbridge.rigs import Clip, quat
from motionbridge.rigs.skeleton import forward_kinematics
from motionbridge.rigs.smplx import NUM_BODY_JOINTS, SMPLX_JOINT_NAMES, smplx_skeleton

LATENT_DIM = 201
TRANSL = slice(0, 3)
ROTATIONS = slice(3, 3 + 6 * NUM_BODY_JOINTS)
POSITIONS = slice(3 + 6 * NUM_BODY_JOINTS, LATENT_DIM)
STD_EPS = 1e-3  # decode.STD_EPS: the decoder's dead-channel rule


def rotation_channels(joint: int) -> slice:
    """The six latent channels of model joint `joint` (0 = root)."""
    start = ROTATIONS.start + 6 * joint
    return slice(start, start + 6)


def live_channels(std: np.ndarray) -> np.ndarray:
    """(201,) bool: channels the decoder reads from z (std >= 1e-3)."""
    return np.asarray(std, dtype=np.float64) >= STD_EPS


def model_pose(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """A take on the SMPL-X skeleton -> (F, 22, 3, 3) local rotations of the model's joints and
    (F, 3) root translation as the latent holds it (the clip's root minus the rest root).
    Other joints (fingers, jaw, eyes) are not in the latent. ValueError for any other skeleton."""
    names = clip.skeleton.names
    if tuple(names[:NUM_BODY_JOINTS]) != SMPLX_JOINT_NAMES[:NUM_BODY_JOINTS] or clip.skeleton.num_joints not in (52, 55):
        raise ValueError(
            f"expected a take on the SMPL-X skeleton (55 joints, pelvis first), got {clip.skeleton.num_joints} joints "
            f"starting {', '.join(names[:3])}; retarget it to SMPL-X first"
        )
    rest_root = smplx_skeleton().rest_translations[0]
    return quat.to_matrix(quat.normalize(clip.rotations[:, :NUM_BODY_JOINTS])), clip.root_translation - rest_root


def motion_features(rotations: np.ndarray, transl: np.ndarray) -> np.ndarray:
    """(F, 22, 3, 3) local rotations + (F, 3) root translation -> (F, 201) denormalised latent."""
    rotations = np.asarray(rotations, dtype=np.float64)
    frames = rotations.shape[0]
    skel = smplx_skeleton()
    local = np.tile(quat.IDENTITY, (frames, skel.num_joints, 1))
    local[:, :NUM_BODY_JOINTS] = quat.from_matrix(rotations)
    _, pos = forward_kinematics(skel, local, np.zeros((frames, 3)) + skel.rest_translations[0])
    joints = pos[:, :NUM_BODY_JOINTS] - pos[:, :1]
    rot6d = rotations[..., :, :2].reshape(frames, 6 * NUM_BODY_JOINTS)
    return np.concatenate([np.asarray(transl, dtype=np.float64), rot6d, joints.reshape(frames, -1)], axis=1)


def normalize(features: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(..., 201) denormalised -> z; dead channels (std < 1e-3) -> 0."""
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    live = live_channels(std)
    return np.where(live, (features - mean) / np.where(live, std, 1.0), 0.0)


def encode_clip(clip: Clip, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """A take on the SMPL-X skeleton -> (F, 201) normalised latent (float64), the input the
    sampler works on. decode(encode_clip(take)) gives the take back (no smoothing)."""
    rotations, transl = model_pose(clip)
    return normalize(motion_features(rotations, transl), mean, std)
