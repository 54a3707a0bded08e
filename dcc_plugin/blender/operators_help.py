"""Operators that help the animator act on what the panel says: the error's details and
dismissal, the armature choice, and the mapping editor."""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from . import mapping_ui, session

DETAILS_WIDTH = 80


def wrapped(text: str, width: int = DETAILS_WIDTH) -> list[str]:
    import textwrap

    return [line for para in text.splitlines() for line in (textwrap.wrap(para, width) or [""])]


class MOTIONBRIDGE_OT_error_details(bpy.types.Operator):
    bl_idname = "motionbridge.error_details"
    bl_label = "Error Details"
    bl_description = "Show the whole message and what to do"

    def invoke(self, context, event):
        message = session.panel().error

        def draw(menu, _context):
            for line in wrapped(message):
                menu.layout.label(text=line)

        context.window_manager.popup_menu(draw, title="MotionBridge", icon="ERROR")
        return {"FINISHED"}

    def execute(self, context):  # from a script: the message goes to the info log
        self.report({"INFO"}, session.panel().error or "no error")
        return {"FINISHED"}


class MOTIONBRIDGE_OT_error_dismiss(bpy.types.Operator):
    bl_idname = "motionbridge.error_dismiss"
    bl_label = "Dismiss"
    bl_description = "Hide this message"

    def execute(self, context):
        session.panel().clear_error()
        return {"FINISHED"}


class MOTIONBRIDGE_OT_use_selection(bpy.types.Operator):
    bl_idname = "motionbridge.use_selection"
    bl_label = "Use Selection"
    bl_description = "Make the selected armature the one Generate animates"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        chosen = session.selected_armature(context)
        if chosen is None:
            self.report({"ERROR"}, "no armature selected; click the character's armature or its mesh")
            return {"CANCELLED"}
        context.scene.motionbridge.target = chosen
        return {"FINISHED"}


class MOTIONBRIDGE_OT_mapping_open(bpy.types.Operator):
    bl_idname = "motionbridge.mapping_open"
    bl_label = "Map Bones"
    bl_description = "Show which bone of the armature drives each humanoid bone, and fix them"
    rig: StringProperty(name="Armature")

    def execute(self, context):
        panel = session.panel()
        rig = self.rig or panel.error_rig or session.target_for(context, follow=False) or ""
        if rig not in panel.host.list_rigs():
            self.report({"ERROR"}, "no armature to map; select the character's armature")
            return {"CANCELLED"}
        mapping = panel.target.mapping if panel.target is not None and panel.target.rig == rig else None
        mapping_ui.open_editor(context.scene.motionbridge, rig, panel.host.read_rig(rig), mapping)
        return {"FINISHED"}


class MOTIONBRIDGE_OT_mapping_save(bpy.types.Operator):
    bl_idname = "motionbridge.mapping_save"
    bl_label = "Save Mapping"
    bl_description = "Save the mapping next to the .blend and use it for this armature (the command line and batch take the same file)"
    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})

    def execute(self, context):
        props = context.scene.motionbridge
        try:
            path = mapping_ui.save(props, bpy.data.filepath, bpy.path.abspath(self.filepath) if self.filepath else "")
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        props.preset = str(path)  # Detect and Generate use it from now on
        session.panel().clear_error("mapping")
        self.report({"INFO"}, f"saved {path}")
        return {"FINISHED"}


class MOTIONBRIDGE_OT_mapping_close(bpy.types.Operator):
    bl_idname = "motionbridge.mapping_close"
    bl_label = "Close"
    bl_description = "Close the mapping editor without saving"

    def execute(self, context):
        mapping_ui.close_editor(context.scene.motionbridge)
        return {"FINISHED"}


CLASSES = (MOTIONBRIDGE_OT_error_details, MOTIONBRIDGE_OT_error_dismiss, MOTIONBRIDGE_OT_use_selection,
           MOTIONBRIDGE_OT_mapping_open, MOTIONBRIDGE_OT_mapping_save, MOTIONBRIDGE_OT_mapping_close)
