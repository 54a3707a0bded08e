"""The glTF and BVH parsers on small hand-written files (conventions and errors)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from rig_files import BVH, gltf_doc

from motionbridge.rigs import RigError, quat, read_skeleton
from motionbridge.rigs.io_bvh import read_bvh


def test_bvh_channels_compose_in_listed_order(tmp_path):
    path = tmp_path / "a.bvh"
    path.write_text(BVH)
    clip = read_bvh(path)
    assert clip.skeleton.names == ("Hips", "Chest", "Arm") and list(clip.skeleton.parents) == [-1, 0, 1]
    assert (clip.skeleton.units, clip.skeleton.up_axis, clip.fps) == ("cm", "y", 25.0)
    _, pos = clip.world()
    np.testing.assert_allclose(pos[0], [[0, 90, 0], [0, 110, 0], [15, 110, 0]], atol=1e-9)
    # frame 1: hips Yrotation 90 (turns +X to -Z), then chest Zrotation 90 (turns +X to +Y)
    np.testing.assert_allclose(pos[1, 0], [5, 91, 0], atol=1e-9)
    expected_chest_to_arm = quat.rotate(quat.multiply(quat.from_axis_angle(np.array([0, np.pi / 2, 0])),
                                                      quat.from_axis_angle(np.array([0, 0, np.pi / 2]))), np.array([15.0, 0, 0]))
    np.testing.assert_allclose(pos[1, 2] - pos[1, 1], expected_chest_to_arm, atol=1e-9)
    np.testing.assert_allclose(pos[1, 2] - pos[1, 1], [0, 15, 0], atol=1e-9)


@pytest.mark.parametrize(
    "text, message",
    [("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n", "MOTION|malformed"), ("hello", "not a BVH"),
     (BVH.replace("Frames: 2", "Frames: 9"), "holds"), (BVH.replace("Frame Time: 0.04", "Frame Time: 0"), "frame time"),
     (BVH.replace("Zrotation Xrotation Yrotation\n    JOINT Arm", "Wrotation Xrotation Yrotation\n    JOINT Arm"), "channel")],
)
def test_bad_bvh(tmp_path, text, message):
    path = tmp_path / "bad.bvh"
    path.write_text(text)
    with pytest.raises(RigError, match=message):
        read_bvh(path)


def test_gltf_node_transforms_matrix_and_scale(tmp_path):
    path = tmp_path / "a.gltf"
    path.write_text(json.dumps(gltf_doc(0.01)))
    skel = read_skeleton(path)
    assert skel.names[0] == "Hips" and set(skel.names) == {"Hips", "Spine", "Leg", "Head"}  # the armature is not a joint
    _, pos = skel.rest_world()
    where = {n: pos[skel.index(n)] for n in skel.names}
    np.testing.assert_allclose(where["Hips"], [0, 1.0, 0], atol=1e-12)
    np.testing.assert_allclose(where["Spine"], [0, 1.1, 0], atol=1e-12)
    np.testing.assert_allclose(where["Head"], [0, 1.3, 0], atol=1e-12)
    np.testing.assert_allclose(where["Leg"], [0.1, 1.0, 0], atol=1e-12)
    # orientations keep the rotation and drop the armature's scale
    rot, _ = skel.rest_world()
    np.testing.assert_allclose(quat.rotate(rot[skel.index("Spine")], np.array([1.0, 0, 0])), [0, 1, 0], atol=1e-12)


def test_glb_container(tmp_path):
    body = json.dumps(gltf_doc()).encode()
    body += b" " * (-len(body) % 4)
    data = struct.pack("<III", 0x46546C67, 2, 12 + 8 + len(body)) + struct.pack("<II", len(body), 0x4E4F534A) + body
    path = tmp_path / "a.glb"
    path.write_bytes(data)
    assert read_skeleton(path).num_joints == 4
    path.write_bytes(b"glTF" + data[4:12] + struct.pack("<II", len(body), 0x12345678) + body)
    with pytest.raises(RigError, match="not a glTF 2.0 binary"):
        read_skeleton(path)


def test_gltf_without_skin_is_refused(tmp_path):
    doc = gltf_doc()
    del doc["skins"]
    path = tmp_path / "a.gltf"
    path.write_text(json.dumps(doc))
    with pytest.raises(RigError, match="no skin"):
        read_skeleton(path)


def test_unknown_character_format(tmp_path):
    with pytest.raises(RigError, match="use one of"):
        read_skeleton(tmp_path / "hero.obj")
