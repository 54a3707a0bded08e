"""Retargeting accuracy on every preset family, checked from the result's own FK."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from motionbridge.rigs import (
    RetargetOptions,
    RigError,
    convert_axes,
    convert_handedness,
    convert_units,
    detect_rig,
    load_rig,
    preset,
    retarget,
)
from motionbridge.rigs.humanoid import Proportions, build_rig
from motionbridge.rigs.smplx import smplx_skeleton

VARIANTS = [
    dict(pose="T", bone_axes="identity", up_axis="y", units="m", proportions=Proportions()),
    dict(pose="A", bone_axes="y_along_bone", up_axis="z", units="cm", proportions=Proportions(scale=1.1, legs=1.15, arms=0.9, shins=0.9)),
    dict(pose="A", bone_axes="x_along_bone", up_axis="y", units="cm", proportions=Proportions(scale=0.7, spine=1.2, arms=1.1)),
]
FAMILIES = ["mixamo", "ue5_manny", "ue4_mannequin", "humanik", "rigify", "cc4", "smplx", "smplh", "max_biped", "advanced_skeleton",
            "daz_genesis8"]
LIMB_PAIRS = [  # (bone, points at) whose directions the angle checks use
    ("left_upper_arm", "left_lower_arm"), ("left_lower_arm", "left_hand"), ("right_upper_arm", "right_lower_arm"),
    ("right_lower_arm", "right_hand"), ("left_upper_leg", "left_lower_leg"), ("left_lower_leg", "left_foot"),
    ("right_upper_leg", "right_lower_leg"), ("right_lower_leg", "right_foot"), ("spine", "chest"), ("neck", "head"),
]


def limb_dirs(clip, mapping):
    idx = mapping.indices()
    _, pos = clip.world()
    d = np.stack([pos[:, idx[b]] - pos[:, idx[c]] for c, b in LIMB_PAIRS], axis=1)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def pairwise_angles(dirs):
    """Angles between every pair of limbs: independent of the world frame of either rig."""
    return np.degrees(np.arccos(np.clip(np.einsum("fik,fjk->fij", dirs, dirs), -1, 1)))


@pytest.mark.parametrize("motion", ["walking", "waving", "squatting"])
def test_identity_retarget_reproduces_joint_positions(motions, motion):
    src = motions[motion]
    result = retarget(src, smplx_skeleton())
    _, expected = src.world()
    _, got = result.clip.world()
    assert np.abs(got - expected).max() < 1e-5
    assert result.metrics["direction_error_deg"]["max_deg"] < 1e-4
    assert result.metrics["root_path_length_ratio"] is None or abs(result.metrics["root_path_length_ratio"] - 1) < 1e-6


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_follows_the_source_limbs(motions, family, record_property):
    src_map = preset("smplx").bind(smplx_skeleton())
    worst = 0.0
    for variant in VARIANTS:
        rig = build_rig(family, **variant)
        for motion, src in motions.items():
            result = retarget(src, rig)
            err = result.metrics["direction_error_deg"]
            assert err["mean_deg"] <= 0.05, (variant, motion, err["mean_deg"])  # measured worst 0.019
            worst = max(worst, err["max_deg"])
            # independent check: every angle between two limbs matches the source's
            diff = np.abs(pairwise_angles(limb_dirs(result.clip, result.mapping)) - pairwise_angles(limb_dirs(src, src_map)))
            assert diff.mean() <= 3e-7 and diff.max() < 5e-6, (variant, motion, diff.mean(), diff.max())  # measured 7.2e-8, 1.7e-6
    record_property("max_direction_error_deg", worst)
    print(f"{family}: max direction error {worst:.2e} deg")


def test_an_a_pose_rig_is_not_driven_as_a_t_pose(motions):
    """Rest alignment matters: without it arms would be off by the 45 degree A-pose angle."""
    t_rig = build_rig("mixamo", pose="T")
    a_rig = build_rig("mixamo", pose="A")
    src = motions["waving"]
    _, pos_t = retarget(src, t_rig).clip.world()
    _, pos_a = retarget(src, a_rig).clip.world()
    # same proportions, so the same motion whatever the rest pose; the finger twist may differ by
    # a fraction of a millimetre (the A-pose turn is about world Z, the body frame's forward
    # leans 0.8 degrees), while a T-pose reading of the A-pose would be off by decimetres
    np.testing.assert_allclose(pos_a, pos_t, atol=5e-4)


def test_axes_and_units_of_the_target_do_not_change_the_motion(motions):
    src = motions["walking"]
    y_m = build_rig("ue5_manny", pose="A", bone_axes="y_along_bone", up_axis="y", units="m")
    z_cm = build_rig("ue5_manny", pose="A", bone_axes="y_along_bone", up_axis="z", units="cm")
    a = convert_units(convert_axes(retarget(src, y_m).clip, "z"), "cm")
    b = retarget(src, z_cm).clip
    np.testing.assert_allclose(a.world()[1], b.world()[1], atol=1e-6)


def test_left_handed_target(motions):
    rig = build_rig("ue4_mannequin", up_axis="z", units="cm")
    left = convert_handedness(rig, "left")
    src = motions["waving"]
    got = retarget(src, left).clip
    assert got.skeleton is left
    expected = convert_handedness(retarget(src, rig).clip, "left")
    np.testing.assert_allclose(got.world()[1], expected.world()[1], atol=1e-6)


def test_foot_locking_removes_skate_after_scaling(motions, record_property):
    rig = build_rig("mixamo", pose="A", proportions=Proportions(legs=1.25, shins=0.8), units="cm")
    free = retarget(motions["walking"], rig, options=RetargetOptions(foot_lock=False))
    locked = retarget(motions["walking"], rig, options=RetargetOptions(foot_lock=True))
    before = free.metrics["foot_skate_cm_s"]["after"]
    after = locked.metrics["foot_skate_cm_s"]["after"]
    assert min(locked.metrics["contact_frames"].values()) >= 10
    assert max(before.values()) > 2.0  # the proportions really make the feet slide
    assert max(after.values()) <= 3e-12  # measured 5.3e-13: the pinned foot does not move
    record_property("skate_cm_s", {"before": before, "after": after})
    # measured independently: the planted foot's horizontal speed over contact frames
    idx = locked.mapping.indices()
    _, pos = locked.clip.world()
    foot = pos[:, idx["left_foot"], [0, 2]]
    contact = free.metrics["contact_frames"]["left"]
    speeds = np.linalg.norm(np.diff(foot, axis=0), axis=-1) * 30.0
    assert np.sort(speeds)[:contact - 1].mean() <= 0.4  # measured 0.13


def test_root_motion_options(motions):
    rig = build_rig("cc4", units="cm", up_axis="z")
    src = motions["walking"]
    up = np.array([0, 0, 1.0])
    hips = detect_rig(rig).mapping.indices()["hips"]
    on = retarget(src, rig, options=RetargetOptions(root_motion="on")).clip.world()[1][:, hips]
    off = retarget(src, rig, options=RetargetOptions(root_motion="off")).clip.world()[1][:, hips]
    inplace = retarget(src, rig, options=RetargetOptions(root_motion="xz_in_place")).clip.world()[1][:, hips]
    assert np.ptp(on[:, 1]) > 50.0  # walks forward (-Y in Z-up) by more than half a metre
    assert np.ptp(off, axis=0).max() < 1e-9
    assert np.ptp(inplace[:, :2], axis=0).max() < 1e-9
    np.testing.assert_allclose(inplace @ up, on @ up, atol=1e-9)
    assert np.ptp(inplace @ up) > 0.5  # the walk's vertical bob survives


def test_zero_heading_turns_the_take_to_face_forward(motions):
    from motionbridge.rigs import quat

    src = motions["walking"]
    turn = quat.from_axis_angle(np.array([0.0, np.radians(70.0), 0.0]))
    rot = src.rotations.copy()
    rot[:, 0] = quat.multiply(turn, rot[:, 0])
    turned = src.replace(rotations=rot, root_translation=quat.rotate(turn, src.root_translation))
    rig = build_rig("mixamo")
    opts = RetargetOptions(keep_heading=False)
    a = retarget(src, rig, options=opts).clip.world()[1]
    b = retarget(turned, rig, options=opts).clip.world()[1]
    np.testing.assert_allclose(b - b[:1, :1], a - a[:1, :1], atol=1e-6)
    kept = retarget(turned, rig).clip.world()[1]
    assert np.abs((kept - kept[:1, :1]) - (a - a[:1, :1])).max() > 0.1


def test_ground_puts_the_lowest_foot_at_zero(motions):
    rig = build_rig("ue5_manny", up_axis="z", units="cm")
    result = retarget(motions["squatting"], rig, options=RetargetOptions(ground=True))
    idx = result.mapping.indices()
    _, pos = result.clip.world()
    feet = [idx[c] for c in ("left_foot", "right_foot", "left_toes", "right_toes")]
    assert abs(pos[:, feet, 2].min()) < 1e-9


def test_hand_options(motions):
    rig = build_rig("mixamo", pose="A", bone_axes="x_along_bone")
    src = motions["waving"]  # its fingers curl, so "model" differs from rest
    fingers = [rig.index("mixamorig:LeftHandIndex2"), rig.index("mixamorig:RightHandMiddle1")]
    model = retarget(src, rig, options=RetargetOptions(hands="model")).clip.rotations[:, fingers]
    rest = retarget(src, rig, options=RetargetOptions(hands="rest")).clip.rotations[:, fingers]
    relaxed_result = retarget(src, rig, options=RetargetOptions(hands="relaxed"))
    relaxed = relaxed_result.clip.rotations[:, fingers]
    np.testing.assert_allclose(rest, np.broadcast_to(rig.rest_rotations[fingers], rest.shape), atol=1e-12)
    assert np.abs(model - rest).max() > 0.05
    assert np.abs(relaxed - rest).max() > 0.05 and np.ptp(relaxed, axis=0).max() < 1e-9
    # relaxed fingers curl towards the palm: the fingertip drops below the knuckle line of a T-posed hand
    t_rig = build_rig("mixamo", pose="T")
    still = src.replace(rotations=np.tile(src.skeleton.rest_rotations, (2, 1, 1)), root_translation=src.root_translation[:2])
    _, pos = retarget(still, t_rig, options=RetargetOptions(hands="relaxed")).clip.world()
    for side in ("Left", "Right"):
        tip, knuckle = pos[0, t_rig.index(f"mixamorig:{side}HandMiddle3")], pos[0, t_rig.index(f"mixamorig:{side}HandMiddle1")]
        assert tip[1] < knuckle[1] - 0.005


def test_metrics_are_reported(motions):
    result = retarget(motions["walking"], build_rig("humanik", pose="A"), options=RetargetOptions(foot_lock=True))
    m = result.metrics
    assert set(m["direction_error_deg"]["per_bone"]) >= {"left_upper_arm", "right_lower_leg", "spine"}
    assert set(m["foot_skate_cm_s"]) == {"source", "before", "after"}
    assert 0.9 < m["root_path_length_ratio"] < 1.1
    assert "Reference" in m["undriven_target_bones"]
    assert result.clip.metadata["retarget"]["rig"] == "humanik"


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(root_motion="sideways"), "root_motion"), (dict(hands="fist"), "hands"), (dict(ground="yes"), "ground")],
)
def test_bad_options(kwargs, message):
    with pytest.raises(RigError, match=message):
        RetargetOptions(**kwargs)


def _parity_clip(parity, case=None):
    """The tiny parity model's decoded take (rot6d + translation): noisy but model-shaped. Any
    case of the fixture (the first by default), whatever the fixture names its cases."""
    import json

    from motionbridge.rigs import Clip, quat

    case = case or json.loads((parity / "cases.json").read_text())["cases"][0]["name"]
    data = np.load(parity / "expected.npz", allow_pickle=False)
    r6 = data[f"{case}/rot6d"][0].astype(np.float64)  # (F, 22, 6): the matrix's first two columns, row by row
    cols = r6.reshape(r6.shape[:-1] + (3, 2))
    a, b = cols[..., 0], cols[..., 1]
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b - np.sum(a * b, -1, keepdims=True) * a
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    m = np.stack([a, b, np.cross(a, b)], axis=-1)
    np.testing.assert_allclose(m[:, 0], data[f"{case}/root_rotations_mat"][0], atol=1e-5)  # the layout is right
    skel = smplx_skeleton()
    rot = np.tile(quat.IDENTITY, (len(m), skel.num_joints, 1))
    rot[:, :22] = quat.from_matrix(m)
    return Clip(skel, rot, data[f"{case}/transl"][0].astype(np.float64), 30.0)


@pytest.mark.parametrize("family", ["mixamo", "ue5_manny", "rigify", "cc4"])
def test_model_shaped_motion_from_the_parity_fixture(parity, family, record_property):
    src = _parity_clip(parity)
    rig = build_rig(family, pose="A", bone_axes="x_along_bone", up_axis="z", units="cm", proportions=Proportions(legs=1.1, arms=0.95))
    err = retarget(src, rig).metrics["direction_error_deg"]
    assert err["mean_deg"] <= 1e-12  # measured about 1e-13: floating-point noise
    record_property("direction_error", (err["mean_deg"], err["max_deg"]))


def test_bare_preset_target_gets_a_stand_in_character(motions):
    result = retarget(motions["walking"], load_rig("mixamo"))
    assert result.clip.skeleton.names[0] == "mixamorig:Hips" and result.clip.skeleton.up_axis == "y"
    assert result.clip.skeleton.units == "cm"
    assert result.metrics["direction_error_deg"]["mean_deg"] <= 1.5e-13  # measured 3.2e-14


def test_forearm_twist_bones_share_the_wrist_twist(motions):
    from motionbridge.rigs import quat

    src = motions["waving"]
    rot = src.rotations.copy()
    wrist = src.skeleton.index("left_wrist")
    angle = np.radians(60.0) * np.linspace(0, 1, src.num_frames)
    rot[:, wrist] = quat.from_axis_angle(angle[:, None] * np.array([1.0, 0, 0]))  # about the T-pose forearm (+X)
    twisted = src.replace(rotations=rot)
    rig = build_rig("ue5_manny", pose="A", bone_axes="x_along_bone", up_axis="z", units="cm")
    result = retarget(twisted, rig)
    tw, fore, hand = (rig.index(n) for n in ("lowerarm_twist_01_l", "lowerarm_l", "hand_l"))
    w, _ = result.clip.world()
    rest_rot, rest_pos = rig.rest_world()
    # the twist bone turned by half the wrist's twist, about the forearm
    rel = quat.multiply(quat.conjugate(w[:, fore]), w[:, tw])
    rest_rel = quat.multiply(quat.conjugate(rest_rot[fore]), rest_rot[tw])
    delta = quat.multiply(rel, quat.conjugate(rest_rel))
    got = 2 * np.arctan2(np.linalg.norm(delta[:, :3], axis=-1), np.abs(delta[:, 3]))
    # (the wrist turned about world X; the forearm's own axis differs from X by about a degree)
    np.testing.assert_allclose(got, angle / 2, rtol=3e-3, atol=1e-9)
    # the hand itself is unchanged by the twist bone (it hangs off the forearm on Manny)
    no_twist = dataclasses.replace(preset("ue5_manny"), bones={c: b for c, b in preset("ue5_manny").bones.items() if "twist" not in c})
    plain = retarget(twisted, rig, no_twist)
    np.testing.assert_allclose(np.abs(np.sum(plain.clip.world()[0][:, hand] * w[:, hand], -1)), 1.0, atol=1e-9)


def test_round_trip_through_another_rig_returns_the_motion(motions):
    """Any detected rig can be the source: SMPL-X -> Mixamo (A-pose, Blender axes, cm, Z-up) -> SMPL-X."""
    src = motions["squatting"]
    rig = build_rig("mixamo", pose="A", bone_axes="y_along_bone", up_axis="z", units="cm")
    there = retarget(src, rig).clip
    back = retarget(there, smplx_skeleton()).clip
    _, want = src.world()
    _, got = back.world()
    body = list(range(22))  # the hands' A-pose twist may differ by a fraction of a millimetre
    np.testing.assert_allclose(got[:, body], want[:, body], atol=1e-6)
    np.testing.assert_allclose(got, want, atol=1e-3)


def test_single_frame_take(motions):
    one = motions["waving"].replace(rotations=motions["waving"].rotations[:1], root_translation=motions["waving"].root_translation[:1])
    result = retarget(one, build_rig("cc4"), options=RetargetOptions(foot_lock=True, ground=True))
    assert result.clip.num_frames == 1
    assert result.metrics["root_path_length_ratio"] is None


def test_foot_lock_bends_a_straight_leg_forward_at_the_knee():
    """A leg held exactly straight has no bend plane, so the IK bends it about the knee's rest
    hinge: the knee must go forward, as a knee does, not backward. Legs swung 20 degrees
    forward and kept straight while the body drifts 6 cm: the pinned feet pull the knees."""
    from motionbridge.rigs import Clip, quat, skeleton_from_world

    base = build_rig("mixamo", pose="T")
    _, pos = base.rest_world()
    pos = pos.copy()
    legs = [tuple(base.index(f"mixamorig:{side}{b}") for b in ("UpLeg", "Leg", "Foot")) for side in ("Left", "Right")]
    for hip, knee, foot in legs:
        pos[knee] = 0.5 * (pos[hip] + pos[foot])  # knee exactly on the hip-ankle line
    rig = skeleton_from_world(base.names, base.parents, pos)
    frames = 30
    rot = np.broadcast_to(rig.rest_rotations, (frames, rig.num_joints, 4)).copy()
    for hip, _, _ in legs:
        rot[:, hip] = quat.multiply(rot[:, hip], quat.from_axis_angle(np.array([-np.radians(20), 0, 0])))
    root = np.tile(rig.rest_translations[0], (frames, 1))
    root[:, 2] += np.linspace(0, 0.06, frames)
    clip = Clip(rig, rot, root, 30.0, {})
    free = retarget(clip, rig, options=RetargetOptions(foot_lock=False)).clip.world()[1]
    locked = retarget(clip, rig, options=RetargetOptions(foot_lock=True)).clip.world()[1]
    for hip, knee, foot in legs:
        assert np.linalg.norm(np.cross(free[:, knee] - free[:, hip], free[:, foot] - free[:, knee]), axis=-1).max() < 1e-9
        bend = locked[-1, knee] - 0.5 * (locked[-1, hip] + locked[-1, foot])
        assert bend[2] > 0.02, bend  # forward (+Z on this Y-up rig) by centimetres; a flipped hinge gives < 0


def test_parity_clip_reads_a_fixture_with_other_case_names(parity, tmp_path):
    """Case names come from cases.json: a copy of the fixture whose cases are renamed reads the same."""
    import json

    cases = json.loads((parity / "cases.json").read_text())
    first = cases["cases"][0]["name"]
    with np.load(parity / "expected.npz", allow_pickle=False) as data:
        renamed = {k.replace(f"{first}/", "walk_take/", 1): data[k] for k in data.files if k.startswith(f"{first}/")}
    cases["cases"] = [{**cases["cases"][0], "name": "walk_take"}]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    np.savez(tmp_path / "expected.npz", **renamed)
    got, want = _parity_clip(tmp_path), _parity_clip(parity)
    np.testing.assert_array_equal(got.rotations, want.rotations)
    np.testing.assert_array_equal(got.root_translation, want.root_translation)
