"""BVH (Biovision hierarchy): one take per file, any single-rooted skeleton, any rotation order.

BVH has no rest rotations: a joint's world transform is parent * offset * channels. Our clips
hold full local rotations, so the channels are exactly those rotations and the offsets are the
rest translations; the animation is reproduced exactly (the BVH "zero pose" then differs from
our rest pose only for rigs whose rest rotations are not identity). The root's OFFSET is zero
and its position channels carry the absolute root translation.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from motionbridge.rigs import Clip
from motionbridge.rigs.euler import ORDERS, euler_degrees

from .atomic import atomic_path
from .prepare import check_option, prepare


def build(clip: Clip, name: str, order: str = "ZXY", up: str = "y", units: str = "cm") -> tuple[str, list[str]]:
    check_option("rotation order", order, ORDERS)
    check_option("up", up, ("y", "z"))
    check_option("units", units, ("m", "cm"))
    prep = prepare([clip], [name], "bvh", up=up, units=units)
    clip = prep.clips[0]
    skel = clip.skeleton
    roots = [j for j in range(skel.num_joints) if skel.parents[j] < 0]
    if roots != [0]:
        raise ValueError(f"BVH needs one root joint (index 0); this skeleton has roots {[skel.names[r] for r in roots]}")
    rot_channels = " ".join(f"{a}rotation" for a in order)
    out = io.StringIO()
    out.write("HIERARCHY\n")

    def joint(j: int, depth: int) -> None:
        pad = "\t" * depth
        kind = "ROOT" if j == 0 else "JOINT"
        offset = np.zeros(3) if j == 0 else skel.rest_translations[j]
        out.write(f"{pad}{kind} {prep.joint_names[j]}\n{pad}{{\n")
        out.write(f"{pad}\tOFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}\n")
        if j == 0:
            out.write(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot_channels}\n")
        else:
            out.write(f"{pad}\tCHANNELS 3 {rot_channels}\n")
        children = skel.children(j)
        for c in children:
            joint(c, depth + 1)
        if not children:
            out.write(f"{pad}\tEnd Site\n{pad}\t{{\n{pad}\t\tOFFSET 0.000000 0.000000 0.000000\n{pad}\t}}\n")
        out.write(f"{pad}}}\n")

    joint(0, 0)
    # Channel data follows the depth-first order in which joints were written.
    visit: list[int] = []
    stack = [0]
    while stack:
        j = stack.pop()
        visit.append(j)
        stack.extend(reversed(skel.children(j)))
    # a channel list reads as the matrix product (ZXY: R = Rz Rx Ry), the reverse of a rotate order
    angles = euler_degrees(clip.rotations[:, visit], order[::-1])[..., ["XYZ".index(a) for a in order]]  # (F, J, 3)
    rows = np.concatenate([clip.root_translation, angles.reshape(clip.num_frames, -1)], axis=1)
    out.write(f"MOTION\nFrames: {clip.num_frames}\nFrame Time: {1.0 / clip.fps:.12f}\n")
    np.savetxt(out, rows, fmt="%.6f", delimiter=" ")
    return out.getvalue(), prep.warnings


def write(path: Path, takes: Sequence[Clip], names: Sequence[str], **options: Any) -> list[str]:
    """Registry entry point; options: rotation_order (default ZXY), up (y), units (cm)."""
    unknown = set(options) - {"rotation_order", "up", "units"}
    if unknown:
        raise ValueError(f"unknown BVH options {sorted(unknown)}; use rotation_order, up, units")
    if len(takes) != 1:
        raise ValueError(f"a BVH file holds one take, got {len(takes)}; write one file per take (--takes-per-file 1)")
    text, warnings = build(
        takes[0], names[0],
        order=options.get("rotation_order") or "ZXY", up=options.get("up") or "y", units=options.get("units") or "cm",
    )
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return warnings
