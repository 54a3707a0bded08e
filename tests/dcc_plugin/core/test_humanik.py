import numpy as np

from motionbridge.dcc_plugin.core import humanik, targeting
from motionbridge.rigs.smplx import SMPLX_JOINT_NAMES


def test_every_required_humanik_slot_is_filled_once():
    slots = humanik.slot_map()
    assert set(humanik.REQUIRED_SLOTS) <= set(slots.values())
    assert len(set(slots.values())) == len(slots)
    assert slots["left_shoulder"] == "LeftArm" and slots["right_index2"] == "RightHandIndex2"
    assert humanik.hik_slot("jaw") is None and humanik.hik_slot("left_eye_smplhf") is None
    assert len(slots) == 52  # the 52 SMPL-H joints; jaw and eyes have no body slot


def test_source_skeleton_is_smplx_in_centimetres_and_drivable():
    sk = humanik.source_skeleton()
    assert sk.names == SMPLX_JOINT_NAMES and sk.units == "cm"
    _, pos = sk.rest_world()
    assert 40 < pos[SMPLX_JOINT_NAMES.index("head"), 1] - pos[0, 1] < 80  # head above pelvis, in cm, Y-up
    assert pos[SMPLX_JOINT_NAMES.index("left_wrist"), 0] > 50  # T-pose, character left = +X
    target = targeting.resolve_target("MB_Source", sk)
    assert target.preset == "smplx" and target.mapping is None
    z = humanik.source_skeleton(up_axis="z", units="m")
    np.testing.assert_allclose(z.rest_world()[1][0, 2], pos[0, 1] / 100.0)
