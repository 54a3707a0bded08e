"""How visible a join is, and how much the feet slide: the measures issue 18 sets for controls.

A seam is where two pieces of motion meet (a take continued from another's last frames, two
windows of an extended take, a loop's last frame flowing into its first, a key, the ends of a
regenerated range). Its size is the largest joint velocity and acceleration right at the join,
each as a ratio to the same clip's own frame-to-frame p95 (the 95th percentile over all its
frames): 1.0 means the join moves like the clip's ordinary frames; issue 18 allows 1.5.
Velocity and acceleration are the norms over the 22 body joints' world positions of their
first and second differences, so a jump in pose shows in both and a jump in velocity in the
acceleration. numpy only.
"""

from __future__ import annotations

import numpy as np

from motionbridge.rigs import Clip, quat
from motionbridge.rigs.smplx import NUM_BODY_JOINTS, SMPLX_JOINT_NAMES

UP = np.array([0.0, 1.0, 0.0])
FEET = (SMPLX_JOINT_NAMES.index("left_foot"), SMPLX_JOINT_NAMES.index("right_foot"))


def body_positions(clip: Clip) -> np.ndarray:
    """(F, 22, 3) world positions of the model's body joints."""
    return clip.world()[1][:, :NUM_BODY_JOINTS]


def pose_errors(take: Clip, t_frame: int, source: Clip, s_frame: int, joints=range(NUM_BODY_JOINTS)) -> tuple[float, float]:
    """(cm, deg): the worst world joint position and local rotation difference over `joints`
    between frame `t_frame` of `take` and frame `s_frame` of `source`: a constraint's error."""
    joints = list(joints)
    p_take, p_src = take.world()[1], source.world()[1]
    cm = float(np.abs(p_take[t_frame, joints] - p_src[s_frame, joints]).max()) * 100
    dot = np.abs(np.sum(quat.normalize(take.rotations[t_frame, joints]) * quat.normalize(source.rotations[s_frame, joints]), -1))
    return cm, float(np.degrees(2 * np.arccos(np.clip(dot, 0, 1))).max())


def seam_ratios(positions: np.ndarray, at: int) -> tuple[float, float]:
    """(velocity, acceleration) at the join before frame `at` of (F, J, 3) positions, each over
    the clip's own p95: the steps into and out of frame `at` (velocity), the second differences
    centred on frames at-1, at and at+1 (acceleration)."""
    flat = np.asarray(positions, dtype=np.float64).reshape(len(positions), -1)
    if not 2 <= at <= len(flat) - 2:
        raise ValueError(f"a seam at frame {at} needs two frames on each side (clip of {len(flat)} frames)")
    vel = np.linalg.norm(np.diff(flat, axis=0), axis=-1)  # vel[k]: frame k -> k + 1
    acc = np.linalg.norm(flat[2:] - 2 * flat[1:-1] + flat[:-2], axis=-1)  # acc[k]: centred on frame k + 1
    return float(vel[at - 1 : at + 1].max() / np.percentile(vel, 95)), float(acc[at - 2 : at + 1].max() / np.percentile(acc, 95))


def worst_seam(positions: np.ndarray, seams) -> tuple[float, float]:
    """The largest velocity and acceleration ratios over several joins of one clip."""
    ratios = [seam_ratios(positions, at) for at in seams]
    return max(r[0] for r in ratios), max(r[1] for r in ratios)


def acceleration_p95(positions: np.ndarray) -> float:
    """The clip's frame-to-frame acceleration p95 (metres per frame², over all body joints): how
    jittery its motion is (noise is large, smooth motion small)."""
    flat = np.asarray(positions, dtype=np.float64).reshape(len(positions), -1)
    return float(np.percentile(np.linalg.norm(flat[2:] - 2 * flat[1:-1] + flat[:-2], axis=-1), 95))


SKATE_BAND_M = 0.05  # a foot counts as low within this height of its lowest point in the take
SKATE_TOLERANCE = 0.15  # a directed take's skate may exceed the free take's by this fraction


def skate_cm_s(clip: Clip, band_m: float = SKATE_BAND_M) -> float:
    """Foot skate of a take (cm/s): `foot_skate` on its body joints."""
    return foot_skate(body_positions(clip), clip.fps, band_m)


def foot_skate(positions: np.ndarray, fps: float, band_m: float = SKATE_BAND_M) -> float:
    """(F, 22, 3) world positions, metres, Y-up -> cm/s: each foot joint's horizontal speed,
    averaged with weights that are 1 at the foot's lowest height in the clip and fall linearly
    to 0 `band_m` above it (a planted foot should not move sideways), then over both feet.
    Weighted rather than thresholded: a contact detector (rigs/footlock) found contacts in some
    takes of the smooth fixture and none in others of the same prompt (0 or 35 cm/s), which
    made a per-seed comparison noise."""
    return float(np.mean([(w * v).sum() / w.sum() for w, v in _foot_steps(positions, fps, band_m)]))


def _foot_steps(positions: np.ndarray, fps: float, band_m: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per foot: (F-1,) weights and horizontal speeds (cm/s) of the steps between frames."""
    pos = np.asarray(positions, dtype=np.float64)
    out = []
    for j in FEET:
        foot = pos[:, j]
        height = foot @ UP
        low = np.clip(1.0 - (height - height.min()) / band_m, 0.0, 1.0)
        step = np.diff(foot, axis=0)
        horizontal = np.linalg.norm(step - np.outer(step @ UP, UP), axis=-1) * fps * 100.0
        out.append((0.5 * (low[1:] + low[:-1]), horizontal))
    return out


def spliced_skate(outside: np.ndarray, inside: np.ndarray, fps: float, first: int, last: int, band_m: float = SKATE_BAND_M) -> float:
    """Foot skate (cm/s) of the free takes that made each frame of a take whose frames `first`
    to `last` come from another seed than the rest (a regenerated range), from their (F, 22, 3)
    positions: the steps into, within and out of the range from `inside`, the others from
    `outside`, each step weighted as in its own take (`foot_skate`). The reference a
    regenerated take's skate is held to: the unconstrained takes of the same seeds on the same
    frames."""
    steps = np.arange(len(outside) - 1)
    ranged = (steps >= first - 1) & (steps <= last)
    feet = zip(_foot_steps(outside, fps, band_m), _foot_steps(inside, fps, band_m))
    out = []
    for (w_out, v_out), (w_in, v_in) in feet:
        w, v = np.where(ranged, w_in, w_out), np.where(ranged, v_in, v_out)
        out.append((w * v).sum() / w.sum())
    return float(np.mean(out))


def skate_no_worse(directed: float, free: float, tolerance: float = SKATE_TOLERANCE) -> bool:
    """Issue 18's foot-skate check: the directed take's skate at most the free take's (same
    seed) plus `tolerance` of it. The tolerance is the free takes' own spread: on the smooth
    fixture a walk's skate varies by 190 to 224 cm/s from seed to seed."""
    return directed <= free * (1.0 + tolerance)
