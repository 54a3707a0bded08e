"""Foot contacts and foot locking: pin each planted foot with a two-bone IK fix on the leg.

Contacts come from the foot joint's height above its lowest point in the clip and its
horizontal speed, both relative to the hip height (so they hold for any rig size or unit).
During a contact the foot's horizontal position is pinned to its mean over the contact; the
pin fades in and out over `blend_frames` so the leg does not pop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import quat


@dataclass(frozen=True)
class FootLockParams:
    height_tolerance: float = 0.08  # foot above its lowest point, in hip heights
    speed_tolerance: float = 0.5  # horizontal foot speed, in hip heights per second
    min_contact_frames: int = 3
    blend_frames: int = 4


def horizontal(v: np.ndarray, up: np.ndarray) -> np.ndarray:
    return v - (v @ up)[..., None] * up


def detect_contacts(foot: np.ndarray, up: np.ndarray, hip_height: float, fps: float, params: FootLockParams) -> np.ndarray:
    """(F,) bool: frames where the foot joint (F, 3) is low and nearly still."""
    height = foot @ up
    low = height - height.min() < params.height_tolerance * hip_height
    if len(foot) < 2:
        return low
    speed = np.linalg.norm(horizontal(np.gradient(foot, axis=0), up), axis=-1) * fps
    contact = low & (speed < params.speed_tolerance * hip_height)
    return _drop_short_runs(contact, params.min_contact_frames)


def _runs(mask: np.ndarray) -> np.ndarray:
    """Run label per frame (1, 2, ...) for True frames, 0 elsewhere."""
    starts = mask & ~np.concatenate([[False], mask[:-1]])
    return np.cumsum(starts) * mask


def _drop_short_runs(mask: np.ndarray, min_len: int) -> np.ndarray:
    labels = _runs(mask)
    lengths = np.bincount(labels)
    keep = lengths >= min_len
    keep[0] = False
    return keep[labels]


def pin_targets(foot: np.ndarray, contact: np.ndarray, up: np.ndarray, blend: int) -> tuple[np.ndarray, np.ndarray]:
    """IK targets (F, 3) and weights (F,): the contact's mean horizontal spot, faded at the ends."""
    labels = _runs(contact)
    n = len(foot)
    if labels.max() == 0:
        return foot, np.zeros(n)
    flat = horizontal(foot, up)
    counts = np.bincount(labels)
    pins = np.stack([np.bincount(labels, weights=flat[:, k]) for k in range(3)], axis=-1) / np.maximum(counts, 1)[:, None]
    idx = np.arange(n)
    prev = np.maximum.accumulate(np.where(contact, idx, -1))
    nxt = np.minimum.accumulate(np.where(contact, idx, n)[::-1])[::-1]
    d_prev = np.where(prev >= 0, idx - prev, n + blend)
    d_next = np.where(nxt < n, nxt - idx, n + blend)
    nearest = np.where(d_prev <= d_next, np.maximum(prev, 0), np.minimum(nxt, n - 1))
    weight = np.clip(1.0 - np.minimum(d_prev, d_next) / (blend + 1.0), 0.0, 1.0)
    pin = pins[labels[nearest]]
    target = foot + weight[:, None] * (pin - flat)
    return target, weight


def two_bone_ik(
    hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, target: np.ndarray, fallback_axis: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """World-space swing `q_hip` (about the hip) and bend `q_knee` (about the knee), each (F, 4),
    taking the ankle onto `target` (or as near as the leg reaches)."""
    u, v = hip - knee, ankle - knee
    l1, l2 = np.linalg.norm(u, axis=-1), np.linalg.norm(v, axis=-1)
    reach = np.clip(np.linalg.norm(target - hip, axis=-1), np.abs(l1 - l2) + 1e-6, l1 + l2 - 1e-6)
    cos_now = np.sum(u * v, axis=-1) / (l1 * l2)
    cos_want = (l1**2 + l2**2 - reach**2) / (2 * l1 * l2)
    angle = np.arccos(np.clip(cos_want, -1, 1)) - np.arccos(np.clip(cos_now, -1, 1))
    axis = np.cross(u, v)
    norm = np.linalg.norm(axis, axis=-1, keepdims=True)
    # a straight leg has no bend plane: bend about the knee's own hinge axis
    axis = np.where(norm > 1e-6 * l1[:, None] * l2[:, None], axis / np.maximum(norm, 1e-300), fallback_axis)
    q_knee = quat.from_axis_angle(axis * angle[:, None])
    bent_ankle = knee + quat.rotate(q_knee, v)
    q_hip = quat.between(bent_ankle - hip, target - hip)
    return q_hip, q_knee
