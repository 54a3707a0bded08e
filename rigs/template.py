"""Write a mapping-file template for a character detection cannot map on its own.

    python -m motionbridge.rigs.template character.fbx > character_mapping.json

The template starts from the closest preset: bones it found are filled in, the rest are
"?" for the user to replace with the rig's bone names (or delete, for optional bones).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .canonical import CANONICAL_BONES, REQUIRED
from .description import preset, preset_names
from .detect import consistent, score
from .io import read_skeleton
from .skeleton import Skeleton

UNKNOWN = "?"


USEFUL = ("chest", "upper_chest", "neck", "left_shoulder", "right_shoulder", "left_toes", "right_toes")


def mapping_template(skeleton: Skeleton, name: str = "my_rig", skeleton_file: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """A mapping-file dict (the closest preset's bones found on `skeleton`, "?" for the
    required and main optional bones it lacks) and the rig bones it left unused."""
    bound = (consistent(preset(p).bind(skeleton)) for p in preset_names())
    ranked = sorted(((score(b), i, b) for i, b in enumerate(bound)), key=lambda t: t[:2])
    closest = ranked[-1][2]
    wanted = [c for c in CANONICAL_BONES if c in closest.bones or c in REQUIRED or c in USEFUL]
    template: dict[str, Any] = {
        "name": name,
        "notes": f"closest preset: {closest.name}; replace every \"{UNKNOWN}\" with the rig's bone name or delete the line "
        "(only hips, spine, head and both arms and legs are required)",
    }
    if skeleton_file:
        template["skeleton"] = skeleton_file
    template["bones"] = {c: closest.bones.get(c, UNKNOWN) for c in wanted}
    return template, sorted(set(skeleton.names) - set(closest.bones.values()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a rig mapping template for a character file (JSON).")
    parser.add_argument("character", help=".fbx, .glb, .gltf or .bvh")
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)
    path = Path(args.character)
    template, unused = mapping_template(read_skeleton(path), args.name or path.stem, path.name)
    print(json.dumps(template, indent=2))
    print(f"rig bones no canonical bone uses yet: {', '.join(unused) or 'none'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
