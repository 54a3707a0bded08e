"""F-curves of a take's Action on every supported Blender (4.2 LTS to the current release).

Blender 4.4 made Actions layered: keys live in a channelbag of a keyframe strip, for one
slot (the animated ID), and 5.0 removed the old `action.fcurves`. Blender 4.2 and 4.3 have
only `action.fcurves` (their layered Actions are an experimental option, off by default).
Both paths give the same keys; which one runs depends on the Blender, not on a setting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import bpy

LAYERED = "slots" in bpy.types.Action.bl_rna.properties  # Blender 4.4+

# new_curve(data_path, index, group_name) -> FCurve
CurveMaker = Callable[[str, int, str], Any]


def open_channels(action: bpy.types.Action, obj: bpy.types.Object, layer_name: str) -> tuple[CurveMaker, Any]:
    """A function making F-curves in `action` for `obj`, and the slot they are keyed for
    (None before 4.4, where an Action has no slots)."""
    if not LAYERED:
        def legacy_curve(data_path: str, index: int, group: str) -> Any:
            return action.fcurves.new(data_path, index=index, action_group=group)

        return legacy_curve, None
    slot = action.slots.new(id_type="OBJECT", name=obj.name)
    bag = action.layers.new(layer_name).strips.new(type="KEYFRAME").channelbag(slot, ensure=True)
    groups: dict[str, Any] = {}

    def layered_curve(data_path: str, index: int, group: str) -> Any:
        fc = bag.fcurves.new(data_path, index=index)
        fc.group = groups[group] if group in groups else groups.setdefault(group, bag.groups.new(group))
        return fc

    return layered_curve, slot


def bind_strip(strip: bpy.types.NlaStrip, slot: Any) -> None:
    """Make the NLA strip play the take's slot (4.4+; nothing to do before)."""
    if slot is not None and strip.action_slot != slot:
        strip.action_slot = slot


def strip_fcurves(strip: bpy.types.NlaStrip) -> Iterable[Any]:
    """The F-curves an NLA strip's Action holds for the strip's object."""
    action = strip.action
    if action is None:
        return ()
    if not LAYERED:
        return action.fcurves
    for layer in action.layers:
        for keys in layer.strips:
            bag = keys.channelbag(strip.action_slot)
            if bag is not None:
                return bag.fcurves
    return ()


def is_single_take_action(action: bpy.types.Action) -> bool:
    """One layer and one slot (4.4+), or any plain Action (4.2, 4.3): what write_take makes."""
    return not LAYERED or (len(action.layers) == 1 and len(action.slots) == 1)


def active_fcurves(obj: bpy.types.Object) -> Iterable[Any]:
    """The F-curves of the object's own active Action (the animator's keys, not a take's NLA
    strip), for its slot on 4.4+."""
    anim = obj.animation_data
    action = anim.action if anim is not None else None
    if action is None:
        return ()
    if not LAYERED:
        return action.fcurves
    slot = anim.action_slot
    if slot is None:
        return ()
    for layer in action.layers:
        for keys in layer.strips:
            bag = keys.channelbag(slot)
            if bag is not None:
                return bag.fcurves
    return ()
