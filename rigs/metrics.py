"""Quality metrics reported with every retarget.

- direction error: angle between a mapped limb's world direction (bone -> the bone it
  points at) on the source, turned into the target's frame, and on the target;
- foot skate: mean horizontal speed of a foot joint over consecutive contact frames, cm/s;
- root path length ratio: the target's horizontal hips path over the source's, scaled by the
  hip-height ratio (1.0 = faithful root motion, 0.0 = in place).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .footlock import horizontal


def direction_errors(src_dirs: np.ndarray, tgt_dirs: np.ndarray, names: list[str]) -> dict:
    """src_dirs, tgt_dirs: (F, B, 3) in the same frame; per bone mean/max degrees and overall."""
    if not names:
        return {"mean_deg": 0.0, "max_deg": 0.0, "per_bone": {}}
    a = src_dirs / np.sqrt(np.maximum(np.einsum("...i,...i->...", src_dirs, src_dirs), 1e-24))[..., None]
    b = tgt_dirs / np.sqrt(np.maximum(np.einsum("...i,...i->...", tgt_dirs, tgt_dirs), 1e-24))[..., None]
    # atan2 of |a - b| and |a + b| stays accurate for tiny angles, unlike arccos of the dot product
    deg = np.degrees(2.0 * np.arctan2(np.linalg.norm(a - b, axis=-1), np.linalg.norm(a + b, axis=-1)))
    means, maxes = deg.mean(axis=0).tolist(), deg.max(axis=0).tolist()
    per_bone = {n: {"mean_deg": m, "max_deg": x} for n, m, x in zip(names, means, maxes)}
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


def flat_metrics(metrics: Any, prefix: str = "") -> dict[str, float]:
    """Nested retarget metrics -> {"a.b": number} (manifest columns, take metadata); per-bone
    tables stay out, lists become counts."""
    out: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        name = f"{prefix}{key}"
        if key == "per_bone":
            continue
        if isinstance(value, dict):
            out.update(flat_metrics(value, name + "."))
        elif isinstance(value, (list, tuple)):
            out[name + "_count"] = float(len(value))
        elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            out[name] = float(value)
    return out
