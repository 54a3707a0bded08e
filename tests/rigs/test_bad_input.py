"""Bad rigs get a clear RigError naming the problem."""

from __future__ import annotations

import numpy as np
import pytest

from motionbridge.rigs import RigError, preset, retarget, skeleton_from_parent_names, skeleton_from_world
from motionbridge.rigs.humanoid import build_rig


def test_cycle_is_named():
    names = ["hips", "spine", "chest", "neck"]
    with pytest.raises(RigError, match="cycle: .*spine"):
        skeleton_from_parent_names(names, [None, "neck", "spine", "chest"], np.zeros((4, 3)))


def test_unknown_parent_is_named():
    with pytest.raises(RigError, match="'pelvis'"):
        skeleton_from_parent_names(["hips", "spine"], [None, "pelvis"], np.zeros((2, 3)))


def test_duplicate_names():
    with pytest.raises(RigError, match="duplicate joint names: \\['spine'\\]"):
        skeleton_from_parent_names(["hips", "spine", "spine"], [None, "hips", "hips"], np.zeros((3, 3)))


def test_nan_rest_pose():
    pos = np.zeros((2, 3))
    pos[1, 1] = np.nan
    with pytest.raises(RigError, match="NaN"):
        skeleton_from_parent_names(["hips", "spine"], [None, "hips"], pos)


def test_nan_clip_is_refused(motions):
    rot = motions["waving"].rotations.copy()
    rot[5, 3, 0] = np.nan
    with pytest.raises(RigError, match="NaN"):
        motions["waving"].replace(rotations=rot)


def test_zero_length_bone_is_named(motions):
    rig = build_rig("mixamo")
    _, pos = rig.rest_world()
    pos = pos.copy()
    pos[rig.index("mixamorig:LeftForeArm")] = pos[rig.index("mixamorig:LeftArm")]
    broken = skeleton_from_world(rig.names, rig.parents, pos)
    with pytest.raises(RigError, match="'mixamorig:LeftArm' has zero length"):
        retarget(motions["waving"], broken)


def test_mapping_with_missing_bones_is_refused_by_retarget(motions):
    rig = build_rig("ue4_mannequin")
    desc = preset("mixamo")  # nothing of Mixamo's is on an Unreal skeleton
    with pytest.raises(RigError, match="does not map hips"):
        retarget(motions["waving"], rig, desc)


def test_wrong_argument_types(motions):
    with pytest.raises(RigError, match="Clip"):
        retarget(motions["waving"].skeleton, build_rig("mixamo"))
    with pytest.raises(RigError, match="RigDescription"):
        retarget(motions["waving"], build_rig("mixamo"), mapping="mixamo")
