"""Find which preset a skeleton follows, from its bone names and hierarchy.

Each preset is bound to the skeleton (its namespace or prefix found from the hips/head
names); bones whose hierarchy contradicts the canonical tree are dropped; the preset whose
family explains most of the skeleton's names wins; a family's own namespace (`mixamorig:`,
`Character1_`, `Bip01 `) found on the bones counts as evidence too, so a sparse Mixamo rig is
not taken for HumanIK, whose bone names are the same. A biped check on the rest pose then
refuses skeletons that merely share names (a quadruped with `upperarm_l` front legs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .canonical import REQUIRED, canonical_ancestor
from .description import RigDescription, preset, preset_names
from .skeleton import RigError, Skeleton

MAX_SPINE_TILT_DEG = 50.0  # hips->head angle from the up axis beyond which we refuse
# Share of the remaining doubt that a family's own namespace removes. Mixamo and HumanIK
# share their body bone names, so without this a Mixamo rig with only its body bones
# scores exactly like HumanIK (which inferred the `mixamorig:` prefix from the hips) and the
# first in alphabetical order won.
OWN_NAMESPACE_WEIGHT = 0.5


@dataclass(frozen=True)
class Detection:
    preset: str
    mapping: RigDescription  # bound to the skeleton
    confidence: float  # 0..1: share of the skeleton's and the family's names that agree
    mapped: tuple[str, ...]  # canonical bones found
    unmapped_required: tuple[str, ...]


def _ancestors(skeleton: Skeleton, j: int) -> set[int]:
    out = set()
    p = int(skeleton.parents[j])
    while p >= 0:
        out.add(p)
        p = int(skeleton.parents[p])
    return out


def consistent(desc: RigDescription) -> RigDescription:
    """Drop mapped bones that do not descend from their canonical parent's bone."""
    skel = desc.skeleton
    assert skel is not None
    keep: dict[str, str] = {}
    for c in desc.mapped:
        anc = canonical_ancestor(c, keep)
        j = skel.index(desc.bones[c])
        if anc is None or skel.index(keep[anc]) in _ancestors(skel, j):
            keep[c] = desc.bones[c]
    return dataclasses.replace(desc, bones=keep)


def score(desc: RigDescription) -> float:
    skel = desc.skeleton
    assert skel is not None
    lower = {n.lower() for n in skel.names}
    family = {n.lower() for n in desc.bones.values()} | {(desc.prefix + n).lower() for n in desc.extra}
    hits = len(family & lower)
    if not hits:
        return 0.0
    precision, recall = hits / len(lower), hits / len(family)
    f1 = 2 * precision * recall / (precision + recall)
    covered = 1.0 - len(desc.unmapped_required) / len(REQUIRED)
    names_score = f1 * covered
    if has_own_namespace(desc):
        names_score += (1.0 - names_score) * OWN_NAMESPACE_WEIGHT
    return float(names_score)


def has_own_namespace(desc: RigDescription) -> bool:
    """The bound prefix ends in one the family is published with (`mixamorig:`, also under a
    referencing namespace: `Hero:mixamorig:`), rather than being merely inferred from the
    skeleton's hips/head names, which any family sharing those names can do."""
    found = desc.prefix.lower()
    for own in (p.lower() for p in desc.prefixes if p):
        if found == own or found.endswith((":" + own, "|" + own)):
            return True
    return False


def detect_rig(skeleton: Skeleton, presets: Iterable[str] | None = None) -> Detection:
    best: tuple[float, RigDescription] | None = None
    for name in presets or preset_names():
        bound = consistent(preset(name).bind(skeleton))
        s = score(bound)
        if best is None or s > best[0]:
            best = (s, bound)
    assert best is not None
    conf, desc = best
    if desc.unmapped_required:
        raise RigError(
            f"cannot map this skeleton as a humanoid: no bones for {', '.join(desc.unmapped_required)} "
            f"(closest preset {desc.name!r}, confidence {conf:.2f}; hips, spine, head, both arms and both legs are needed). "
            "Write a mapping file for the rig and pass it as the rig (see rigs/README.md; "
            "`python -m motionbridge.rigs.template <character file>` starts one)"
        )
    check_biped(desc)
    return Detection(desc.name, desc, round(conf, 4), desc.mapped, desc.unmapped_required)


def check_biped(desc: RigDescription) -> None:
    """Refuse rest poses that do not stand upright on two legs along the skeleton's up axis."""
    skel = desc.skeleton
    assert skel is not None
    idx = desc.indices()
    _, pos = skel.rest_world()
    up = np.eye(3)[{"y": 1, "z": 2}[skel.up_axis]]
    spine = pos[idx["head"]] - pos[idx["hips"]]
    tilt = np.degrees(np.arccos(np.clip(spine @ up / max(np.linalg.norm(spine), 1e-12), -1, 1)))
    hands = min(pos[idx["left_hand"]] @ up, pos[idx["right_hand"]] @ up)
    knees = max(pos[idx["left_lower_leg"]] @ up, pos[idx["right_lower_leg"]] @ up)
    if tilt > MAX_SPINE_TILT_DEG or hands <= knees:
        raise RigError(
            f"skeleton does not stand like a biped along its {skel.up_axis.upper()} axis "
            f"(hips to head {tilt:.0f} deg from up, hands {'below' if hands <= knees else 'above'} the knees): "
            "a quadruped or a rig lying down? MotionBridge retargets humanoids; if this is one, check the file's "
            "up axis or write a mapping file (see rigs/README.md)"
        )
