"""Named axis, unit and handedness conversions, and resampling.

Skeletons carry up_axis, units and handedness, so each conversion is a no-op when the clip
is already in the requested convention: nothing is ever converted twice.
Y-up <-> Z-up is a +90 degree turn about X (Y-up +Z-forward becomes Z-up -Y-forward, as
Blender and Maya agree); handedness flips X (mirror), which conjugates every local transform.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

import numpy as np

from . import quat
from .skeleton import HANDEDNESS, UNITS, UP_AXES, Clip, RigError, Skeleton

T = TypeVar("T", Clip, Skeleton)
STANDARD_FPS = (24, 25, 30, 48, 60)
_Y_TO_Z = quat.from_axis_angle(np.array([np.pi / 2, 0.0, 0.0]))


def _split(obj: Clip | Skeleton) -> tuple[Skeleton, Clip | None]:
    if isinstance(obj, Clip):
        return obj.skeleton, obj
    if isinstance(obj, Skeleton):
        return obj, None
    raise RigError(f"expected a Clip or a Skeleton, got {type(obj).__name__}")


def convert_axes(obj: T, up: str) -> T:
    """Re-express a clip or skeleton with `up` ("y" or "z") as its up axis."""
    if up not in UP_AXES:
        raise RigError(f"up must be one of {UP_AXES}, not {up!r}")
    skel, clip = _split(obj)
    if skel.up_axis == up:
        return obj
    q = _Y_TO_Z if up == "z" else quat.conjugate(_Y_TO_Z)
    roots = skel.parents < 0
    rest_t = skel.rest_translations.copy()
    rest_r = skel.rest_rotations.copy()
    rest_t[roots] = quat.rotate(q, rest_t[roots])
    rest_r[roots] = quat.multiply(q, rest_r[roots])
    new_skel = dataclasses.replace(skel, rest_translations=rest_t, rest_rotations=rest_r, up_axis=up)
    if clip is None:
        return new_skel  # type: ignore[return-value]
    rot = clip.rotations.copy()
    rot[:, roots] = quat.multiply(q, rot[:, roots])
    return clip.replace(skeleton=new_skel, rotations=rot, root_translation=quat.rotate(q, clip.root_translation))  # type: ignore[return-value]


def convert_units(obj: T, units: str) -> T:
    """Re-express lengths in `units` ("m" or "cm")."""
    if units not in UNITS:
        raise RigError(f"units must be one of {tuple(UNITS)}, not {units!r}")
    skel, clip = _split(obj)
    if skel.units == units:
        return obj
    k = UNITS[skel.units] / UNITS[units]
    new_skel = dataclasses.replace(skel, rest_translations=skel.rest_translations * k, units=units)
    if clip is None:
        return new_skel  # type: ignore[return-value]
    return clip.replace(skeleton=new_skel, root_translation=clip.root_translation * k)  # type: ignore[return-value]


def _mirror_x(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, 1.0])


def convert_handedness(obj: T, handedness: str) -> T:
    """Re-express in a `handedness` ("right" or "left") coordinate system by mirroring X."""
    if handedness not in HANDEDNESS:
        raise RigError(f"handedness must be one of {HANDEDNESS}, not {handedness!r}")
    skel, clip = _split(obj)
    if skel.handedness == handedness:
        return obj
    flip = np.array([-1.0, 1.0, 1.0])
    new_skel = dataclasses.replace(
        skel, rest_translations=skel.rest_translations * flip, rest_rotations=_mirror_x(skel.rest_rotations), handedness=handedness
    )
    if clip is None:
        return new_skel  # type: ignore[return-value]
    return clip.replace(skeleton=new_skel, rotations=_mirror_x(clip.rotations), root_translation=clip.root_translation * flip)  # type: ignore[return-value]


def resample(clip: Clip, fps: float) -> Clip:
    """Resample to `fps` over the same time span: slerp rotations, lerp the root translation."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) or not np.isfinite(fps) or fps <= 0:
        raise RigError(f"fps must be a positive number such as {', '.join(map(str, STANDARD_FPS))}, got {fps!r}")
    if fps == clip.fps:
        return clip
    n = clip.num_frames
    count = int(np.floor((n - 1) * fps / clip.fps + 1e-9)) + 1
    src = np.arange(count) * (clip.fps / fps)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    t = (src - i0)[:, None]
    rot = quat.slerp(clip.rotations[i0], clip.rotations[i1], t[:, :, None])
    root = clip.root_translation[i0] * (1 - t) + clip.root_translation[i1] * t
    meta = dict(clip.metadata)
    meta["resampled_from_fps"] = float(clip.fps)
    return clip.replace(rotations=rot, root_translation=root, fps=float(fps), metadata=meta)
