"""End to end in real headless Blender (the installed bpy; with MOTIONBRIDGE_E2E_EVERY_BPY=1
also every other bpy release in tests/.tools: bpy_builds.py) against a real daemon serving the tiny
parity model on CPU. The scenario runs in a bpy subprocess (e2e_scenario.py) and reports
what the scene holds; the assertions live here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bpy")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "daemon"))
sys.path.insert(0, str(HERE))  # scenario_report, beside this file
from bpy_builds import builds, env_for  # noqa: E402
from scenario_report import run_against_daemon  # noqa: E402

# the tiny model is slow on shared CPU cores: three generations can take minutes
pytestmark = [pytest.mark.blender, pytest.mark.slow, pytest.mark.timeout(2400)]
RETARGET_TOLERANCE_DEG = 2.0  # rigs' retarget tolerance on bone directions (tests/rigs)
UI_BUDGET_MS = 100.0
WRITE_TARGET_MS = 50.0


# the daemon runs are slow on shared cores: the other bpy releases only when asked
# (MOTIONBRIDGE_E2E_EVERY_BPY=1); the cheaper Blender tests run on every build always
BUILDS = builds() if os.environ.get("MOTIONBRIDGE_E2E_EVERY_BPY") == "1" else builds()[:1]


@pytest.fixture(scope="module", params=[folder for _, folder in BUILDS], ids=[label for label, _ in BUILDS])
def run(request, parity, tmp_path_factory):
    out = tmp_path_factory.mktemp("blender_e2e")
    te = parity / "text_encoders"
    daemon_args = ("--checkpoint", str(parity / "model"), "--qwen", str(te / "qwen3"), "--clip", str(te / "clip"), "--device", "cpu")
    env = dict(env_for(request.param), MOTIONBRIDGE_CONFIG_DIR=str(out / "config"))
    return run_against_daemon(HERE / "e2e_scenario.py", daemon_args, out, env, 2300), out


def test_takes_are_layered_actions_on_their_own_nla_tracks(run):
    report, _ = run
    assert report["state_1"] == "take_written", report["status_1"]
    assert report["state_3"] == "take_written", report["status_3"]
    takes = report["takes"]
    mixamo = {n: t for n, t in takes.items() if t["rig"] == "MixamoHero"}
    rigify = {n: t for n, t in takes.items() if t["rig"] == "RigifyHero"}
    assert len(mixamo) == 2 and len(rigify) == 1, sorted(takes)
    for name, t in takes.items():
        assert t["track"] == t["action"] == name and t["layered"]
        assert t["key_counts"] == [t["source_frames"]], "every F-curve has one key per frame"
        assert t["frame_range"] == [1, t["source_frames"]] and t["fps"] == 30.0
    assert {t["source_frames"] for t in mixamo.values()} == {30}  # 1 s at 30 fps
    assert {t["source_frames"] for t in rigify.values()} == {150}  # 5 s
    assert all(t["nla_tracks_on_rig"] == 2 for t in mixamo.values())  # takes coexist


def test_posed_bones_follow_the_smplx_forward_kinematics(run):
    report, _ = run
    assert len(report["fk"]) == 3
    for name, worst in report["fk"].items():
        assert worst < RETARGET_TOLERANCE_DEG, f"{name}: bone directions off by {worst:.2f} deg"


def test_take_metadata_is_stored_on_the_take(run):
    report, _ = run
    for t in report["takes"].values():
        meta = t["metadata"]
        if t["rig"] == "MixamoHero":  # the Rigify take has the long prompt (checked below)
            assert meta["prompt"] == "A person walks forward."
        assert meta["cfg"] == 5.0
        assert meta["model"] and meta["model_hash"] and meta["daemon_version"]
        # Mixamo bone names minus the prefix are HumanIK's: the mixamorig: namespace decides
        assert meta["rig_preset"] == ("mixamo" if t["rig"] == "MixamoHero" else "rigify") and meta["retarget_metrics"]
    seeds = sorted(t["metadata"]["seed"] for t in report["takes"].values() if t["rig"] == "MixamoHero")
    assert seeds == [0, 1]
    assert report["detected_mixamo"].startswith("MixamoHero: mixamo")


def test_a_prompt_past_128_tokens_shows_the_truncation_warning(run):
    report, _ = run
    rigify = [t for t in report["takes"].values() if t["rig"] == "RigifyHero"]
    assert rigify[0]["metadata"]["prompt"].startswith("A person walks forward, looks around")
    assert any("over the model's 128; the end was cut off" in w for w in report["warnings_3"]), report["warnings_3"]


def test_cancel_leaves_no_take_and_previews_drive_the_rig(run):
    report, _ = run
    assert report["after_cancel_new_takes"] == [] and report["state_cancel"] == "connected"
    assert report["previews"] >= 1


def test_bad_input_messages(run):
    report, _ = run
    errors = report["errors"]
    assert "press Connect" in errors["not_connected"]
    assert "Cannot reach the MotionBridge daemon at tcp://127.0.0.1:1" in errors["unreachable"]
    assert "no armature selected" in errors["no_armature"] and "MixamoHero" in errors["no_armature"]
    assert "already exists" in errors["rename_clash"]
    assert "no takes ticked" in errors["export_none"]


def test_ui_never_blocks(run):
    """Talking to the daemon never blocks: connect, generate, cancel return at once, and every
    timer tick, including those that write a take's keys, stays under budget."""
    report, _ = run
    for name in ("motionbridge.connect", "motionbridge.generate", "motionbridge.cancel", "motionbridge.detect", "motionbridge.export_takes"):
        worst = max(report["operator_ms"][name])
        assert worst < UI_BUDGET_MS, f"{name} blocked the UI for {worst:.0f} ms (calls: {[round(x) for x in report['operator_ms'][name]]} ms)"
    ticks = report["drain_ms"] + report["drain_write_ms"]
    assert max(ticks) < UI_BUDGET_MS, f"a timer tick blocked {max(ticks):.0f} ms"
    assert report["drain_write_ms"], "no tick wrote a take"


