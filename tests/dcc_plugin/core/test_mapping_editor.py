"""The mapping editor's model: rows with per-bone confidence, a fix from a bone list, and a
mapping file that the rigs loader and `motionbridge convert --rig FILE` take unchanged."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from motionbridge.dcc_plugin.core import mapping_editor
from motionbridge.rigs import Skeleton, load_rig, synthetic
from motionbridge.rigs.humanoid import build_rig


def renamed(skeleton: Skeleton, old: str, new: str) -> Skeleton:
    return dataclasses.replace(skeleton, names=tuple(new if n == old else n for n in skeleton.names))


@pytest.fixture
def hero():
    """A Mixamo rig whose hips bone has a studio name: detection cannot map it alone."""
    return renamed(build_rig("mixamo"), "mixamorig:Hips", "Root_Pelvis_JNT")


def test_rows_show_each_bone_with_its_confidence_and_the_unmapped_ones(hero):
    rows = {r.canonical: r for r in mapping_editor.rows_for(hero)}
    assert rows["hips"].unmapped and rows["hips"].required and rows["hips"].confidence == 0.0
    assert rows["left_upper_arm"].bone == "mixamorig:LeftArm" and rows["left_upper_arm"].confidence == 1.0
    assert all(r.bone in hero.names for r in rows.values() if r.bone)


def test_fix_a_row_and_save_a_file_the_cli_accepts(hero, tmp_path):
    rows = mapping_editor.rows_for(hero)
    with pytest.raises(ValueError, match="map hips before saving"):
        mapping_editor.mapping_document("hero", rows)
    with pytest.raises(ValueError, match="not a bone of this rig"):
        mapping_editor.set_bone(rows, "hips", "NoSuchBone", hero.names)
    mapping_editor.set_bone(rows, "hips", "Root_Pelvis_JNT", hero.names)
    assert next(r for r in rows if r.canonical == "hips").confidence == 1.0
    path = tmp_path / "hero_mapping.json"
    path.write_text(mapping_editor.mapping_text("hero", rows))
    bound = load_rig(str(path)).bind(hero)
    assert bound.unmapped_required == () and bound.bones["hips"] == "Root_Pelvis_JNT"
    from motionbridge.exporters import registry

    take = tmp_path / "walk.npz"
    registry.export(take, [synthetic.walking(1.0)], ["walk"])
    out = tmp_path / "walk_hero.bvh"
    done = subprocess.run([sys.executable, "-m", "motionbridge.daemon.cli", "convert", str(take), str(out), "--rig", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Root_Pelvis_JNT" in out.read_text()


def test_a_bone_moved_to_another_row_leaves_the_first(hero):
    rows = mapping_editor.rows_for(hero)
    mapping_editor.set_bone(rows, "hips", "mixamorig:Spine", hero.names)
    assert next(r for r in rows if r.canonical == "spine").unmapped  # one bone drives one humanoid bone


def test_the_file_goes_next_to_the_scene():
    assert mapping_editor.mapping_path_beside("/shots/sc01/anim.blend", "Hero:Rig").as_posix() == "/shots/sc01/Hero_Rig_mapping.json"
    with pytest.raises(ValueError, match="save the scene first"):
        mapping_editor.mapping_path_beside("", "Hero")
