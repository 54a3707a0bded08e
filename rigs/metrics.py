"""Quality metrics reported with every retarget.

- direction error: angle between a mapped limb's world direction (bone -> the bone it
  points at) on the source, turned into the target's frame, and on the target;
- foot skate: mean horizontal speed of a foot joint over consecutive contact frames, cm/s;
- root path length ratio: the target's horizontal hips path over the source's, scaled by the
  hip-height ratio (1.0 = faithful root motion, 0.0 = in place).
"""

from __future__ import annotations

import numpy as np

from .footlock import horizontal


def direction_errors(src_dirs: np.ndarray, tgt_dirs: np.ndarray, names: list[str]) -> dict:
    """src_dirs, tgt_dirs: (F, B, 3) in the same frame; per bone mean/max degrees and overall."""
    if not names:
        return {"mean_deg": 0.0, "max_deg": 0.0, "per_bone": {}}
    a = src_dirs / np.maximum(np.linalg.norm(src_dirs, axis=-1, keepdims=True), 1e-12)
    b = tgt_dirs / np.maximum(np.linalg.norm(tgt_dirs, axis=-1, keepdims=True), 1e-12)
    # atan2 of |cross| and dot stays accurate for tiny angles, unlike arccos
    deg = np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1)))
    per_bone = {n: {"mean_deg": float(deg[:, i].mean()), "max_deg": float(deg[:, i].max())} for i, n in enumerate(names)}
    return {"mean_deg": float(deg.mean()), "max_deg": float(deg.max()), "per_bone": per_bone}


def foot_skate(foot: np.ndarray, contact: np.ndarray, up: np.ndarray, fps: float, cm_per_unit: float) -> float | None:
    """Mean horizontal speed (cm/s) of `foot` (F, 3) between consecutive contact frames."""
    both = contact[1:] & contact[:-1]
    if not both.any():
        return None
    step = np.linalg.norm(horizontal(np.diff(foot, axis=0), up), axis=-1)[both]
    return float(step.mean() * fps * cm_per_unit)


def path_length(points: np.ndarray, up: np.ndarray) -> float:
    return float(np.linalg.norm(horizontal(np.diff(points, axis=0), up), axis=-1).sum()) if len(points) > 1 else 0.0


def path_ratio(src_hips: np.ndarray, up_s: np.ndarray, tgt_hips: np.ndarray, up_t: np.ndarray, scale: float) -> float | None:
    src = path_length(src_hips, up_s) * scale
    return None if src < 1e-9 else path_length(tgt_hips, up_t) / src
