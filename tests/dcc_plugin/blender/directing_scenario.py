"""Run inside bpy (a subprocess of test_blender_directing.py): the panel's directing rows
against a real daemon serving the smooth fixture, on a Mixamo-named armature. Reports, per
row, the armature's poses the test compares.

argv: ENDPOINT OUT_DIR
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import bpy
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenario_report import pump, run_and_report
from scene_builders import MIXAMO, build_armature

import motionbridge.dcc_plugin.blender as extension
from motionbridge.dcc_plugin.blender import session
from motionbridge.dcc_plugin.core.panel import State

ENDPOINT, OUT = sys.argv[1], Path(sys.argv[2])
PREFIX = "mixamorig:"
PROMPT = "A person walks forward."
report: dict = {"takes": {}, "errors": {}}
# a pose far from rest on every limb, and a second one (axis, degrees) per bone, Hips moved
POSE_A = {"LeftArm": ((0, 1, 0), 50), "RightForeArm": ((1, 0, 0), 60), "LeftUpLeg": ((1, 0, 0), -35), "RightLeg": ((1, 0, 0), 40),
          "Spine1": ((0, 0, 1), 20), "Neck": ((1, 0, 0), 15)}
POSE_B = {"RightArm": ((0, 1, 0), -45), "LeftForeArm": ((1, 0, 0), 70), "RightUpLeg": ((1, 0, 0), 30), "LeftLeg": ((1, 0, 0), 45),
          "Spine": ((0, 1, 0), -15), "Head": ((0, 0, 1), 25)}
ROUTE = [(0.0, 0.0), (0.0, -0.8), (0.6, -1.6)]  # on the floor (Blender's x, y), a corner at the second point


def log(text):
    print(f"[directing {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def settled():
    return session.panel().state in (State.TAKE_WRITTEN, State.ERROR, State.CONNECTED)


def pose(obj, frame):
    """Armature-space rotation matrices of every bone and the hips' head (world space) at a scene frame."""
    bpy.context.scene.frame_set(frame)
    bones = obj.pose.bones
    return {"rot": {pb.name: [list(r) for r in pb.matrix.to_3x3()] for pb in bones},
            "hips": list(obj.matrix_world @ bones[PREFIX + "Hips"].head)}


ICONS = set(bpy.types.UILayout.bl_rna.functions["operator"].parameters["icon"].enum_items.keys())


class Recorder:
    """Stands in for a UILayout: records what a draw function puts in the panel, and fails on
    a property, operator, operator mode or icon Blender does not know, as the UI would."""

    def __init__(self, drawn: list, enabled: bool = True) -> None:
        self.drawn, self.enabled = drawn, enabled

    def __setattr__(self, name, value):
        if name == "enabled" and hasattr(self, "enabled"):
            value = self.enabled and value
        object.__setattr__(self, name, value)

    def box(self, **_):
        return Recorder(self.drawn, self.enabled)

    row = box

    def _icon(self, icon):
        if icon and icon not in ICONS:
            raise ValueError(f"no icon {icon!r}")

    def prop(self, data, name, icon="", **_):
        if name not in data.bl_rna.properties:
            raise AttributeError(f"no property {name!r} on {data}")
        self._icon(icon)
        self.drawn.append(f"{name}:{'on' if self.enabled else 'off'}")

    def operator(self, idname, text="", icon="", **_):
        group, name = idname.split(".")
        rna = getattr(getattr(bpy.ops, group), name).get_rna_type()  # raises for an unknown operator
        self._icon(icon)
        drawn, enabled = self.drawn, self.enabled

        class Properties:
            def __setattr__(self, key, value):
                items = rna.properties[key].enum_items.keys()
                if value not in items:
                    raise ValueError(f"{idname}: {key}={value!r} is not one of {list(items)}")
                drawn.append(f"{idname}:{text}:{value}:{'on' if enabled else 'off'}")

        return Properties()


def drawn_directing(props, connected):
    from motionbridge.dcc_plugin.blender import ui

    drawn: list = []
    ui._draw_directing(Recorder(drawn), props, connected)
    return drawn


def angles_deg(a, b):
    """Largest joint rotation between two (J, 4) quaternion poses, per pose pair, in degrees."""
    dots = np.abs(np.sum(a * b, axis=-1)).clip(0, 1)
    return np.degrees(2 * np.arccos(dots)).max(axis=-1)


