"""Operators: each returns at once; the work happens on the panel's worker thread."""

from __future__ import annotations

import os
import time

import bpy
from bpy.props import EnumProperty, StringProperty

from motionbridge.dcc_plugin.core import panel_actions
from motionbridge.dcc_plugin.core.takes import check_take_name

from . import export_modules, operators_help, session

DIRECTING_MODES = [
    ("PLAIN", "Generate", "Send the prompt to the daemon; each seed becomes a take on the target armature (with Loop and Follow curve when set)"),
    ("CURRENT_POSE", "From Current Pose", "The takes start in the armature's pose at the playhead and carry its motion on"),
    ("IN_BETWEEN", "In-between", "The takes fill the gap between the armature's keyed frames around the playhead, landing on both keys"),
    ("EXTEND", "Extend Take", "Continue the highlighted take with the prompt: a new take, the old one followed by the new motion"),
    ("REGENERATE", "Regenerate Range", "Redo the highlighted take inside the timeline's preview range with this prompt and seed; keep the rest"),
]
# operator call -> keys written, for the last take write (ms); read by tests and the status bar
TIMINGS: dict[str, float] = {}


class MOTIONBRIDGE_OT_connect(bpy.types.Operator):
    bl_idname = "motionbridge.connect"
    bl_label = "Connect"
    bl_description = "Connect to the MotionBridge daemon (runs in the background)"

    def execute(self, context):
        panel = session.panel()
        if not panel_actions.connect(panel, session.settings_from_ui(context)):
            self.report({"ERROR"}, panel.error)
            return {"CANCELLED"}
        return {"FINISHED"}


class MOTIONBRIDGE_OT_disconnect(bpy.types.Operator):
    bl_idname = "motionbridge.disconnect"
    bl_label = "Disconnect"

    def execute(self, context):
        session.panel().disconnect()
        return {"FINISHED"}


class MOTIONBRIDGE_OT_detect(bpy.types.Operator):
    bl_idname = "motionbridge.detect"
    bl_label = "Detect Rig"
    bl_description = "Check that the target armature can be driven, and how (detection runs in the background)"

    def execute(self, context):
        props = context.scene.motionbridge
        target_name = session.target_for(context)
        props.detected = ""
        panel = session.panel()
        # the rig is read here; detection runs on the panel's scene worker and the answer
        # comes back through the host's timer (session.show_detected)
        if not panel.detect(target_name, props.preset.strip(), on_done=session.show_detected):
            self.report({"ERROR"}, panel.error)
            return {"CANCELLED"}
        return {"FINISHED"}


class MOTIONBRIDGE_OT_generate(bpy.types.Operator):
    bl_idname = "motionbridge.generate"
    bl_label = "Generate"
    bl_description = "Send the prompt to the daemon; each seed becomes a take on the target armature"
    mode: EnumProperty(name="Directing", options={"SKIP_SAVE"}, items=DIRECTING_MODES)

    @classmethod
    def description(cls, context, properties):
        return next((m[2] for m in DIRECTING_MODES if m[0] == properties.mode), cls.bl_description)

    def execute(self, context):
        panel = session.panel()
        TIMINGS["generate_call"] = time.perf_counter()
        prompt = session.prompt_to_send(context)
        if prompt is None:  # Rewrite prompt is on: the animator sees the rewrite before anything is generated
            if not session.start_rewrite(context):
                self.report({"ERROR"}, panel.error)
                return {"CANCELLED"}
            self.report({"INFO"}, "Rewriting the prompt first: check it, then press Generate again")
            return {"CANCELLED"}
        if not session.generate(context, prompt, self.mode.lower()):
            self.report({"ERROR"}, panel.error)
            return {"CANCELLED"}
        return {"FINISHED"}


class MOTIONBRIDGE_OT_prompt_rewrite(bpy.types.Operator):
    bl_idname = "motionbridge.prompt_rewrite"
    bl_label = "Rewrite"
    bl_description = "Ask the prompt assistant to rewrite the prompt and/or estimate the duration (runs in the background); edit the result before Generate"

    def execute(self, context):
        if not session.start_rewrite(context):
            self.report({"ERROR"}, session.panel().error)
            return {"CANCELLED"}
        return {"FINISHED"}


class MOTIONBRIDGE_OT_cancel(bpy.types.Operator):
    bl_idname = "motionbridge.cancel"
    bl_label = "Cancel"
    bl_description = "Stop the running generation; nothing of it is written"

    def execute(self, context):
        session.panel().cancel()
        return {"FINISHED"}


class _TakeOperator(bpy.types.Operator):
    # set by the list's buttons; hidden from dialogs, and not remembered between calls
    take: StringProperty(name="Take", options={"HIDDEN", "SKIP_SAVE"})

    def _name(self, context) -> str:
        if self.take:
            return self.take
        props = context.scene.motionbridge
        if 0 <= props.takes_index < len(props.takes):
            return props.takes[props.takes_index].name
        return ""

    def execute(self, context):
        name = self._name(context)
        if not name:
            self.report({"ERROR"}, "no take chosen; click a take in the list first")
            return {"CANCELLED"}
        try:
            self.act(context, name)
        except (KeyError, ValueError) as exc:
            self.report({"ERROR"}, str(exc).strip("'\""))
            return {"CANCELLED"}
        session.sync_takes()
        return {"FINISHED"}


