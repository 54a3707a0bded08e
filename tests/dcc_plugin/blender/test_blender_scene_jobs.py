"""Detect and Export in real bpy: the operators return while the heavy part is held on the
scene worker (so it cannot be running on Blender's main thread), the file is written
atomically, and the outcome arrives through the timer queue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bpy")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # scenario_report, beside this file
from scenario_report import read_report

pytestmark = pytest.mark.blender
HOLD_S = 10.0  # the scenario's gate: an operator that did the work itself would take this long


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("scene_jobs")
    env = dict(os.environ, MOTIONBRIDGE_CONFIG_DIR=str(out / "config"))
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("scene_jobs_scenario.py")), str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    return read_report(out, proc.returncode, proc.stderr), out


def test_detect_runs_off_the_main_thread(report):
    data, _ = report
    d = data["detect"]
    print(f"\nDetect operator returned in {d['op_ms']:.1f} ms")
    assert d["result"] == ["FINISHED"] and not d["released_at_return"] and d["detected_at_return"] == ""
    assert d["op_ms"] < HOLD_S * 1000 / 10  # nowhere near the gate's hold
    assert d["threads"] == ["motionbridge-scene-jobs"] and data["main_thread"] not in d["threads"]
    assert not d["held_out"] and d["error"] == ""
    assert d["detected"].startswith("MixamoHero: mixamo")


def test_export_runs_off_the_main_thread_and_writes_atomically(report):
    data, out = report
    e = data["export"]
    print(f"\nExport operator returned in {e['op_ms']:.1f} ms (key snapshot {e['timings']['export_snapshot_ms'][0]:.1f} ms, "
          f"writing on the worker {e['timings']['export_work_ms'][0]:.0f} ms)")
    assert e["result"] == ["FINISHED"] and not e["released_at_return"] and not e["file_at_return"]
    assert e["op_ms"] < HOLD_S * 1000 / 10
    assert e["threads"] == ["motionbridge-scene-jobs"] and not e["held_out"]
    assert e["error"] == "" and e["status"].startswith("Exported 2 take(s) to")
    assert [f for f in e["files"] if f != "config"] == ["takes.glb"]  # no temp file left behind
    import pygltflib

    glb = pygltflib.GLTF2().load(str(out / "takes.glb"))
    assert sorted(a.name for a in glb.animations) == ["walk_s0", "walk_s1"]