def key_pose(obj, frame, rotations, hips_offset):
    bpy.context.scene.frame_set(frame)
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
        pb.rotation_quaternion = (1, 0, 0, 0)
        pb.location = (0, 0, 0)
    for name, (axis, deg) in rotations.items():
        from mathutils import Quaternion

        obj.pose.bones[PREFIX + name].rotation_quaternion = Quaternion(axis, np.radians(deg))
    obj.pose.bones[PREFIX + "Hips"].location = hips_offset
    for pb in obj.pose.bones:
        pb.keyframe_insert("rotation_quaternion", frame=frame)
    obj.pose.bones[PREFIX + "Hips"].keyframe_insert("location", frame=frame)


def generate(mode, label):
    panel = session.panel()
    before = {t.name for t in panel.host.list_takes()}
    try:
        result = bpy.ops.motionbridge.generate(mode=mode)
    except RuntimeError as exc:
        result = {"CANCELLED": str(exc)}
    pump(settled, 600)
    log(f"{label}: {panel.state.value} {panel.status}")
    report[f"state_{label}"], report[f"status_{label}"] = panel.state.value, panel.error or panel.status
    new = sorted({t.name for t in panel.host.list_takes()} - before)
    report[f"op_{label}"] = sorted(result)
    return new[0] if new else ""


def describe(name, obj):
    """The take's frame range, metadata, and the armature's pose at its first and last frame."""
    info = next(t for t in session.panel().host.list_takes() if t.name == name)
    bpy.ops.motionbridge.take_audition(take=name)
    report["takes"][name] = {"frames": [info.frame_start, info.frame_end], "metadata": info.metadata,
                             "first": pose(obj, info.frame_start), "last": pose(obj, info.frame_end)}
    return info


def restore_keys(obj, action):
    """Give the armature its keyed Action back (auditioning a take unassigns it)."""
    obj.animation_data.action = action
    for track in obj.animation_data.nla_tracks:
        track.mute = True


