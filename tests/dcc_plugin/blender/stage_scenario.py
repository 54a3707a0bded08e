"""Run inside bpy by test_blender_stage.py: Generate against a daemon whose model is still
loading; the panel's status area (ui._draw_status, recorded) shows the bar and a line saying
the daemon loads its model; once the load is done the take is written and the line is gone.

argv: ENDPOINT STUCK_FILE OUT_DIR (the daemon's load waits while STUCK_FILE exists)
"""

from __future__ import annotations

import sys
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenario_report import pump, run_and_report
from scene_builders import MIXAMO, build_armature

import motionbridge.dcc_plugin.blender as extension
from motionbridge.dcc_plugin.blender import session, ui
from motionbridge.dcc_plugin.core.panel import State

ENDPOINT, STUCK, OUT = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
report: dict = {}
ICONS = set(bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys())


class Layout:
    """Records the status area's widgets; an icon Blender does not have fails as in the UI."""

    def __init__(self, drawn: list) -> None:
        self.drawn = drawn

    def progress(self, factor=0.0, type="BAR", text=""):
        self.drawn.append(["progress", round(float(factor), 3), text])

    def label(self, text="", icon="NONE"):
        if icon not in ICONS:
            raise ValueError(f"Blender has no icon {icon!r}")
        self.drawn.append(["label", text, icon])


def drawn() -> list:
    panel, out = session.panel(), []
    ui._draw_status(Layout(out), panel, panel.state in (State.GENERATING, State.PREVIEW))
    return out


def main():
    extension.register()
    props = bpy.context.scene.motionbridge
    props.target = build_armature("MixamoHero", MIXAMO, prefix="mixamorig:")
    props.variations, props.duration_s, props.preview_every = 1, 1.0, 0
    bpy.context.window_manager.motionbridge.endpoint = ENDPOINT
    panel = session.panel()
    bpy.ops.motionbridge.connect()
    pump(lambda: panel.state in (State.CONNECTED, State.ERROR))
    report["connected"] = panel.state.value
    report["generate"] = str(bpy.ops.motionbridge.generate())
    pump(lambda: panel.stage != "" or panel.state is State.ERROR)
    report["waiting"] = {"state": panel.state.value, "stage": panel.stage, "status": panel.status, "drawn": drawn()}
    STUCK.unlink()  # the model finishes loading
    pump(lambda: panel.state in (State.TAKE_WRITTEN, State.ERROR))
    report["done"] = {"state": panel.state.value, "stage": panel.stage, "status": panel.status, "drawn": drawn()}
    extension.unregister()


run_and_report(main, report, OUT)
