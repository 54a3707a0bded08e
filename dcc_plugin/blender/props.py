"""Blender properties: the request (saved with the .blend) and the server (per user)."""

from __future__ import annotations

import os

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from motionbridge.daemon.prompt_assist import URL_ENV
from motionbridge.dcc_plugin.core import settings as user_settings


def _is_armature(_self, obj) -> bool:
    return obj.type == "ARMATURE"


def _is_curve(_self, obj) -> bool:
    return obj.type == "CURVE"


def _target_changed(self, context) -> None:
    from . import session

    self.detected = ""
    if self.target is not None:
        session.target_chosen()


def _bone_chosen(self, context) -> None:
    self.confidence = 1.0 if self.bone else 0.0  # the animator's choice


class MOTIONBRIDGE_PG_take(bpy.types.PropertyGroup):
    name: StringProperty()
    rig: StringProperty()
    prompt: StringProperty()
    seed: IntProperty()
    playing: BoolProperty(description="This take is the one its armature plays")
    selected: BoolProperty(name="Export", description="Include this take in Export Selected")


class MOTIONBRIDGE_PG_mapping_row(bpy.types.PropertyGroup):
    canonical: StringProperty(name="Humanoid bone")
    bone: StringProperty(name="Rig bone", description="The armature's bone that drives this humanoid bone", update=_bone_chosen)
    confidence: FloatProperty(name="Confidence", min=0.0, max=1.0)
    required: BoolProperty()


class MOTIONBRIDGE_PG_scene(bpy.types.PropertyGroup):
    prompt: StringProperty(name="Prompt", description="Describe the motion, in English", default="A person walks forward.")
    assist_rewrite: BoolProperty(name="Rewrite prompt", description="Have the prompt assistant rewrite the prompt; you see and can edit it before Generate")
    assist_duration: BoolProperty(name="Estimate duration", description="Have the prompt assistant estimate the duration from the prompt")
    rewritten_prompt: StringProperty(name="Rewritten prompt", description="What Generate sends while Rewrite prompt is on; edit it freely")
    duration_s: FloatProperty(name="Duration", default=5.0, min=0.7, max=12.0, unit="TIME_ABSOLUTE", subtype="TIME_ABSOLUTE")
    variations: IntProperty(name="Variations", description="Seeds per Generate", default=2, min=1, max=16)
    seed_start: IntProperty(name="First seed", default=0, min=0)
    cfg: FloatProperty(name="CFG", description="Text guidance; 5 is the default", default=5.0, min=1.0, max=30.0)
    model: EnumProperty(name="Model", items=[("DEFAULT", "Daemon default", ""), ("1.0", "HY-Motion 1.0", ""), ("lite", "HY-Motion 1.0 Lite", "")])
    preview_every: IntProperty(name="Preview every", description="Denoising steps between live previews (0 = off)", default=5, min=0, max=50)
    target: PointerProperty(name="Armature", type=bpy.types.Object, poll=_is_armature, update=_target_changed,
                            description="The armature Generate animates")
    follow_selection: BoolProperty(name="Follow selection", default=True,
                                   description="Generate and Detect use the selected armature (or the armature of the selected mesh)")
    preset: StringProperty(name="Preset", description="Rig preset (empty = auto-detect)")
    detected: StringProperty(name="Detected")
    root_motion: BoolProperty(name="Root motion", default=True)
    foot_lock: BoolProperty(name="Foot lock", default=True)
    loop: BoolProperty(name="Loop", description="Generate makes a cycle: the last frame flows into the first")
    path_curve: PointerProperty(name="Follow curve", type=bpy.types.Object, poll=_is_curve,
                                description="Generate makes the pelvis follow this curve on the ground, evenly over the take")
    takes: CollectionProperty(type=MOTIONBRIDGE_PG_take)
    takes_index: IntProperty()
    mapping_rig: StringProperty(name="Mapped armature")
    mapping_rows: CollectionProperty(type=MOTIONBRIDGE_PG_mapping_row)
    mapping_index: IntProperty()


def _defaults() -> user_settings.Settings:
    loaded, _ = user_settings.load()
    return loaded


class MOTIONBRIDGE_PG_user(bpy.types.PropertyGroup):
    endpoint: StringProperty(name="Server", default=user_settings.DEFAULT_ENDPOINT)
    server_key_path: StringProperty(name="Server key", subtype="FILE_PATH", description="The daemon's public CURVE certificate (empty = plain TCP)")
    client_key_path: StringProperty(name="Client key", subtype="FILE_PATH", description="Your secret CURVE certificate")
    prompter_url: StringProperty(name="Prompter",
                                 description=f"The prompt assistant's OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1 (empty = ${URL_ENV})")


CLASSES = (MOTIONBRIDGE_PG_take, MOTIONBRIDGE_PG_mapping_row, MOTIONBRIDGE_PG_scene, MOTIONBRIDGE_PG_user)


def register() -> None:
    bpy.types.Scene.motionbridge = PointerProperty(type=MOTIONBRIDGE_PG_scene)
    bpy.types.WindowManager.motionbridge = PointerProperty(type=MOTIONBRIDGE_PG_user)


def load_user_settings(context) -> None:
    s = _defaults()
    wm = context.window_manager.motionbridge
    wm.endpoint, wm.server_key_path, wm.client_key_path = s.endpoint, s.server_key_path, s.client_key_path
    wm.prompter_url = s.prompter_url or os.environ.get(URL_ENV, "")


def unregister() -> None:
    del bpy.types.WindowManager.motionbridge
    del bpy.types.Scene.motionbridge