def test_rename_delete_and_export_read_back(run):
    report, out = run
    assert "hero_wave_v2" in report["after_delete"] and len(report["after_delete"]) == 2
    assert report["ui_list"] == report["after_delete"]
    assert not any(a.startswith("mb_walks_forward_s0") and a.endswith("s0") for a in report["actions_after_delete"]
                   if a in report["takes"] and report["takes"][a]["rig"] == "MixamoHero")
    import pygltflib

    glb = pygltflib.GLTF2().load(str(out / "mixamo_takes.glb"))
    assert sorted(a.name for a in glb.animations) == sorted(["mb_walks_forward_s0", "hero_wave_v2"])
    assert any(n.name and n.name.endswith("Hips") for n in glb.nodes)
    dump = out / "fbx.json"
    proc = subprocess.run([sys.executable, str(HERE.parents[1] / "exporters" / "ufbx_readback.py"), str(out / "mixamo_takes.fbx"), "30", str(dump)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    fbx = json.loads(dump.read_text())
    assert sorted(fbx["takes"]) == sorted(["mb_walks_forward_s0", "hero_wave_v2"])


def test_write_time_for_a_5s_clip(run, record_property):
    report, _ = run
    timing = report["timing"]
    for key in ("result_to_keys_ms", "retarget_ms_5s", "keys_ms_5s"):
        record_property(key, timing[key])
    print(f"\n5 s clip, no model time: result -> keys written {timing['result_to_keys_ms']:.1f} ms "
          f"(retarget on the worker {timing['retarget_ms_5s']:.1f} ms, keys on the main thread {timing['keys_ms_5s']:.1f} ms; "
          f"target {WRITE_TARGET_MS:.0f} ms); tick that wrote it: {max(report['drain_write_ms']):.1f} ms max")
    # measured and reported, not asserted against the target: CI cores are shared
    assert 0 < timing["keys_ms_5s"] <= timing["result_to_keys_ms"]
