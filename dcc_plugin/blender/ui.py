"""The N-panel (View3D > Sidebar > MotionBridge)."""

from __future__ import annotations

import bpy

from motionbridge.dcc_plugin.core.panel import State

from . import session


class MOTIONBRIDGE_UL_takes(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.prop(item, "selected", text="")
        row.label(text=item.name, icon="ACTION")
        row.label(text=f"seed {item.seed}")
        op = row.operator("motionbridge.take_audition", text="", icon="PLAY")
        op.take = item.name


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
            for line in _wrap(panel.error):
                box.label(text=line, icon="ERROR")

        col = layout.column(align=True)
        col.prop(props, "prompt", text="")
        col.prop(props, "duration_s")
        row = col.row(align=True)
        row.prop(props, "variations")
        row.prop(props, "seed_start")
        col.prop(props, "cfg")
        col.prop(props, "model")
        col.prop(props, "preview_every")

        box = layout.box()
        box.label(text="Target")
        row = box.row(align=True)
        row.prop(props, "target")
        row.operator("motionbridge.add_mannequin", text="", icon="OUTLINER_OB_ARMATURE")
        row = box.row(align=True)
        row.prop(props, "preset")
        row.operator("motionbridge.detect", text="", icon="VIEWZOOM")
        if props.detected:
            box.label(text=props.detected, icon="CHECKMARK")
        row = box.row()
        row.prop(props, "root_motion")
        row.prop(props, "foot_lock")

        row = layout.row(align=True)
        row.scale_y = 1.4
        running = panel.state in (State.GENERATING, State.PREVIEW)
        row.enabled = panel.connected
        row.operator("motionbridge.generate", icon="PLAY")
        sub = row.row(align=True)
        sub.enabled = running
        sub.operator("motionbridge.cancel", icon="CANCEL")
        if running or panel.progress > 0:
            layout.progress(factor=panel.progress, type="BAR", text=panel.status[:60])
        elif panel.status and not panel.error:
            layout.label(text=panel.status[:80])

        layout.label(text="Takes")
        layout.template_list("MOTIONBRIDGE_UL_takes", "", props, "takes", props, "takes_index", rows=4)
        row = layout.row(align=True)
        row.operator("motionbridge.take_audition", icon="PLAY")
        row.operator("motionbridge.take_rename", text="Rename", icon="GREASEPENCIL")
        row.operator("motionbridge.take_delete", text="", icon="TRASH")
        layout.operator("motionbridge.export_takes", icon="EXPORT")


def _wrap(text: str, width: int = 48) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return lines + ([line] if line else [])


CLASSES = (MOTIONBRIDGE_UL_takes, MOTIONBRIDGE_PT_panel)