class MOTIONBRIDGE_OT_take_audition(_TakeOperator):
    bl_idname = "motionbridge.take_audition"
    bl_label = "Audition"
    bl_description = "Play only this take on its armature"

    @classmethod
    def description(cls, context, properties):
        """The hover text under the take's full name (the tooltip's title is the button's text,
        the name the list may cut): its armature, seed and prompt."""
        item = next((t for t in context.scene.motionbridge.takes if t.name == properties.take), None)
        if item is None:
            return cls.bl_description
        return f"Armature {item.rig}, seed {item.seed}\n{item.prompt}\n\nPlay only this take on its armature"

    def act(self, context, name):
        session.panel().host.audition_take(name)
        info = next(t for t in session.panel().host.list_takes() if t.name == name)
        session.panel().host.set_timeline(info.frame_start, info.frame_end, info.fps)


class MOTIONBRIDGE_OT_take_delete(_TakeOperator):
    bl_idname = "motionbridge.take_delete"
    bl_label = "Delete Take"
    bl_description = "Delete this take (its NLA track and Action); Ctrl+Z brings it back"
    bl_options = {"REGISTER", "UNDO"}

    def invoke(self, context, event):
        return context.window_manager.invoke_confirm(self, event)

    def act(self, context, name):
        session.panel().host.delete_take(name)


class MOTIONBRIDGE_OT_take_rename(_TakeOperator):
    bl_idname = "motionbridge.take_rename"
    bl_label = "Rename Take"
    bl_options = {"REGISTER", "UNDO"}
    new_name: StringProperty(name="New name", options={"SKIP_SAVE"})  # not the last rename's text

    def invoke(self, context, event):
        if not self.new_name:
            self.new_name = self._name(context)  # start from the current name
        return context.window_manager.invoke_props_dialog(self)

    def act(self, context, name):
        host = session.panel().host
        cleaned = check_take_name(self.new_name, {t.name for t in host.list_takes()})
        host.rename_take(name, cleaned)


class MOTIONBRIDGE_OT_export_takes(bpy.types.Operator):
    bl_idname = "motionbridge.export_takes"
    bl_label = "Export Selected Takes"
    bl_description = "Write the ticked takes to one file; the extension picks the format (.fbx, .glb, .gltf, .bvh, .usd, .npz)"
    filepath: StringProperty(subtype="FILE_PATH")

    def invoke(self, context, event):
        if not self.filepath:
            self.filepath = suggested_export_path(context.scene.motionbridge, bpy.data.filepath)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        names = [t.name for t in context.scene.motionbridge.takes if t.selected]
        if not names:
            self.report({"ERROR"}, "no takes ticked; tick the takes to export in the list")
            return {"CANCELLED"}
        if not self.filepath:
            self.report({"ERROR"}, "no file chosen; pass a path ending in .fbx, .glb, .usd or .npz")
            return {"CANCELLED"}
        from motionbridge.exporters import registry

        path = bpy.path.abspath(self.filepath)
        extension = registry.extension_of(path)
        if extension not in registry.WRITERS:  # say so now, not from the worker
            self.report({"ERROR"}, f"cannot export to {path}: use one of {', '.join(registry.supported_extensions())}")
            return {"CANCELLED"}
        missing = export_modules.missing_for(extension)
        if missing:
            session.panel().refuse(missing)
            self.report({"ERROR"}, missing)
            return {"CANCELLED"}
        panel = session.panel()
        # keys are read here (main thread); formatting and the atomic write run on the
        # panel's scene worker; the outcome shows in the panel's status line
        if not panel.export_takes(names, path, registry.export):
            self.report({"ERROR"}, panel.error)
            return {"CANCELLED"}
        self.report({"INFO"}, panel.status)
        return {"FINISHED"}


def suggested_export_path(props, blend_file: str, extension: str = ".fbx") -> str:
    """`<take>.fbx` beside the .blend (or in the current folder): the first ticked take, else
    the highlighted one."""
    ticked = [t.name for t in props.takes if t.selected]
    highlighted = props.takes[props.takes_index].name if 0 <= props.takes_index < len(props.takes) else ""
    name = (ticked or [highlighted])[0] or "takes"
    folder = os.path.dirname(blend_file) if blend_file else os.getcwd()
    return os.path.join(folder, bpy.path.clean_name(name) + extension)


class MOTIONBRIDGE_OT_add_mannequin(bpy.types.Operator):
    bl_idname = "motionbridge.add_mannequin"
    bl_label = "Add SMPL-X Mannequin"
    bl_description = "Add the model's own skeleton with a skinned wooden body: takes land on it without retargeting"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from .mannequin import build_mannequin

        obj = build_mannequin()
        context.scene.motionbridge.target = obj
        return {"FINISHED"}


CLASSES = (
    *operators_help.CLASSES,
    MOTIONBRIDGE_OT_add_mannequin,
    MOTIONBRIDGE_OT_connect, MOTIONBRIDGE_OT_disconnect, MOTIONBRIDGE_OT_detect, MOTIONBRIDGE_OT_generate,
    MOTIONBRIDGE_OT_prompt_rewrite, MOTIONBRIDGE_OT_cancel, MOTIONBRIDGE_OT_take_audition, MOTIONBRIDGE_OT_take_delete, MOTIONBRIDGE_OT_take_rename,
    MOTIONBRIDGE_OT_export_takes,
)
