"""Preset auto-detection, mapping files and load_rig."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionbridge.rigs import RigError, detect_rig, load_rig, preset, preset_names, read_mapping_file, skeleton_from_world
from motionbridge.rigs.humanoid import build_rig
from motionbridge.rigs.skeleton import nearest_kept_ancestors

FAMILIES = ["mixamo", "ue5_manny", "ue4_mannequin", "humanik", "rigify", "cc4", "smplx", "smplh", "max_biped", "advanced_skeleton",
            "daz_genesis8"]


def test_every_family_has_a_preset():
    assert set(FAMILIES) <= set(preset_names())


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("prefix", [None, "", "Hero01:"])
def test_detection_from_scrambled_bones(family, prefix):
    for seed, axes in ((1, "identity"), (7, "y_along_bone")):
        rig = build_rig(family, pose="A", bone_axes=axes, up_axis="z", units="cm", prefix=prefix, scramble_seed=seed)
        found = detect_rig(rig)
        assert found.preset == family
        assert found.unmapped_required == ()
        assert found.confidence > 0.9
        idx = found.mapping.indices()
        assert rig.names[idx["hips"]].endswith(preset(family).bones["hips"])
        assert set(found.mapped) >= {"left_hand", "right_foot", "head"}


def test_mixamo_names_carry_the_namespace():
    rig = build_rig("mixamo")
    assert rig.names[0] == "mixamorig:Hips"
    assert detect_rig(rig).mapping.bones["left_lower_arm"] == "mixamorig:LeftForeArm"


BODY_ONLY = ("hips", "spine", "chest", "upper_chest", "neck", "head",
             "left_shoulder", "left_upper_arm", "left_lower_arm", "left_hand",
             "right_shoulder", "right_upper_arm", "right_lower_arm", "right_hand",
             "left_upper_leg", "left_lower_leg", "left_foot", "left_toes",
             "right_upper_leg", "right_lower_leg", "right_foot", "right_toes")


def body_only_rig(family: str, prefix: str):
    """The family's 22 body bones and nothing else (no fingers, eyes or end bones), as a
    character made or cleaned up in a DCC often has."""
    full = build_rig(family, prefix=prefix)
    bones = preset(family).bones
    kept = sorted(full.index(prefix + bones[c]) for c in BODY_ONLY)
    parents = [kept.index(p) if p >= 0 else -1 for p in nearest_kept_ancestors(kept, list(full.parents))]
    return skeleton_from_world([full.names[j] for j in kept], parents, full.rest_world()[1][kept])


@pytest.mark.parametrize("prefix", ["mixamorig:", "mixamorig1:", "mixamorig2:", "MixamoRig:", "Hero:mixamorig:"])
def test_body_only_mixamo_rig_with_its_namespace_is_mixamo(prefix):
    """HumanIK has the same body bone names; the `mixamorig:` namespace decides (it used to be
    a tie that HumanIK won at 77 % by coming first in alphabetical order)."""
    found = detect_rig(body_only_rig("mixamo", prefix))
    assert found.preset == "mixamo"
    assert found.mapping.bones["left_upper_leg"] == prefix + "LeftUpLeg"
    assert found.confidence > 0.85


def test_body_only_humanik_rig_with_its_character_prefix_is_humanik():
    found = detect_rig(body_only_rig("humanik", "Character1_"))
    assert found.preset == "humanik"
    assert found.mapping.bones["hips"] == "Character1_Hips"


def test_rigify_prefers_deform_bones_when_def_and_org_coexist():
    deform = build_rig("rigify", prefix="DEF-")
    org = build_rig("rigify", prefix="ORG-")
    names = list(deform.names) + list(org.names)
    parents = list(deform.parents) + [p + deform.num_joints if p >= 0 else -1 for p in org.parents]
    both = skeleton_from_world(names, parents, np.concatenate([deform.rest_world()[1], org.rest_world()[1]]))
    found = detect_rig(both)
    assert found.preset == "rigify"
    assert found.mapping.bones["left_upper_arm"] == "DEF-upper_arm.L"
    only_org = detect_rig(org)
    assert only_org.mapping.bones["left_upper_arm"] == "ORG-upper_arm.L"


def test_quadruped_names_are_refused_with_a_way_out():
    names = ["root", "Hips", "Spine", "Neck", "Head", "Tail1", "Tail2",
             "FrontLeg_L", "FrontKnee_L", "FrontFoot_L", "FrontLeg_R", "FrontKnee_R", "FrontFoot_R",
             "BackLeg_L", "BackKnee_L", "BackFoot_L", "BackLeg_R", "BackKnee_R", "BackFoot_R"]
    parents = [-1, 0, 1, 2, 3, 1, 5, 2, 7, 8, 2, 10, 11, 1, 13, 14, 1, 16, 17]
    pos = np.array([[0, 0, 0], [0, 0.6, -0.4], [0, 0.62, 0.1], [0, 0.7, 0.4], [0, 0.8, 0.55], [0, 0.6, -0.5], [0, 0.55, -0.7],
                    [0.1, 0.55, 0.35], [0.1, 0.3, 0.35], [0.1, 0.0, 0.35], [-0.1, 0.55, 0.35], [-0.1, 0.3, 0.35], [-0.1, 0.0, 0.35],
                    [0.1, 0.55, -0.4], [0.1, 0.3, -0.45], [0.1, 0.0, -0.4], [-0.1, 0.55, -0.4], [-0.1, 0.3, -0.45], [-0.1, 0.0, -0.4]])
    with pytest.raises(RigError, match="mapping file") as err:
        detect_rig(skeleton_from_world(names, parents, pos))
    assert "left_upper_arm" in str(err.value)


def test_quadruped_with_humanoid_names_is_refused_by_its_pose():
    """UE-named bones, but the body lies along the ground with the 'arms' as front legs."""
    rig = build_rig("ue4_mannequin", pose="T", units="cm")
    _, pos = rig.rest_world()
    idx = preset("ue4_mannequin").bind(rig).indices()
    hips = pos[idx["hips"]]
    # tip the body forward by 90 degrees about the hips, then drop the arms to the ground
    tipped = hips + (pos - hips) @ np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]]).T
    for side in ("left", "right"):
        arm_words = ("upperarm", "lowerarm", "hand", "thumb", "index", "middle", "ring", "pinky")
        chain = [j for j, n in enumerate(rig.names) if n.endswith(f"_{side[0]}") and any(k in n for k in arm_words)]
        shoulder = tipped[idx[f"{side}_upper_arm"]]
        tipped[chain] = shoulder + (tipped[chain] - shoulder) @ np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]]).T * [1, 1, 1]
        tipped[chain, 1] = np.minimum(tipped[chain, 1], shoulder[1]) - np.abs(tipped[chain, 0] - shoulder[0])
    animal = skeleton_from_world(rig.names, rig.parents, tipped, units="cm")
    with pytest.raises(RigError, match="quadruped"):
        detect_rig(animal)


def test_mapping_file_json_and_toml(tmp_path):
    rig = build_rig("mixamo", prefix="Studio_")
    bones = {c: "Studio_" + b for c, b in preset("mixamo").bones.items()}
    json_path = tmp_path / "hero.json"
    json_path.write_text(json.dumps({"name": "hero", "bones": bones}))
    desc = read_mapping_file(json_path).bind(rig)
    assert desc.name == "hero" and desc.indices()["left_hand"] == rig.index("Studio_LeftHand")
    toml_path = tmp_path / "hero.toml"
    toml_path.write_text('name = "hero2"\nextends = "mixamo"\n[bones]\nhead = "Studio_Neck"\nneck = "Studio_Head"\n')
    desc2 = load_rig(toml_path).bind(rig)
    assert desc2.bones["head"] == "Studio_Neck" and desc2.bones["left_foot"] == "Studio_LeftFoot"


def test_mapping_naming_missing_bones_is_refused(tmp_path):
    rig = build_rig("mixamo")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"extends": "mixamo", "bones": {"left_hand": "mixamorig:LeftPaw"}}))
    with pytest.raises(RigError, match="LeftPaw"):
        read_mapping_file(path).bind(rig)


@pytest.mark.parametrize(
    "content, message",
    [
        ({"bones": {"left_wing": "Wing_L"}}, "unknown canonical bone"),
        ({"bone": {"hips": "Hips"}}, "unknown keys"),
        ({"bones": {"hips": ""}}, "non-empty"),
        ({"bones": {"hips": "Hips", "spine": "Hips"}}, "several canonical"),
        ({"bones": {"hips": "Hips"}, "prefixes": "mixamorig:"}, "list of strings"),
    ],
)
def test_bad_mapping_files(tmp_path, content, message):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(content))
    with pytest.raises(RigError, match=message):
        read_mapping_file(path)


def test_load_rig_specs(tmp_path):
    assert load_rig("UE5_Manny").name == "ue5_manny"
    with pytest.raises(RigError, match="presets are|preset"):
        load_rig("nosuchrig")
    with pytest.raises(RigError, match="not found"):
        load_rig(tmp_path / "missing.fbx")
    with pytest.raises(RigError, match="not valid JSON"):
        (tmp_path / "x.json").write_text("{")
        load_rig(tmp_path / "x.json")


def test_mapping_template_for_an_unknown_rig(tmp_path):
    """A studio rig detection refuses: the template names what is missing, and once filled in it works."""
    from motionbridge.rigs.template import mapping_template

    base = build_rig("mixamo", prefix="")
    renames = {"LeftArm": "L_UpperArm_jnt", "RightArm": "R_UpperArm_jnt", "LeftForeArm": "L_Elbow_jnt", "RightForeArm": "R_Elbow_jnt"}
    rig = skeleton_from_world([renames.get(n, n) for n in base.names], base.parents, base.rest_world()[1])
    with pytest.raises(RigError, match="left_upper_arm"):
        detect_rig(rig)
    template, unused = mapping_template(rig, "studio")
    assert template["bones"]["left_upper_arm"] == "?" and template["bones"]["hips"] == "Hips"
    assert set(renames.values()) <= set(unused)
    path = tmp_path / "studio.json"
    path.write_text(json.dumps(template))
    with pytest.raises(RigError, match="marked"):
        read_mapping_file(path)
    template["bones"].update(left_upper_arm="L_UpperArm_jnt", right_upper_arm="R_UpperArm_jnt",
                             left_lower_arm="L_Elbow_jnt", right_lower_arm="R_Elbow_jnt")
    path.write_text(json.dumps(template))
    desc = read_mapping_file(path).bind(rig)
    assert desc.unmapped_required == () and desc.indices()["left_lower_arm"] == rig.index("L_Elbow_jnt")
