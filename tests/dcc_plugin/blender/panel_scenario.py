"""Run inside bpy by test_blender_panel.py: the panel's target, error line, mapping editor
and takes list, driven through the extension's operators (no daemon needed for these).

argv: OUT_DIR
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenario_report import run_and_report
from scene_builders import MIXAMO, RIGIFY, build_armature

import motionbridge.dcc_plugin.blender as extension
from motionbridge.dcc_plugin.blender import operators, session
from motionbridge.dcc_plugin.core import targeting
from motionbridge.rigs import synthetic

OUT = Path(sys.argv[1])
report: dict = {}


def op(fn, **kwargs):
    try:
        return str(fn(**kwargs))
    except RuntimeError as exc:  # the operator reported an error
        return "ERROR " + str(exc).strip().removeprefix("Error: ")


def select(obj):
    bpy.ops.object.select_all(action="DESELECT")
    bpy.context.view_layer.objects.active = obj
    if obj is not None:
        obj.select_set(True)


def settle():
    panel = session.panel()
    end = time.monotonic() + 60
    while panel.scene_jobs.pending and time.monotonic() < end:
        panel.host.drain()
        time.sleep(0.01)
    panel.host.drain()


def detect():
    op(bpy.ops.motionbridge.detect)
    settle()
    return bpy.context.scene.motionbridge.detected


def add_take(rig, name):
    host = session.panel().host
    target = targeting.resolve_target(rig, host.read_rig(rig))
    clip, _ = targeting.to_target(synthetic.walking(1.0), target)
    host.apply_take(rig, clip, name, {"prompt": f"{name} prompt", "seed": len(name)})
    session.sync_takes()


def takes_state():
    props = bpy.context.scene.motionbridge
    return {"order": [t.name for t in props.takes], "highlighted": props.takes[props.takes_index].name,
            "playing": sorted(t.name for t in props.takes if t.playing), "rigs": [t.rig for t in props.takes]}


def main():
    extension.register()
    props = bpy.context.scene.motionbridge
    mixamo = build_armature("MixamoHero", MIXAMO, prefix="mixamorig:")
    rigify = build_armature("RigifyHero", RIGIFY)
    studio = build_armature("StudioHero", {**MIXAMO, "pelvis": "Root_Pelvis_JNT", "spine1": "Torso_A", "spine2": "Torso_B"})
    bpy.ops.wm.save_as_mainfile(filepath=str(OUT / "shot.blend"))
    panel = session.panel()

    # target follows the selection; the panel says which armature Generate animates
    select(None)
    props.target = None
    report["no_target"] = op(bpy.ops.motionbridge.detect)
    report["no_target_cause"] = panel.error_cause
    select(mixamo)
    report["detect_mixamo"] = detect()
    report["target_after_mixamo"] = props.target.name
    report["error_after_choosing"] = panel.error
    select(rigify)
    report["detect_rigify"] = detect()
    props.follow_selection = False
    select(mixamo)
    report["animates_not_following"] = session.target_for(bpy.context, follow=False)
    report["selection_differs"] = session.selection_differs(bpy.context)
    report["detect_not_following"] = detect()
    op(bpy.ops.motionbridge.use_selection)
    report["after_use_selection"] = props.target.name
    props.follow_selection = True

    # an unmappable rig: one short line, details kept, the mapping editor opens on it
    select(studio)
    detect()
    report["error_summary"] = panel.error_summary
    report["error_cause"] = panel.error_cause
    report["error_full"] = panel.error
    report["editor_rig"] = props.mapping_rig
    report["editor_rows"] = {r.canonical: [r.bone, r.confidence, r.required] for r in props.mapping_rows}
    report["save_unfixed"] = op(bpy.ops.motionbridge.mapping_save)
    for row in props.mapping_rows:  # the animator fixes rows from the bone dropdown
        row.bone = {"hips": "Root_Pelvis_JNT", "spine": "Torso_A", "chest": "Torso_B"}.get(row.canonical, row.bone)
    report["fixed_confidence"] = next(r.confidence for r in props.mapping_rows if r.canonical == "hips")
    report["save_fixed"] = op(bpy.ops.motionbridge.mapping_save)
    report["mapping_file"] = props.preset
    report["error_after_save"] = panel.error
    report["detect_with_mapping"] = detect()
    op(bpy.ops.motionbridge.mapping_close)
    report["editor_closed"] = len(props.mapping_rows)

    # dismissing an error
    select(None)
    props.target = None
    op(bpy.ops.motionbridge.detect)
    report["dismiss_before"] = bool(panel.error)
    op(bpy.ops.motionbridge.error_dismiss)
    report["dismiss_after"] = panel.error

    # takes: stable order, the highlight stays, a new take does not steal audition
    add_take("RigifyHero", "rig_walk")
    report["takes_1"] = takes_state()
    add_take("MixamoHero", "walk_b")  # its armature sorts first: a re-sort would move it up
    report["takes_2"] = takes_state()
    add_take("MixamoHero", "walk_a")
    op(bpy.ops.motionbridge.take_audition, take="walk_a")
    session.sync_takes()
    props.takes_index = [t.name for t in props.takes].index("walk_b")
    add_take("MixamoHero", "walk_0")
    report["takes_3"] = takes_state()
    report["tooltip"] = operators.MOTIONBRIDGE_OT_take_audition.description(bpy.context, type("P", (), {"take": "walk_a"})())
    for t in props.takes:
        t.selected = t.name == "walk_0"
    report["export_suggestion"] = operators.suggested_export_path(props, bpy.data.filepath)
    extension.unregister()


run_and_report(main, report, OUT)
