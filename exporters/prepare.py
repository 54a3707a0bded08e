"""What every writer does before formatting: check takes, sanitise names, pick axes and units.

Writers call `prepare(takes, names, naming=..., up=..., units=...)` and get `Prepared`, whose
clips are already in the requested frame (up axis and unit) and whose joint and take names are
legal for the format. Every rename is reported in `Prepared.warnings`, so the caller can show
the user what changed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from motionbridge.rigs import Clip, Skeleton, convert_handedness, quat
from motionbridge.rigs.skeleton import UNITS, UP_AXES

from .atomic import ExportError

# Per format: characters that must be replaced, and whether a leading digit is forbidden.
NAMING: dict[str, tuple[re.Pattern[str], bool]] = {
    # FBX stores "name\x00\x01class"; control characters would corrupt that. ':' stays: it is
    # the namespace separator Mixamo ("mixamorig:Hips") and MotionBuilder rely on.
    "fbx": (re.compile(r"[\x00-\x1f\x7f]"), False),
    "bvh": (re.compile(r"[\s{}\x00-\x1f\x7f]"), False),  # the parser splits on whitespace and braces
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

    def legal(name: str) -> str:
        new = bad.sub("_", name) or "_"
        return "_" + new if no_leading_digit and new[0].isdigit() else new

    names = [str(n) for n in names]
    # Names that are already legal keep their spelling; only the renamed ones move aside.
    taken = {n for n in names if legal(n) == n}
    out: list[str] = []
    notes: list[str] = []
    used: set[str] = set()
    for name in names:
        new = legal(name)
        if new != name or new in used:
            base, k = new, 2
            while new in taken or new in used:
                new, k = f"{base}_{k}", k + 1
            notes.append(f"{naming}: renamed {what} {name!r} -> {new!r}")
        used.add(new)
        out.append(new)
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
        and (a.up_axis, a.units, a.handedness) == (b.up_axis, b.units, b.handedness)
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

    skel = dataclasses.replace(s, rest_translations=turn_v(s.rest_translations), rest_rotations=turn_q(s.rest_rotations),
                               up_axis=up, units=units)
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
    notes: list[str] = []
    if getattr(first, "handedness", "right") == "left":
        # Every format we write is right-handed; mirroring X keeps the motion's meaning.
        takes = [convert_handedness(c, "right") for c in takes]
        notes.append("left-handed rig mirrored in X to the right-handed coordinates every format uses")
    clips = [to_frame(c, up, units) for c in takes]
    joint_names, joint_notes = sanitize_names(first.names, naming, "joint")
    take_names, take_notes = sanitize_names(names, naming, "take")
    return Prepared(clips, take_names, joint_names, notes + joint_notes + take_notes)


def check_option(name: str, value: object, allowed: Sequence[object]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, not {value!r}")
