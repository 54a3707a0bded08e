"""The mapping editor's model, shared by every DCC: which rig bone drives each humanoid
(canonical) bone, how sure detection is of each, and the mapping file it saves.

The file is the one `--rig FILE` takes in `motionbridge generate/convert/batch`
(rigs/README.md): {"name": ..., "bones": {canonical bone: rig bone}}, so a mapping fixed
in a DCC is used unchanged on the command line and the farm.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motionbridge.rigs import RigError, Skeleton
from motionbridge.rigs.canonical import CANONICAL_BONES, REQUIRED
from motionbridge.rigs.description import RigDescription, description_from_dict, preset, preset_names
from motionbridge.rigs.detect import consistent, score

# optional bones worth a row even when detection found nothing for them
SHOWN_OPTIONAL = ("chest", "upper_chest", "neck", "left_shoulder", "right_shoulder", "left_toes", "right_toes")
SURE, NAME_ONLY = 1.0, 0.5  # per-bone confidence: name and hierarchy agree / the name only


@dataclass
class MappingRow:
    canonical: str  # the humanoid bone (rigs/canonical.py)
    bone: str  # the rig's bone driving it, "" when unmapped
    confidence: float  # 1: name and hierarchy agree; 0.5: the name only; 0: unmapped
    required: bool

    @property
    def unmapped(self) -> bool:
        return not self.bone


def closest_mapping(skeleton: Skeleton) -> RigDescription:
    """The preset whose bone names fit `skeleton` best, bound to it (hierarchy-consistent bones only)."""
    bound = [consistent(preset(name).bind(skeleton)) for name in preset_names()]
    return max(bound, key=score)


def rows_for(skeleton: Skeleton, mapping: RigDescription | None = None) -> list[MappingRow]:
    """One row per required or found canonical bone (and a few useful optional ones), from
    the mapping detection chose or, when it found none, the closest preset."""
    if mapping is not None and mapping.skeleton is None:
        mapping = mapping.bind(skeleton)
    found = mapping if mapping is not None else closest_mapping(skeleton)
    trusted = consistent(found).bones
    rows = []
    for canonical in CANONICAL_BONES:
        bone = found.bones.get(canonical, "")
        if not bone and canonical not in REQUIRED and canonical not in SHOWN_OPTIONAL:
            continue
        confidence = 0.0 if not bone else SURE if trusted.get(canonical) == bone else NAME_ONLY
        rows.append(MappingRow(canonical, bone, confidence, canonical in REQUIRED))
    return rows


def set_bone(rows: list[MappingRow], canonical: str, bone: str, rig_bones: Iterable[str]) -> None:
    """The animator's fix of one row ("" unmaps it); a bone used by another row is taken from it."""
    if bone and bone not in set(rig_bones):
        raise ValueError(f"{bone!r} is not a bone of this rig; pick one from the list")
    for row in rows:
        if bone and row.bone == bone and row.canonical != canonical:
            row.bone, row.confidence = "", 0.0
    for row in rows:
        if row.canonical == canonical:
            row.bone, row.confidence = bone, SURE if bone else 0.0
            return
    raise ValueError(f"{canonical!r} is not a humanoid bone of the mapping editor")


def mapping_document(name: str, rows: Iterable[MappingRow]) -> dict[str, Any]:
    """The mapping file's content; ValueError (one line) when it could not drive the rig."""
    rows = list(rows)
    missing = [r.canonical for r in rows if r.required and r.unmapped]
    if missing:
        raise ValueError(f"map {', '.join(missing)} before saving (every required bone needs a rig bone)")
    document = {"name": name, "bones": {r.canonical: r.bone for r in rows if r.bone}}
    try:
        description_from_dict(document)  # what `--rig FILE` will check
    except RigError as exc:
        raise ValueError(str(exc)) from None
    return document


def mapping_text(name: str, rows: Iterable[MappingRow]) -> str:
    return json.dumps(mapping_document(name, rows), indent=2) + "\n"


def mapping_path_beside(scene_file: str, rig: str) -> Path:
    """`<folder of the scene file>/<rig>_mapping.json` (characters a file name forbids replaced)."""
    if not scene_file:
        raise ValueError("save the scene first: the mapping file goes next to it")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", rig).strip("._") or "rig"
    return Path(scene_file).resolve().parent / f"{safe}_mapping.json"
