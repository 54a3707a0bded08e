"""The Blender panel in real bpy (no daemon): Target follows the selection, an error is one
short line with its details kept and can be dismissed, an unmappable rig opens the mapping
editor whose saved file Detect, the rigs loader and `motionbridge convert` accept, and the
takes list keeps its order, highlight and audition (panel_scenario.py). On every bpy build
(bpy_builds.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bpy")
pytestmark = pytest.mark.blender
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bpy_builds import builds, env_for  # noqa: E402
from scenario_report import read_report  # noqa: E402

BUILDS = builds()


@pytest.fixture(scope="module", params=[folder for _, folder in BUILDS], ids=[label for label, _ in BUILDS])
def run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("blender_panel")
    proc = subprocess.run([sys.executable, str(HERE / "panel_scenario.py"), str(out)], capture_output=True, text=True, timeout=600,
                          env={**env_for(request.param), "MOTIONBRIDGE_CONFIG_DIR": str(out / "settings")})
    return read_report(out, proc.returncode, proc.stderr), out


def test_target_follows_the_selection_or_the_panel_says_it_differs(run):
    report, _ = run
    assert report["no_target"].startswith("ERROR no armature selected") and report["no_target_cause"] == "target"
    assert report["detect_mixamo"].startswith("MixamoHero: mixamo") and report["target_after_mixamo"] == "MixamoHero"
    assert report["error_after_choosing"] == ""  # picking an armature clears the "no armature" error
    assert report["detect_rigify"].startswith("RigifyHero: rigify")
    # Follow selection off: Target stays, and the panel names the other selected armature
    assert report["animates_not_following"] == "RigifyHero" and report["selection_differs"] == "MixamoHero"
    assert report["detect_not_following"].startswith("RigifyHero")
    assert report["after_use_selection"] == "MixamoHero"


def test_an_unmappable_rig_is_one_line_and_opens_the_mapping_editor(run):
    report, _ = run
    assert report["error_summary"] == "rig 'StudioHero' cannot be mapped automatically"
    assert report["error_cause"] == "mapping" and "python -m" not in report["error_full"]
    assert report["editor_rig"] == "StudioHero"
    rows = report["editor_rows"]
    assert rows["hips"] == ["", 0.0, True] and rows["spine"][0] == "" and rows["left_upper_arm"] == ["LeftArm", 1.0, True]
    assert report["save_unfixed"].startswith("ERROR map hips, spine before saving")


def test_the_saved_mapping_is_used_by_detect_the_loader_the_cli_and_batch(run):
    report, out = run
    path = Path(report["mapping_file"])
    assert report["save_fixed"] == "{'FINISHED'}" and report["fixed_confidence"] == 1.0
    assert path == out / "StudioHero_mapping.json"  # next to the .blend
    assert report["error_after_save"] == "" and report["detect_with_mapping"].startswith("StudioHero: StudioHero (100%)")
    assert report["editor_closed"] == 0
    from motionbridge.exporters import registry
    from motionbridge.rigs import load_rig, synthetic

    assert load_rig(str(path)).bones["hips"] == "Root_Pelvis_JNT"
    take = out / "walk.npz"
    registry.export(take, [synthetic.walking(1.0)], ["walk"])
    done = subprocess.run([sys.executable, "-m", "motionbridge.daemon.cli", "convert", str(take), str(out / "walk.bvh"), "--rig", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Root_Pelvis_JNT" in (out / "walk.bvh").read_text()
    from motionbridge.daemon.batch import retarget as batch_rig  # what `motionbridge batch --rig FILE` runs per take

    batch_rig.check_spec(str(path))
    clip, _ = batch_rig.apply(str(path), synthetic.walking(1.0))
    assert clip.skeleton.names[0] == "Root_Pelvis_JNT"


def test_an_error_can_be_dismissed(run):
    report, _ = run
    assert report["dismiss_before"] and report["dismiss_after"] == ""


def test_takes_keep_their_order_highlight_and_audition(run):
    report, _ = run
    # the first take of an armature plays (nothing was auditioned on it)
    assert report["takes_1"] == {"order": ["rig_walk"], "highlighted": "rig_walk", "playing": ["rig_walk"], "rigs": ["RigifyHero"]}
    # a new take goes to the end and the highlight stays on its take (no re-sort by armature or name)
    assert report["takes_2"]["order"] == ["rig_walk", "walk_b"] and report["takes_2"]["highlighted"] == "rig_walk"
    third = report["takes_3"]
    assert third["order"] == ["rig_walk", "walk_b", "walk_a", "walk_0"] and third["highlighted"] == "walk_b"
    assert third["playing"] == ["rig_walk", "walk_a"]  # walk_0 came in muted: walk_a is still auditioned
    assert third["rigs"] == ["RigifyHero", "MixamoHero", "MixamoHero", "MixamoHero"]


def test_hover_text_names_armature_seed_prompt_and_export_suggests_the_take(run):
    report, out = run
    assert report["tooltip"].startswith("Armature MixamoHero, seed 6\nwalk_a prompt")
    assert report["export_suggestion"] == str(out / "walk_0.fbx")
