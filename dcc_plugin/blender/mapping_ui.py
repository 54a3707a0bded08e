"""The mapping editor in Blender: core.mapping_editor's rows as scene properties (a table
in the panel, one bone dropdown per row) and the mapping file saved next to the .blend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from motionbridge.dcc_plugin.core import mapping_editor
from motionbridge.rigs import Skeleton


def open_editor(props: Any, rig: str, skeleton: Skeleton, mapping: Any = None) -> None:
    """Fill the table for `rig` from detection's mapping (or the closest preset's)."""
    props.mapping_rows.clear()
    for row in mapping_editor.rows_for(skeleton, mapping):
        item = props.mapping_rows.add()
        item.canonical, item.required = row.canonical, row.required
        item.bone = row.bone
        item.confidence = row.confidence  # after .bone: its update marks the animator's choices
    props.mapping_rig = rig
    props.mapping_index = 0


def close_editor(props: Any) -> None:
    props.mapping_rows.clear()
    props.mapping_rig = ""


def rows_of(props: Any) -> list[mapping_editor.MappingRow]:
    return [mapping_editor.MappingRow(r.canonical, r.bone.strip(), r.confidence, r.required) for r in props.mapping_rows]


def save(props: Any, blend_file: str, path: str = "") -> Path:
    """Write the mapping file (atomically) next to the .blend, or to `path`; ValueError
    (one line) when the mapping could not drive the rig or the scene is not saved yet."""
    from motionbridge.exporters.atomic import atomic_path

    target = Path(path) if path else mapping_editor.mapping_path_beside(blend_file, props.mapping_rig)
    text = mapping_editor.mapping_text(props.mapping_rig, rows_of(props))
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target
