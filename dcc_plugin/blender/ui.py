"""The N-panel (View3D > Sidebar > MotionBridge) and its mapping editor."""

from __future__ import annotations

import bpy

from motionbridge.dcc_plugin.core.errors import summary
from motionbridge.dcc_plugin.core.panel import State

from . import session


class MOTIONBRIDGE_UL_takes(bpy.types.UIList):
    """Take name (hover: full name, armature, seed, prompt; click: audition), armature, seed,
    and a marker on the take that plays."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.prop(item, "selected", text="")
        split = row.split(factor=0.6, align=True)
        op = split.operator("motionbridge.take_audition", text=item.name, icon="PLAY" if item.playing else "ACTION", emboss=False,
                            depress=item.playing)
        op.take = item.name
        split.label(text=item.rig)
        row.label(text=f"s{item.seed}")


class MOTIONBRIDGE_UL_mapping(bpy.types.UIList):
    """Humanoid bone, the armature's bone driving it (a dropdown of its bones), confidence;
    unmapped bones are drawn in red (required) or grey (optional)."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        armature = bpy.data.objects.get(data.mapping_rig)
        row = layout.row(align=True)
        row.alert = not item.bone and item.required
        split = row.split(factor=0.38, align=True)
        split.label(text=item.canonical.replace("_", " "))
        if armature is not None and armature.type == "ARMATURE":
            split.prop_search(item, "bone", armature.data, "bones", text="")
        else:
            split.prop(item, "bone", text="")
        row.label(text=f"{item.confidence:.0%}" if item.bone else ("needed" if item.required else "-"))


def _draw_error(layout, panel) -> None:
    box = layout.box()
    row = box.row(align=True)
    row.alert = True
    row.label(text=panel.error_summary, icon="ERROR")
    row.operator("motionbridge.error_details", text="", icon="INFO")
    row.operator("motionbridge.error_dismiss", text="", icon="X")
    if panel.error_cause == "mapping":
        box.operator("motionbridge.mapping_open", text="Map Bones...", icon="BONE_DATA")


def _draw_assistant(col, props, user) -> None:
    """The prompt assistant's toggles; when one is on, its address, Rewrite, and the
    rewritten prompt Generate sends (editable)."""
    row = col.row(align=True)
    row.prop(props, "assist_rewrite", toggle=True)
    row.prop(props, "assist_duration", toggle=True)
    if not (props.assist_rewrite or props.assist_duration):
        return
    pending = session.assistant().pending
    row = col.row(align=True)
    row.prop(user, "prompter_url", text="")
    sub = row.row(align=True)
    sub.enabled = not pending
    sub.operator("motionbridge.prompt_rewrite", text="Rewriting..." if pending else "Rewrite", icon="FILE_REFRESH")
    if props.assist_rewrite:
        col.prop(props, "rewritten_prompt", text="")


def _draw_status(layout, panel, running: bool) -> None:
    """The progress bar while a request runs, with a line under it saying why it waits or runs
    slower (queued, the daemon loading its model, a length compiling); else the last status."""
    if running:  # the bar shows progress only, never an error
        layout.progress(factor=panel.progress, type="BAR", text=panel.status[:60])
        if panel.stage:
            layout.label(text=summary(panel.stage[:1].upper() + panel.stage[1:]), icon="TIME")
    elif panel.status and not panel.error:
        layout.label(text=summary(panel.status))


def _draw_directing(layout, props, connected: bool) -> None:
    """Directed takes: the options of Generate (Loop, Follow curve) and the rows that read the
    scene (the pose at the playhead, the keys around it, the highlighted take, the preview range)."""
    box = layout.box()
    box.enabled = connected
    row = box.row(align=True)
    row.prop(props, "loop", toggle=True, icon="FILE_REFRESH")
    row.prop(props, "path_curve", text="", icon="CURVE_PATH")
    row = box.row(align=True)
    row.operator("motionbridge.generate", text="From Current Pose", icon="POSE_HLT").mode = "CURRENT_POSE"
    row.operator("motionbridge.generate", text="In-between", icon="KEYFRAME").mode = "IN_BETWEEN"
    row = box.row(align=True)
    row.operator("motionbridge.generate", text="Extend Take", icon="FORWARD").mode = "EXTEND"
    row.operator("motionbridge.generate", text="Regenerate Range", icon="PREVIEW_RANGE").mode = "REGENERATE"


