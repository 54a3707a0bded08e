"""The canonical humanoid bone set that every rig description maps onto.

Names follow Unity's humanoid avatar in snake_case (widely known, side-prefixed). The tree
below is the *canonical* hierarchy: a rig may put extra bones between two canonical bones
(twist bones, a second pelvis, metacarpals), which retargeting handles by keeping them rigid.
"""

from __future__ import annotations

SIDES = ("left", "right")
FINGERS = ("thumb", "index", "middle", "ring", "little")
PHALANGES = ("proximal", "intermediate", "distal")

_SPINE = ("hips", "spine", "chest", "upper_chest", "neck", "head")

# canonical bone -> canonical parent (None for the hips)
CANONICAL_PARENTS: dict[str, str | None] = {
    "hips": None,
    "spine": "hips",
    "chest": "spine",
    "upper_chest": "chest",
    "neck": "upper_chest",
    "head": "neck",
    "jaw": "head",
    "left_eye": "head",
    "right_eye": "head",
}
for _s in SIDES:
    CANONICAL_PARENTS.update(
        {
            f"{_s}_shoulder": "upper_chest",
            f"{_s}_upper_arm": f"{_s}_shoulder",
            f"{_s}_lower_arm": f"{_s}_upper_arm",
            f"{_s}_hand": f"{_s}_lower_arm",
            f"{_s}_upper_leg": "hips",
            f"{_s}_lower_leg": f"{_s}_upper_leg",
            f"{_s}_foot": f"{_s}_lower_leg",
            f"{_s}_toes": f"{_s}_foot",
            f"{_s}_upper_arm_twist": f"{_s}_upper_arm",
            f"{_s}_lower_arm_twist": f"{_s}_lower_arm",
            f"{_s}_upper_leg_twist": f"{_s}_upper_leg",
            f"{_s}_lower_leg_twist": f"{_s}_lower_leg",
        }
    )
    for _f in FINGERS:
        _parent = f"{_s}_hand"
        for _p in PHALANGES:
            CANONICAL_PARENTS[f"{_s}_{_f}_{_p}"] = _parent
            _parent = f"{_s}_{_f}_{_p}"

CANONICAL_BONES: tuple[str, ...] = tuple(CANONICAL_PARENTS)

REQUIRED: tuple[str, ...] = (
    "hips", "spine", "head",
    *(f"{s}_{b}" for s in SIDES for b in ("upper_arm", "lower_arm", "hand", "upper_leg", "lower_leg", "foot")),
)
TWIST = tuple(b for b in CANONICAL_BONES if b.endswith("_twist"))
FINGER_BONES = tuple(f"{s}_{f}_{p}" for s in SIDES for f in FINGERS for p in PHALANGES)

# Which bone's position a bone points at (first one mapped on both sides wins). A bone
# without any (head, toes, fingertips, twist) takes its canonical parent's rest alignment.
POINTS_AT: dict[str, tuple[str, ...]] = {
    "hips": ("spine", "chest", "upper_chest", "neck"),
    "spine": ("chest", "upper_chest", "neck"),
    "chest": ("upper_chest", "neck"),
    "upper_chest": ("neck",),
    "neck": ("head",),
}
for _s in SIDES:
    POINTS_AT.update(
        {
            f"{_s}_shoulder": (f"{_s}_upper_arm",),
            f"{_s}_upper_arm": (f"{_s}_lower_arm",),
            f"{_s}_lower_arm": (f"{_s}_hand",),
            f"{_s}_hand": tuple(f"{_s}_{f}_proximal" for f in ("middle", "ring", "index", "little")),
            f"{_s}_upper_leg": (f"{_s}_lower_leg",),
            f"{_s}_lower_leg": (f"{_s}_foot",),
            f"{_s}_foot": (f"{_s}_toes",),
        }
    )
    for _f in FINGERS:
        POINTS_AT[f"{_s}_{_f}_proximal"] = (f"{_s}_{_f}_intermediate",)
        POINTS_AT[f"{_s}_{_f}_intermediate"] = (f"{_s}_{_f}_distal",)

# Bones whose world direction error the metrics report.
LIMBS: tuple[str, ...] = tuple(
    f"{s}_{b}" for s in SIDES for b in ("shoulder", "upper_arm", "lower_arm", "hand", "upper_leg", "lower_leg", "foot")
) + ("spine", "chest", "upper_chest", "neck")


def check_canonical(names) -> None:
    from .skeleton import RigError

    unknown = sorted(set(names) - set(CANONICAL_BONES))
    if unknown:
        raise RigError(
            f"unknown canonical bone names {unknown[:8]}{' and more' if len(unknown) > 8 else ''}; "
            "use names such as hips, spine, chest, neck, head, "
            "left_upper_arm, left_lower_leg, left_index_proximal (see rigs/README.md)"
        )


def canonical_ancestor(bone: str, mapped) -> str | None:
    """Nearest canonical ancestor of `bone` that is in `mapped` (upper_chest may be absent)."""
    parent = CANONICAL_PARENTS[bone]
    while parent is not None and parent not in mapped:
        parent = CANONICAL_PARENTS[parent]
    return parent
