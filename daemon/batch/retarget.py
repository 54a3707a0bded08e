"""`--rig PRESET|FILE`: loading each target rig once and retargeting takes onto it.

Loading a rig that does not exist is a setup error (reported before any GPU work);
a rig that loads but cannot be mapped fails only the takes that use it.
"""

from __future__ import annotations

import functools
from typing import Any

from motionbridge.rigs import Clip


class RigLoadError(ValueError):
    """The rig spec names no preset or readable file."""


@functools.lru_cache(maxsize=32)
def load_target(spec: str) -> Any:
    """The rigs package's loaded rig for a preset name or a file path (cached per process)."""
    try:
        from motionbridge.rigs import load_rig  # type: ignore[attr-defined]
    except ImportError as exc:
        raise RigLoadError(f"retargeting is not available in this install ({exc}); drop --rig to export SMPL-X takes") from exc
    try:
        return load_rig(spec)
    except (OSError, ValueError, KeyError) as exc:
        raise RigLoadError(f"cannot load rig {spec!r}: {exc}") from exc


def apply(spec: str, clip: Clip) -> tuple[Clip, dict[str, float]]:
    """Retargets `clip` onto the rig; returns the new clip and the retarget metrics."""
    from motionbridge.rigs import retarget  # type: ignore[attr-defined]

    rig = load_target(spec)
    result = retarget(clip, rig.skeleton, rig.mapping, getattr(rig, "options", None))
    return result.clip, _plain_metrics(result.metrics)


def _plain_metrics(metrics: Any) -> dict[str, float]:
    if metrics is None:
        return {}
    if not isinstance(metrics, dict):
        metrics = {k: v for k, v in vars(metrics).items() if not k.startswith("_")}
    out: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            continue  # per-joint tables and the like stay out of the manifest
    return out
