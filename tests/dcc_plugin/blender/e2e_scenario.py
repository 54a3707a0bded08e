"""Run inside bpy (a subprocess of test_blender_e2e.py): drives the MotionBridge panel's
operators against a real daemon and dumps what the scene holds to JSON for the test.

argv: ENDPOINT OUT_DIR
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import bpy
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenario_report import run_and_report
from scene_builders import MIXAMO, RIGIFY, Y_TO_Z, build_armature

import motionbridge.dcc_plugin.blender as extension
from motionbridge.dcc_plugin.blender import action_api, session, takes_io
from motionbridge.dcc_plugin.core.panel import State
from motionbridge.rigs.smplx import SMPLX_JOINT_NAMES

ENDPOINT, OUT = sys.argv[1], Path(sys.argv[2])
LONG_PROMPT = "A person walks forward, looks around and waves with both hands. " * 12
report: dict = {"operator_ms": {}, "drain_ms": [], "drain_write_ms": [], "errors": {}, "takes": {}, "fk": {}, "timing": {}}
# SMPL-X segments (parent joint -> child joint) checked against the posed bones
SEGMENTS = [("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"),
            ("right_elbow", "right_wrist"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
            ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("spine1", "spine2"), ("neck", "head")]


def log(text):
    print(f"[e2e {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def op(fn, **kwargs):
    t0 = time.perf_counter()
    try:
        result = fn(**kwargs)
    except RuntimeError as exc:  # the operator reported an error: that is its message
        result = {"CANCELLED": str(exc)}
    report["operator_ms"].setdefault(fn.idname_py(), []).append((time.perf_counter() - t0) * 1000)
    return result


def pump(until, timeout_s=900.0):
    """What bpy.app.timers does in the UI: drain the host's main-thread queue."""
    host = session.panel().host
    end = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() > end:
            raise TimeoutError(f"panel stuck in {session.panel().state}: {session.panel().status}")
        before = len(takes_io.list_takes())
        t0 = time.perf_counter()
        host.drain()
        ms = (time.perf_counter() - t0) * 1000
        wrote = len(takes_io.list_takes()) - before
        report["drain_write_ms" if wrote > 0 else "drain_ms"].append(ms)
        report.setdefault("takes_per_drain", []).append(wrote)
        time.sleep(0.005)


def settled():
    return session.panel().state in (State.TAKE_WRITTEN, State.ERROR, State.CONNECTED)