class MOTIONBRIDGE_PT_panel(bpy.types.Panel):
    bl_label = "MotionBridge"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "MotionBridge"

    def draw(self, context):
        layout = self.layout
        panel = session.panel()
        props = context.scene.motionbridge
        user = context.window_manager.motionbridge

        box = layout.box()
        row = box.row()
        row.label(text=panel.state.value.replace("_", " ").title(), icon="LINKED" if panel.connected else "UNLINKED")
        row.operator("motionbridge.disconnect" if panel.connected else "motionbridge.connect")
        box.prop(user, "endpoint")
        box.prop(user, "server_key_path")
        box.prop(user, "client_key_path")
        if panel.error:
            _draw_error(layout, panel)

        col = layout.column(align=True)
        col.prop(props, "prompt", text="")
        _draw_assistant(col, props, user)
        for warning in panel.warnings:
            col.label(text=summary(warning), icon="INFO")
        col.prop(props, "duration_s")
        row = col.row(align=True)
        row.prop(props, "variations")
        row.prop(props, "seed_start")
        col.prop(props, "cfg")
        col.prop(props, "model")
        col.prop(props, "preview_every")

        box = layout.box()
        row = box.row()
        animated = session.target_for(context, follow=False)
        row.label(text=f"Animates: {animated}" if animated else "Animates: select an armature", icon="ARMATURE_DATA")
        row.prop(props, "follow_selection", text="", icon="RESTRICT_SELECT_OFF")
        row = box.row(align=True)
        row.prop(props, "target")
        row.operator("motionbridge.add_mannequin", text="", icon="OUTLINER_OB_ARMATURE")
        other = session.selection_differs(context)
        if other:
            warn = box.row(align=True)
            warn.alert = True
            warn.label(text=f"Selected: {other}", icon="ERROR")
            warn.operator("motionbridge.use_selection")
        row = box.row(align=True)
        row.prop(props, "preset")
        row.operator("motionbridge.detect", text="", icon="VIEWZOOM")
        row.operator("motionbridge.mapping_open", text="", icon="BONE_DATA")
        if props.detected:
            box.label(text=props.detected, icon="CHECKMARK")
        row = box.row()
        row.prop(props, "root_motion")
        row.prop(props, "foot_lock")

        _draw_directing(layout, props, panel.connected)
        row = layout.row(align=True)
        row.scale_y = 1.4
        running = panel.state in (State.GENERATING, State.PREVIEW)
        row.enabled = panel.connected
        row.operator("motionbridge.generate", icon="PLAY").mode = "PLAIN"
        sub = row.row(align=True)
        sub.enabled = running
        sub.operator("motionbridge.cancel", icon="CANCEL")
        _draw_status(layout, panel, running)

        layout.label(text="Takes")
        layout.template_list("MOTIONBRIDGE_UL_takes", "", props, "takes", props, "takes_index", rows=4)
        row = layout.row(align=True)
        row.operator("motionbridge.take_audition", icon="PLAY")
        row.operator("motionbridge.take_rename", text="Rename", icon="GREASEPENCIL")
        row.operator("motionbridge.take_delete", text="", icon="TRASH")
        layout.operator("motionbridge.export_takes", icon="EXPORT")


class MOTIONBRIDGE_PT_mapping(bpy.types.Panel):
    bl_label = "Bone Mapping"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "MotionBridge"
    bl_parent_id = "MOTIONBRIDGE_PT_panel"

    @classmethod
    def poll(cls, context):
        props = getattr(context.scene, "motionbridge", None)
        return props is not None and len(props.mapping_rows) > 0

    def draw(self, context):
        layout = self.layout
        props = context.scene.motionbridge
        unmapped = [r.canonical for r in props.mapping_rows if r.required and not r.bone]
        layout.label(text=f"{props.mapping_rig}: {len(unmapped)} required bone(s) unmapped" if unmapped else f"{props.mapping_rig}: every required bone mapped",
                     icon="ERROR" if unmapped else "CHECKMARK")
        layout.template_list("MOTIONBRIDGE_UL_mapping", "", props, "mapping_rows", props, "mapping_index", rows=8)
        row = layout.row(align=True)
        row.operator("motionbridge.mapping_save", icon="FILE_TICK")
        row.operator("motionbridge.mapping_close", icon="X")


CLASSES = (MOTIONBRIDGE_UL_takes, MOTIONBRIDGE_UL_mapping, MOTIONBRIDGE_PT_panel, MOTIONBRIDGE_PT_mapping)
