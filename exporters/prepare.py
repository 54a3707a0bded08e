"""What every writer does before formatting: check takes, sanitise names, pick axes and units.

Writers call `prepare(takes, names, naming=..., up=..., units=...)` and get `Prepared`, whose
clips are already in the requested frame (up axis and unit) and whose joint and take names are
legal for the format. Every rename is reported in `Prepared.warnings`, so the caller can show
the user what changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from motionbridge.rigs import Clip, Skeleton, quat
from motionbridge.rigs.skeleton import UNITS, UP_AXES

from .atomic import ExportError

# Per format: characters that must be replaced, and whether a leading digit is forbidden.
NAMING: dict[str, tuple[re.Pattern[str], bool]] = {
    "fbx": (re.compile(r"[^A-Za-z0-9_.\-]"), False),  # ':' is a namespace in Maya/MotionBuilder
    "bvh": (re.compile(r"[^A-Za-z0-9_.\-]"), False),  # whitespace and braces break the parser
    "usd": (re.compile(r"[^A-Za-z0-9_]"), True),  # joint paths are SdfPath identifiers
    "gltf": (re.compile(r"[\x00-\x1f\x7f]"), False),  # JSON strings: only control characters
}

# Quarter turns about +X that take one up axis to the other, keeping the character's left on +X.
_Y_TO_Z = quat.from_axis_angle(np.array([np.pi / 2, 0.0, 0.0]))
_AXIS_CHANGE = {("y", "z"): _Y_TO_Z, ("z", "y"): quat.conjugate(_Y_TO_Z)}


def sanitize_names(names: Sequence[str], naming: str, what: str = "joint") -> tuple[list[str], list[str]]:
    """Legal, unique names for `naming`; returns (names, human-readable rename notes)."""
    if naming not in NAMING:
        raise ValueError(f"unknown naming rule {naming!r}; use one of {sorted(NAMING)}")
    bad, no_leading_digit = NAMING[naming]
    out: list[str] = []
    notes: list[str] = []
    taken: set[str] = set()
    for name in names:
        new = bad.sub("_", str(name)) or "_"
        if no_leading_digit and new[0].isdigit():
            new = "_" + new
        base, k = new, 2
        while new in taken:
            new, k = f"{base}_{k}", k + 1
        taken.add(new)
        out.append(new)
        if new != name:
            notes.append(f"{naming}: renamed {what} {name!r} -> {new!r}")
    return out, notes


def check_finite(clip: Clip, name: str) -> None:
    """Clips are validated on construction, but arrays are mutable; refuse NaN at write time too."""
    if not (np.isfinite(clip.rotations).all() and np.isfinite(clip.root_translation).all()):
        raise ValueError(f"take {name!r} has NaN or infinite rotations/translations; fix or drop the take before exporting")
    if clip.num_frames < 1:
        raise ValueError(f"take {name!r} has no frames")


def same_skeleton(a: Skeleton, b: Skeleton) -> bool:
    return (
        a.names == b.names
        and np.array_equal(a.parents, b.parents)
        and np.allclose(a.rest_translations, b.rest_translations, atol=1e-9)
        and np.allclose(a.rest_rotations, b.rest_rotations, atol=1e-9)
        and (a.up_axis, a.units) == (b.up_axis, b.units)
    )


def to_frame(clip: Clip, up: str, units: str) -> Clip:
    """The same motion expressed with `up` as the up axis and `units` as the length unit.

    Axis changes conjugate every rotation (R q R*), so rest rotations that were identity stay
    identity and local joint axes stay aligned with the new world axes.
    """
    if up not in UP_AXES:
        raise ValueError(f"up axis must be one of {UP_AXES}, not {up!r}")
    if units not in UNITS:
        raise ValueError(f"units must be one of {tuple(UNITS)}, not {units!r}")
    s = clip.skeleton
    scale = UNITS[s.units] / UNITS[units]
    r = _AXIS_CHANGE.get((s.up_axis, up))

    def turn_q(q: np.ndarray) -> np.ndarray:
        return q if r is None else quat.normalize(quat.multiply(quat.multiply(r, q), quat.conjugate(r)))

    def turn_v(v: np.ndarray) -> np.ndarray:
        return v * scale if r is None else quat.rotate(np.broadcast_to(r, v.shape[:-1] + (4,)), v) * scale

    skel = Skeleton(s.names, s.parents, turn_v(s.rest_translations), turn_q(s.rest_rotations), up, units)
    return clip.replace(skeleton=skel, rotations=turn_q(clip.rotations), root_translation=turn_v(clip.root_translation))


def convert_points(points: np.ndarray, from_up: str, from_units: str, up: str, units: str) -> np.ndarray:
    """Points (..., 3) from one frame to another (for meshes that ride along with a skeleton)."""
    r = _AXIS_CHANGE.get((from_up, up))
    pts = np.asarray(points, dtype=np.float64) * (UNITS[from_units] / UNITS[units])
    return pts if r is None else quat.rotate(np.broadcast_to(r, pts.shape[:-1] + (4,)), pts)


@dataclass
class Prepared:
    clips: list[Clip]
    take_names: list[str]
    joint_names: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def skeleton(self) -> Skeleton:
        return self.clips[0].skeleton


def prepare(
    takes: Sequence[Clip],
    names: Sequence[str],
    naming: str,
    up: str | None = None,
    units: str | None = None,
) -> Prepared:
    """Validate takes for one file and bring them into the output frame (None keeps the clip's)."""
    if not takes:
        raise ExportError("nothing to write: no takes")
    if len(names) != len(takes):
        raise ValueError(f"{len(takes)} takes but {len(names)} take names")
    first = takes[0].skeleton
    for clip, name in zip(takes, names):
        check_finite(clip, name)
        if not same_skeleton(clip.skeleton, first):
            raise ValueError(f"take {name!r} uses a different skeleton; takes in one file must share one (write them to separate files)")
    up = up or first.up_axis
    units = units or first.units
    clips = [to_frame(c, up, units) for c in takes]
    joint_names, notes = sanitize_names(first.names, naming, "joint")
    take_names, take_notes = sanitize_names(names, naming, "take")
    return Prepared(clips, take_names, joint_names, notes + take_notes)


def check_option(name: str, value: object, allowed: Sequence[object]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, not {value!r}")