def check_fk(rig_obj, mapping, take, source):
    """Max angle (deg) between posed bone directions and the SMPL-X FK of the source clip."""
    bpy.ops.motionbridge.take_audition(take=take)
    _, pos = source.world()
    pos = pos @ Y_TO_Z.T  # the model is Y-up, Blender Z-up
    idx = {n: i for i, n in enumerate(SMPLX_JOINT_NAMES)}
    worst = 0.0
    frames = sorted({0, source.num_frames // 2, source.num_frames - 1})
    for f in frames:
        bpy.context.scene.frame_set(f + takes_io.FIRST_FRAME)
        for a, b in SEGMENTS:
            want = pos[f, idx[b]] - pos[f, idx[a]]
            ha = rig_obj.matrix_world @ rig_obj.pose.bones[mapping(a)].head
            hb = rig_obj.matrix_world @ rig_obj.pose.bones[mapping(b)].head
            got = np.array(hb - ha)
            cos = float(np.dot(want, got) / (np.linalg.norm(want) * np.linalg.norm(got)))
            worst = max(worst, float(np.degrees(np.arccos(np.clip(cos, -1, 1)))))
    return worst


def main():
    extension.register()
    scene = bpy.context.scene
    props = scene.motionbridge
    user = bpy.context.window_manager.motionbridge
    rigify = build_armature("RigifyHero", RIGIFY)
    mixamo = build_armature("MixamoHero", MIXAMO, prefix="mixamorig:")
    bpy.ops.object.select_all(action="DESELECT")
    bpy.context.view_layer.objects.active = None
    panel = session.panel()
    previews = []
    show = panel.host.show_preview
    panel.host.show_preview = lambda rig, clip: (previews.append(rig), show(rig, clip))[1]

    # bad input before anything works
    props.prompt = "A person walks forward."
    report["errors"]["not_connected"] = op(bpy.ops.motionbridge.generate).get("CANCELLED", "")
    user.endpoint = "tcp://127.0.0.1:1"  # nothing listens there
    props.duration_s = 1.0
    op(bpy.ops.motionbridge.connect)
    pump(lambda: panel.state is State.ERROR, 30)
    report["errors"]["unreachable"] = panel.error

    user.endpoint = ENDPOINT
    op(bpy.ops.motionbridge.connect)
    pump(lambda: panel.state in (State.CONNECTED, State.ERROR), 60)
    report["connected"] = panel.status
    report["errors"]["no_armature"] = op(bpy.ops.motionbridge.generate).get("CANCELLED", "")

    # 1: two seeds onto the Mixamo rig, foot lock off so directions are the model's
    props.target, props.variations, props.foot_lock, props.preview_every = mixamo, 2, False, 5
    op(bpy.ops.motionbridge.detect)
    pump(lambda: panel.scene_jobs.pending == 0, 60)  # detection runs on the scene worker
    report["detected_mixamo"] = props.detected
    op(bpy.ops.motionbridge.generate)
    pump(settled)
    log('generation 1 done')
    report["state_1"], report["status_1"] = panel.state.value, panel.status
    sources = {("MixamoHero", s): c for s, c in panel._generation.results.items()}
    report["previews"] = len(previews)

    # 2: onto the Rigify-like rig, cancelled at the first progress: nothing may be written
    props.target = rigify
    before = {t.name for t in panel.host.list_takes()}
    op(bpy.ops.motionbridge.generate)
    pump(lambda: panel.progress > 0 or settled())
    log('cancelling')
    op(bpy.ops.motionbridge.cancel)
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        pump(lambda: True)
        time.sleep(0.02)
    report["after_cancel_new_takes"] = sorted({t.name for t in panel.host.list_takes()} - before)
    report["state_cancel"] = panel.state.value

    # 3: again on the Rigify rig, a 5 s clip with one seed, for the write timing
    # with a prompt past the model's 128 tokens: the panel shows the daemon's truncation warning
    props.variations, props.duration_s = 1, 5.0
    props.prompt = LONG_PROMPT
    op(bpy.ops.motionbridge.generate)
    pump(settled)
    log('generation 3 done')
    report["state_3"], report["status_3"] = panel.state.value, panel.status
    report["warnings_3"] = list(panel.warnings)
    sources.update({("RigifyHero", s): c for s, c in panel._generation.results.items()})
    report["timing"]["result_to_keys_ms"] = panel.write_ms[-1] if panel.write_ms else None
    report["timing"]["retarget_ms_5s"] = panel.timings["retarget_ms"][-1]
    report["timing"]["keys_ms_5s"] = panel.timings["keys_ms"][-1]
    report["timing"]["keys_ms_all"] = panel.timings["keys_ms"]

    # what the scene holds
    for info in panel.host.list_takes():
        obj, track, strip = takes_io.find_take(info.name)
        action = strip.action
        counts = sorted({len(fc.keyframe_points) for fc in action_api.strip_fcurves(strip)})
        report["takes"][info.name] = {
            "rig": obj.name, "track": track.name, "action": action.name, "key_counts": counts,
            "frame_range": [info.frame_start, info.frame_end], "fps": scene.render.fps / scene.render.fps_base,
            "metadata": info.metadata, "layered": action_api.is_single_take_action(action),
            "nla_tracks_on_rig": len(obj.animation_data.nla_tracks),
        }
    for (rig, seed), source in sources.items():
        name = next(n for n, t in report["takes"].items() if t["rig"] == rig and t["metadata"]["seed"] == seed)
        table = MIXAMO if rig == "MixamoHero" else RIGIFY
        prefix = "mixamorig:" if rig == "MixamoHero" else ""
        report["fk"][name] = check_fk(bpy.data.objects[rig], lambda j, t=table, p=prefix: p + t[j], name, source)
        report["takes"][name]["source_frames"] = source.num_frames

    # takes list: rename, export, delete
    mix = sorted(n for n, t in report["takes"].items() if t["rig"] == "MixamoHero")
    report["rename"] = op(bpy.ops.motionbridge.take_rename, take=mix[1], new_name="hero_wave_v2")
    report["errors"]["rename_clash"] = op(bpy.ops.motionbridge.take_rename, take=mix[0], new_name="hero_wave_v2").get("CANCELLED", "")
    for item in props.takes:
        item.selected = item.name in (mix[0], "hero_wave_v2")
    for ext in ("glb", "fbx"):
        report[f"export_{ext}"] = op(bpy.ops.motionbridge.export_takes, filepath=str(OUT / f"mixamo_takes.{ext}"))
    pump(lambda: panel.scene_jobs.pending == 0, 120)  # the files are written on the scene worker
    report["export_status"] = panel.status
    report["errors"]["export_none"] = ""
    for item in props.takes:
        item.selected = False
    report["errors"]["export_none"] = op(bpy.ops.motionbridge.export_takes, filepath=str(OUT / "none.glb")).get("CANCELLED", "")
    op(bpy.ops.motionbridge.take_delete, take=mix[0])
    report["after_delete"] = sorted(t.name for t in panel.host.list_takes())
    report["actions_after_delete"] = sorted(a.name for a in bpy.data.actions)
    report["ui_list"] = sorted(item.name for item in props.takes)
    extension.unregister()


run_and_report(main, report, OUT)