def main():
    extension.register()
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    props = scene.motionbridge
    user = bpy.context.window_manager.motionbridge
    hero = build_armature("Hero", MIXAMO, prefix=PREFIX)
    props.target, props.variations, props.foot_lock, props.preview_every, props.prompt = hero, 1, False, 0, PROMPT
    props.duration_s = 2.0
    panel = session.panel()
    report["drawn_disconnected"] = drawn_directing(props, False)
    report["drawn_connected"] = drawn_directing(props, True)
    user.endpoint = ENDPOINT
    bpy.ops.motionbridge.connect()
    pump(lambda: panel.state in (State.CONNECTED, State.ERROR), 60)
    report["connected"] = panel.status

    # the animator's keys: pose A at frame 10, pose B at frame 50
    key_pose(hero, 10, POSE_A, (0.1, 0.0, 0.05))
    key_pose(hero, 50, POSE_B, (0.3, 0.2, 0.0))
    keys = hero.animation_data.action
    report["keyed_frames"] = panel.host.keyed_frames("Hero")
    report["pose_a"], report["pose_b"] = pose(hero, 10), pose(hero, 50)

    # refusals before anything is sent
    scene.frame_set(60)
    for mode, label in (("IN_BETWEEN", "in_between_after_last_key"), ("REGENERATE", "regenerate_without_take")):
        try:
            bpy.ops.motionbridge.generate(mode=mode)
            report["errors"][label] = ""
        except RuntimeError as exc:  # the operator reported its error: that is the message
            report["errors"][label] = str(exc)
        report["errors"][label + "_sent"] = panel.state.value

    # 1: start from the pose at the playhead (frame 10: pose A)
    scene.frame_set(10)
    start = generate("CURRENT_POSE", "start")
    report["start"] = start
    report["keys_kept"] = [hero.animation_data.action is None, keys.use_fake_user]  # the take plays; the keys stay
    if start:
        describe(start, hero)

    # 2: in-between the keys at 10 and 50, the playhead between them
    restore_keys(hero, keys)
    scene.frame_set(30)
    between = generate("IN_BETWEEN", "between")
    report["between"] = between
    if between:
        describe(between, hero)

    # 3: extend the first take by 1.5 s
    props.takes_index = next(i for i, t in enumerate(props.takes) if t.name == start)
    props.duration_s = 1.5
    extended = generate("EXTEND", "extend")
    report["extend"] = extended
    if extended:
        old = panel.host.read_take(start)
        new = panel.host.read_take(extended)
        report["extend_old_frames"], report["extend_new_frames"] = old.num_frames, new.num_frames
        report["extend_prefix_rot_err"] = float(np.abs(new.rotations[:old.num_frames] - old.rotations).max())
        report["extend_prefix_root_err"] = float(np.abs(new.root_translation[:old.num_frames] - old.root_translation).max())
        report["extend_metadata"] = next(t for t in panel.host.list_takes() if t.name == extended).metadata
        report["extend_placed"] = [t.frame_start for t in panel.host.list_takes() if t.name in (start, extended)]
        # how far each frame moves from the last: the step across the join against the take's own steps
        steps = angles_deg(new.rotations[1:], new.rotations[:-1])
        report["extend_join_step"] = float(steps[old.num_frames - 1])
        report["extend_steps_p95"] = float(np.percentile(steps, 95))

    # 4: a loop
    props.duration_s, props.loop = 2.0, True
    looped = generate("PLAIN", "loop")
    props.loop = False
    report["loop"] = looped
    if looped:
        clip = panel.host.read_take(looped)
        steps = angles_deg(clip.rotations[1:], clip.rotations[:-1])
        report["loop_metadata"] = next(t for t in panel.host.list_takes() if t.name == looped).metadata
        report["loop_closure_step"] = float(angles_deg(clip.rotations[-1], clip.rotations[0]))
        report["loop_steps_p95"] = float(np.percentile(steps, 95))
    # the naive versions beside them: a plain take of the same prompt, seed and length
    plain = generate("PLAIN", "plain")
    if plain and looped and extended:
        free = panel.host.read_take(plain)
        report["plain_closure_step"] = float(angles_deg(free.rotations[-1], free.rotations[0]))
        report["plain_after_old_step"] = float(angles_deg(free.rotations[0], old.rotations[-1]))

    # 5: regenerate the first take's frames 20..39 (scene 21..40, the preview range) with seed 7
    props.takes_index = next(i for i, t in enumerate(props.takes) if t.name == start)
    first = next(t for t in panel.host.list_takes() if t.name == start).frame_start
    scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end = True, first + 20, first + 39
    props.seed_start = 7
    redone = generate("REGENERATE", "regenerate")
    scene.use_preview_range, props.seed_start = False, 0
    report["regenerate"] = redone
    if redone:
        old, new = panel.host.read_take(start), panel.host.read_take(redone)
        report["regenerate_frames"] = [old.num_frames, new.num_frames]
        report["regenerate_step_from_old"] = angles_deg(new.rotations, old.rotations).tolist()
        report["regenerate_metadata"] = next(t for t in panel.host.list_takes() if t.name == redone).metadata
        report["regenerate_placed"] = [t.frame_start for t in panel.host.list_takes() if t.name in (start, redone)]

    # 6: follow a curve with a corner, drawn on the floor
    data = bpy.data.curves.new("route", "CURVE")
    data.dimensions = "3D"
    spline = data.splines.new("POLY")
    spline.points.add(len(ROUTE) - 1)
    for point, (x, y) in zip(spline.points, ROUTE):
        point.co = (x, y, 0.0, 1.0)
    route = bpy.data.objects.new("Route", data)
    scene.collection.objects.link(route)
    props.path_curve = route
    report["route"] = ROUTE
    hero.location = (0.4, 0.3, 0.0)  # the armature placed elsewhere: the curve is read in its space
    bpy.context.view_layer.update()
    followed = generate("PLAIN", "path")
    props.path_curve = None
    report["path"] = followed
    if followed:
        info = next(t for t in panel.host.list_takes() if t.name == followed)
        bpy.ops.motionbridge.take_audition(take=followed)
        report["path_hips"] = [pose(hero, f)["hips"] for f in range(info.frame_start, info.frame_end + 1)]
        report["path_metadata"] = info.metadata
    extension.unregister()


run_and_report(main, report, OUT)
