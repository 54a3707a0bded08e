"""Build plausible humanoid rigs for any preset: test characters with real bone names.

The layout is the SMPL-X rest pose moved onto the ground (Y-up, facing +Z, metres), with
per-part proportions, a T- or A-pose, and a bone-local axis convention:
- "identity": every bone's rest orientation is the world frame (SMPL, BVH);
- "y_along_bone": Blender's convention, each bone's +Y points at its child, with a roll;
- "x_along_bone": Maya/Mixamo-style, +X points at the child, with a roll.
Used by the tests and the benchmark; exporters' tests may use it for target characters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import quat
from .canonical import CANONICAL_PARENTS, TWIST
from .description import RigDescription, preset
from .skeleton import Skeleton, skeleton_from_world
from .smplx import smplx_skeleton

BONE_AXES = ("identity", "y_along_bone", "x_along_bone")


@dataclass(frozen=True)
class Proportions:
    scale: float = 1.0  # overall
    legs: float = 1.0
    arms: float = 1.0
    spine: float = 1.0
    shins: float = 1.0  # lower legs only, on top of `legs`


def _group_scale(bone: str, p: Proportions) -> float:
    if bone.endswith(("_upper_leg", "_foot", "_toes")):
        return p.legs
    if bone.endswith("_lower_leg"):
        return p.legs * p.shins
    if "arm" in bone or bone.endswith("_hand") or any(f in bone for f in ("thumb", "index", "middle", "ring", "little")):
        return p.arms
    if bone in ("spine", "chest", "upper_chest", "neck", "head", "jaw", "left_eye", "right_eye") or bone.endswith("_shoulder"):
        return p.spine
    return 1.0


def canonical_layout(proportions: Proportions = Proportions(), pose: str = "T") -> dict[str, np.ndarray]:
    """World rest position of every canonical bone (plus "ground"), Y-up, +Z forward, metres."""
    smplx = preset("smplx").bind(smplx_skeleton())
    _, rest = smplx_skeleton().rest_world()
    src = {c: rest[j] for c, j in smplx.indices().items()}
    floor = min(src["left_toes"][1], src["right_toes"][1]) - 0.03
    out: dict[str, np.ndarray] = {}
    for c, parent in CANONICAL_PARENTS.items():
        if c in TWIST:
            continue
        if parent is None:
            out[c] = (src[c] - np.array([0.0, floor, 0.0])) * np.array([1.0, proportions.legs, 1.0])
        else:
            out[c] = out[parent] + (src[c] - src[parent]) * _group_scale(c, proportions)
    if pose.upper() == "A":
        for side, sign in (("left", -1.0), ("right", 1.0)):
            pivot = out[f"{side}_upper_arm"]
            q = quat.from_axis_angle(np.array([0.0, 0.0, sign * np.radians(45.0)]))
            for c in out:
                if c.startswith(side) and c not in (f"{side}_shoulder", f"{side}_eye") and not c.endswith(("_leg", "_foot", "_toes")):
                    out[c] = pivot + quat.rotate(q, out[c] - pivot)
    elif pose.upper() != "T":
        raise ValueError(f"pose must be 'T' or 'A', not {pose!r}")
    for c in TWIST:
        base = c[: -len("_twist")]
        child = {"upper_arm": "lower_arm", "lower_arm": "hand", "upper_leg": "lower_leg", "lower_leg": "foot"}[base.split("_", 1)[1]]
        out[c] = 0.5 * (out[base] + out[f"{base.split('_', 1)[0]}_{child}"])
    out = {c: v * proportions.scale for c, v in out.items()}
    out["ground"] = np.array([out["hips"][0], 0.0, out["hips"][2]])
    return out


def _topological(names: list[str], parent_of: dict[str, str | None], rng: np.random.Generator | None) -> list[str]:
    order: list[str] = []
    placed: set[str] = set()
    pending = list(names)
    while pending:
        ready = [n for n in pending if parent_of[n] is None or parent_of[n] in placed]
        if not ready:
            raise ValueError(f"bone hierarchy has a cycle among {pending[:5]}")
        if rng is not None:
            ready = [ready[i] for i in rng.permutation(len(ready))]
            ready = ready[: max(1, len(ready) // 2)]
        for n in ready:
            order.append(n)
            placed.add(n)
        pending = [n for n in pending if n not in placed]
    return order


def build_rig(
    desc: RigDescription | str,
    pose: str = "T",
    bone_axes: str = "identity",
    proportions: Proportions = Proportions(),
    up_axis: str = "y",
    units: str = "m",
    prefix: str | None = None,
    scramble_seed: int | None = None,
) -> Skeleton:
    """A skeleton with every bone of the family (mapped and extra) in a plausible rest pose."""
    desc = preset(desc) if isinstance(desc, str) else desc
    if bone_axes not in BONE_AXES:
        raise ValueError(f"bone_axes must be one of {BONE_AXES}")
    layout = canonical_layout(proportions, pose)
    parent_of = desc.hierarchy()
    by_name = {b: c for c, b in desc.bones.items()}
    children: dict[str, list[str]] = {}
    for n, p in parent_of.items():
        if p is not None:
            children.setdefault(p, []).append(n)
    pos: dict[str, np.ndarray] = {}

    def place(n: str) -> np.ndarray:
        if n in pos:
            return pos[n]
        if n in by_name:
            pos[n] = layout[by_name[n]]
            return pos[n]
        at, parent = desc.extra[n].get("at", "same"), parent_of[n]
        pp = place(parent) if parent else layout["ground"]
        if at in layout:
            pos[n] = layout[at]
        elif at == "end":
            grand = parent_of.get(parent) if parent else None
            pos[n] = pp + 0.5 * (pp - place(grand)) if grand else pp + np.array([0, 0.1, 0])
        elif at in ("between", "metacarpal"):
            kids = [k for k in children.get(n, []) if k in by_name or desc.extra[k].get("at") not in ("end",)]
            pos[n] = pp + (0.5 if at == "between" else 0.35) * (place(kids[0]) - pp) if kids else pp
        elif at == "twist":
            assert parent is not None  # a twist bone hangs off its limb
            canon = by_name[parent]
            nxt = {"upper_arm": "lower_arm", "lower_arm": "hand", "upper_leg": "lower_leg", "lower_leg": "foot"}
            side, part = canon.split("_", 1)
            pos[n] = pp + 0.75 * (layout[f"{side}_{nxt[part]}"] - pp)
        else:
            pos[n] = pp
        return pos[n]

    names = list(parent_of)
    for n in names:
        place(n)
    order = _topological(names, parent_of, np.random.default_rng(scramble_seed) if scramble_seed is not None else None)
    parents = [-1 if (p := parent_of[n]) is None else order.index(p) for n in order]
    world = np.array([pos[n] for n in order])
    rots = _bone_rotations(order, parents, world, bone_axes)
    if up_axis == "z":
        to_z = quat.from_axis_angle(np.array([np.pi / 2, 0.0, 0.0]))
        world = quat.rotate(to_z, world)
        rots = quat.multiply(np.broadcast_to(to_z, rots.shape), rots)
    world = world * (100.0 if units == "cm" else 1.0)
    pre = desc.prefixes[0] if prefix is None else prefix
    return skeleton_from_world([pre + n for n in order], parents, world, rots, up_axis, units)


def _bone_rotations(order: list[str], parents: list[int], world: np.ndarray, bone_axes: str) -> np.ndarray:
    n = len(order)
    rots = np.tile(quat.IDENTITY, (n, 1))
    if bone_axes == "identity":
        return rots
    axis = np.array([0.0, 1.0, 0.0]) if bone_axes == "y_along_bone" else np.array([1.0, 0.0, 0.0])
    first_child = {}
    for j, p in enumerate(parents):
        if p >= 0 and p not in first_child and np.linalg.norm(world[j] - world[p]) > 1e-6:
            first_child[p] = j
    for j in range(n):
        if j in first_child:
            d = world[first_child[j]] - world[j]
        elif parents[j] >= 0 and np.linalg.norm(world[j] - world[parents[j]]) > 1e-6:
            d = world[j] - world[parents[j]]
        else:
            d = axis
        roll = quat.from_axis_angle(axis * (0.37 * j))  # arbitrary but fixed roll per bone
        rots[j] = quat.multiply(quat.between(axis, d), roll)
    return quat.normalize(rots)
