"""Reverse retargeting: rig -> SMPL-X -> rig is the identity on every preset family and rest
variant (T/A pose, bone axes, Y/Z up, m/cm, left-handed Unreal), within 0.5 deg per bone."""

from __future__ import annotations

import numpy as np
import pytest

from motionbridge.rigs import RigError, quat, retarget
from motionbridge.rigs.humanoid import Proportions, build_rig
from motionbridge.rigs.reverse_retarget import to_smplx
from motionbridge.rigs.smplx import smplx_skeleton

VARIANTS = {
    "T_identity_y_m": dict(pose="T", bone_axes="identity", up_axis="y", units="m"),
    "A_yalong_z_cm": dict(pose="A", bone_axes="y_along_bone", up_axis="z", units="cm",
                          proportions=Proportions(scale=1.1, legs=1.15, arms=0.9, shins=0.9)),
    "A_xalong_y_cm": dict(pose="A", bone_axes="x_along_bone", up_axis="y", units="cm",
                          proportions=Proportions(scale=0.7, spine=1.2, arms=1.1)),
}
FAMILIES = ["mixamo", "ue5_manny", "rigify", "cc4", "humanik", "daz_genesis8"]


def angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dot = np.abs(np.sum(quat.normalize(a) * quat.normalize(b), axis=-1))
    return np.degrees(2 * np.arccos(np.clip(dot, 0.0, 1.0)))


@pytest.mark.parametrize("family", FAMILIES)
def test_rig_to_smplx_to_rig_is_the_identity(motions, family):
    worst_deg, worst_cm = 0.0, 0.0
    for variant in VARIANTS.values():
        rig = build_rig(family, **variant)
        for motion in motions.values():
            keyed = retarget(motion, rig).clip  # a take keyed on the rig
            back = retarget(to_smplx(keyed), rig).clip
            worst_deg = max(worst_deg, float(angles_deg(back.rotations, keyed.rotations).max()))
            scale = {"m": 100.0, "cm": 1.0}[rig.units]
            worst_cm = max(worst_cm, float(np.abs(back.world()[1] - keyed.world()[1]).max()) * scale)
    assert worst_deg < 0.5, f"{family}: worst bone {worst_deg:.4f} deg"
    assert worst_cm < 0.01, f"{family}: worst joint {worst_cm:.5f} cm"


def test_left_handed_unreal_rig_round_trips(motions):
    from motionbridge.rigs import convert_handedness

    rig = convert_handedness(build_rig("ue5_manny", up_axis="z", units="cm"), "left")
    keyed = retarget(motions["walking"], rig).clip
    assert keyed.skeleton.handedness == "left"
    back = retarget(to_smplx(keyed), rig).clip
    assert angles_deg(back.rotations, keyed.rotations).max() < 0.5
    assert np.abs(back.root_translation - keyed.root_translation).max() < 1e-3  # cm


def test_shared_bones_come_back_to_the_smplx_take(motions):
    """SMPL-X -> rig -> SMPL-X: every SMPL-X joint the rig maps gets its world rotation back,
    and the pelvis its position (the hips-height ratio undone)."""
    rig = build_rig("mixamo", pose="A", bone_axes="x_along_bone", units="cm", proportions=Proportions(scale=1.2))
    src = motions["walking"]
    back = to_smplx(retarget(src, rig).clip)
    mapped = [smplx_skeleton().index(n) for n in ("pelvis", "left_hip", "left_knee", "right_elbow", "head", "spine1")]
    w_src, p_src = src.world()
    w_back, p_back = back.world()
    assert angles_deg(w_back[:, mapped], w_src[:, mapped]).max() < 1e-3
    assert np.abs(p_back[:, 0] - p_src[:, 0]).max() < 1e-6
    # the jaw (and eyes) are not on the rig: they keep their rest pose under the moving head
    unmapped = [smplx_skeleton().index(n) for n in ("jaw", "left_eye_smplhf", "right_eye_smplhf")]
    assert "jaw" not in back.metadata["reverse_retarget"]["mapped_bones"]
    assert angles_deg(back.rotations[:, unmapped], quat.IDENTITY).max() < 1e-6


def test_a_clip_without_a_humanoid_is_refused():
    from motionbridge.rigs import Clip, Skeleton

    skel = Skeleton(("a", "b"), np.array([-1, 0]), np.array([[0, 0, 0], [0, 1, 0]], float), np.tile(quat.IDENTITY, (2, 1)))
    with pytest.raises(RigError):
        to_smplx(Clip(skel, np.tile(quat.IDENTITY, (3, 2, 1)), np.zeros((3, 3)), 30.0))
