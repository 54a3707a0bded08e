"""Run inside bpy by test_blender_scene_jobs.py: the Detect and Export operators return while
their heavy part (rig detection; writing the file through the exporters) is still held on
the panel's scene worker, and the outcome reaches the scene through the host's timer queue.

argv: OUT_DIR
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenario_report import run_and_report
from scene_builders import MIXAMO, build_armature

import motionbridge.dcc_plugin.blender as extension
from motionbridge.dcc_plugin.blender import session
from motionbridge.dcc_plugin.core import targeting
from motionbridge.exporters import registry
from motionbridge.rigs import synthetic

OUT = Path(sys.argv[1])
HOLD_S = 10.0
report: dict = {}


class Gate:
    """Holds the wrapped call until released and records where it ran; run inline by the
    operator it would hold the operator itself for HOLD_S."""

    def __init__(self, fn):
        self.fn, self.release, self.threads, self.held_out = fn, threading.Event(), [], False

    def __call__(self, *args, **kwargs):
        self.threads.append(threading.current_thread().name)
        self.held_out = not self.release.wait(HOLD_S)
        return self.fn(*args, **kwargs)


def timed(fn, **kwargs):
    t0 = time.perf_counter()
    result = fn(**kwargs)
    return result, (time.perf_counter() - t0) * 1000.0


def pump(until, timeout_s=60.0):
    """What bpy.app.timers does in the UI: drain the host's main-thread queue."""
    end = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() > end:
            raise TimeoutError("no outcome reached the main thread")
        session.panel().host.drain()
        time.sleep(0.005)


def main():
    extension.register()
    props = bpy.context.scene.motionbridge
    rig = build_armature("MixamoHero", MIXAMO, prefix="mixamorig:")
    props.target = rig
    panel = session.panel()

    gate = Gate(targeting.resolve_target)
    targeting.resolve_target = gate
    result, ms = timed(bpy.ops.motionbridge.detect)
    report["detect"] = {"result": sorted(result), "op_ms": ms, "detected_at_return": props.detected,
                        "released_at_return": gate.release.is_set()}
    gate.release.set()
    pump(lambda: panel.scene_jobs.pending == 0)
    report["detect"].update(detected=props.detected, threads=gate.threads, held_out=gate.held_out, error=panel.error)
    targeting.resolve_target = gate.fn

    target = panel.target
    clip, _ = targeting.to_target(synthetic.walking(5.0), target)
    for seed in (0, 1):
        panel.host.apply_take(rig.name, clip, f"walk_s{seed}", {"prompt": "walk", "seed": seed})
    session.sync_takes()
    for item in props.takes:
        item.selected = True

    gate = Gate(registry.export)
    registry.export = gate
    path = OUT / "takes.glb"
    result, ms = timed(bpy.ops.motionbridge.export_takes, filepath=str(path))
    report["export"] = {"result": sorted(result), "op_ms": ms, "file_at_return": path.exists(),
                        "released_at_return": gate.release.is_set()}
    gate.release.set()
    pump(lambda: panel.scene_jobs.pending == 0)
    registry.export = gate.fn
    report["export"].update(threads=gate.threads, held_out=gate.held_out, status=panel.status, error=panel.error,
                            files=sorted(p.name for p in OUT.iterdir()), timings=panel.scene_jobs.timings)
    report["main_thread"] = threading.main_thread().name
    extension.unregister()


run_and_report(main, report, OUT)
