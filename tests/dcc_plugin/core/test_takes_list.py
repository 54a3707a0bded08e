import os

from motionbridge.dcc_plugin.core.host import TakeInfo
from motionbridge.dcc_plugin.core.takes_list import TakesList


def info(name: str, rig: str = "", seed: int = 1, prompt: str = "walk", meta_rig: str = "") -> TakeInfo:
    meta = {"seed": seed, "prompt": prompt}
    if meta_rig:
        meta["rig"] = meta_rig
    return TakeInfo(name, rig, 1, 10, 30.0, meta)


def test_new_takes_append_without_reordering_or_moving_the_selection():
    tl = TakesList()
    tl.sync([info("mb_walk_s2"), info("mb_run_s1")], playing=[])
    tl.select_indices([1])
    # the scene now lists takes in another order, with a new one in the middle
    tl.sync([info("mb_aaa_s0"), info("mb_run_s1"), info("mb_walk_s2")], playing=[])
    assert [r.name for r in tl.rows] == ["mb_walk_s2", "mb_run_s1", "mb_aaa_s0"]
    assert tl.selected == ["mb_run_s1"] and tl.selected_indices() == [1]
    # a deleted take drops out with its selection; the rest keep their order
    tl.sync([info("mb_walk_s2"), info("mb_aaa_s0")], playing=[])
    assert [r.name for r in tl.rows] == ["mb_walk_s2", "mb_aaa_s0"] and tl.selected == []


def test_label_has_full_name_rig_seed_and_playing_marker():
    long_name = "mb_" + "very_long_prompt_words_" * 3 + "s123"
    tl = TakesList()
    tl.sync([info(long_name, rig="Hero", seed=123), info("mb_b_s4", meta_rig="|root|hips", seed=4)], playing=["mb_b_s4"])
    first, second = tl.labels()
    assert long_name in first and "[Hero]" in first and "s123" in first and not first.startswith(">")
    assert second.startswith("> ") and "[|root|hips]" in second
    tl.select_indices([0])
    assert tl.hover_text().splitlines() == [long_name, "Rig Hero, seed 123", "walk"]
    # the marker follows the playing take on the next sync
    tl.sync([info(long_name, rig="Hero", seed=123), info("mb_b_s4", meta_rig="|root|hips", seed=4)], playing=[long_name])
    assert tl.labels()[0].startswith("> ") and not tl.labels()[1].startswith(">")


def test_rename_starts_from_the_current_name():
    tl = TakesList()
    assert tl.rename_default() == ""
    tl.sync([info("mb_a_s1"), info("mb_b_s2")], playing=[])
    tl.select_indices([1, 0, 7])
    assert tl.rename_default() == "mb_a_s1"  # the first selected row, in list order
    tl.select_indices([1])
    assert tl.rename_default() == "mb_b_s2"


def test_delete_is_confirmed_and_says_whether_undo_restores_it():
    tl = TakesList()
    tl.sync([info("mb_a_s1")], playing=[])
    assert tl.delete_question(undoable=True) == ""  # nothing selected: nothing to delete
    tl.select_indices([0])
    assert "'mb_a_s1'" in tl.delete_question(undoable=True) and "Ctrl+Z" in tl.delete_question(undoable=True)
    assert "cannot be undone" in tl.delete_question(undoable=False)


def test_export_suggests_take_name_with_extension_beside_the_scene():
    tl = TakesList()
    tl.sync([info("mb_a_s1"), info('odd:na/me')], playing=[])
    scene = os.path.join("proj", "shot.ma")
    assert tl.export_path(scene) == os.path.join("proj", "takes.fbx")
    tl.select_indices([1, 0])
    assert tl.export_path(scene, "glb") == os.path.join("proj", "mb_a_s1.glb")
    tl.select_indices([1])
    assert tl.export_path(scene, ".bvh") == os.path.join("proj", "odd_na_me.bvh")
    assert tl.export_path("", ".fbx") == os.path.join(os.getcwd(), "odd_na_me.fbx")


def test_a_renamed_take_keeps_its_row_and_selection():
    tl = TakesList()
    tl.sync([info("mb_a_s1"), info("mb_b_s2"), info("mb_c_s3")], playing=[])
    tl.select_indices([0])
    tl.renamed("mb_a_s1", "hero_walk")
    tl.sync([info("mb_b_s2"), info("mb_c_s3"), info("hero_walk")], playing=[])
    assert [r.name for r in tl.rows] == ["hero_walk", "mb_b_s2", "mb_c_s3"]
    assert tl.selected == ["hero_walk"] and tl.rename_default() == "hero_walk"
