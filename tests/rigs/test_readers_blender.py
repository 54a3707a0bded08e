"""Skeleton readers against files written by real Blender (bpy 4.5, in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from motionbridge.rigs import RetargetOptions, convert_axes, convert_units, detect_rig, load_rig, read_skeleton, retarget
from motionbridge.rigs.humanoid import build_rig
from motionbridge.rigs.io_bvh import read_bvh

pytestmark = pytest.mark.blender
HERE = Path(__file__).resolve().parent


def _blender_spec(rig):
    """Bones in Blender's frame (Z-up, -Y forward): Y-up (x, y, z) -> (x, -z, y)."""
    _, pos = rig.rest_world()
    pos = np.stack([pos[:, 0], -pos[:, 2], pos[:, 1]], axis=-1)
    bones = []
    for j, name in enumerate(rig.names):
        kids = [k for k in range(rig.num_joints) if rig.parents[k] == j and np.linalg.norm(pos[k] - pos[j]) > 1e-4]
        p = rig.parents[j]
        if kids:
            tail = pos[kids[0]]
        elif p >= 0 and np.linalg.norm(pos[j] - pos[p]) > 1e-4:
            tail = pos[j] + 0.3 * (pos[j] - pos[p])
        else:
            tail = pos[j] + np.array([0, 0, 0.05])
        bones.append({"name": name, "head": pos[j].tolist(), "tail": tail.tolist(), "roll": 0.1 * (j % 5),
                      "parent": rig.names[p] if p >= 0 else None})
    return {"bones": bones}


@pytest.fixture(scope="module")
def blender_files(tmp_path_factory):
    pytest.importorskip("bpy")  # only checks it is installed; Blender itself runs in a subprocess
    rig = build_rig("mixamo", pose="A")
    out = tmp_path_factory.mktemp("blender")
    spec = out / "spec.json"
    spec.write_text(json.dumps(_blender_spec(rig)))
    run = subprocess.run([sys.executable, str(HERE / "blender_write_rig.py"), str(spec), str(out)],
                         capture_output=True, text=True, env=os.environ, timeout=300)
    assert "EXPORTED" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
    return rig, out


@pytest.mark.parametrize("suffix", ["fbx", "glb", "gltf", "bvh"])
def test_reader_matches_blender_armature(blender_files, suffix):
    rig, out = blender_files
    skel = read_skeleton(out / f"rig.{suffix}")
    # names and hierarchy: every bone, with its Blender parent (FBX adds the armature node above the root)
    assert set(rig.names) <= set(skel.names)
    for j, name in enumerate(rig.names):
        parent = skel.parents[skel.index(name)]
        got = skel.names[parent] if parent >= 0 else None
        want = rig.names[rig.parents[j]] if rig.parents[j] >= 0 else None
        assert got == want or (want is None and got == "Armature"), (name, got, want)
    # rest world positions, in our Y-up metres whatever the file's axes and units
    expected = {"fbx": ("y", "cm"), "glb": ("y", "m"), "gltf": ("y", "m"), "bvh": ("z", "m")}[suffix]
    assert (skel.up_axis, skel.units) == expected
    as_ours = convert_units(convert_axes(skel, "y"), "m")
    _, got_pos = as_ours.rest_world()
    _, want_pos = rig.rest_world()
    idx = [as_ours.index(n) for n in rig.names]
    np.testing.assert_allclose(got_pos[idx], want_pos, atol=1e-4)


@pytest.mark.parametrize("suffix", ["fbx", "glb", "bvh"])
def test_blender_files_detect_and_retarget(blender_files, motions, suffix, record_property):
    _, out = blender_files
    path = out / f"rig.{suffix}"
    found = detect_rig(read_skeleton(path))
    assert found.preset == "mixamo" and found.unmapped_required == ()
    desc = load_rig(path)  # the CLI's --rig character.fbx path
    result = retarget(motions["walking"], desc.skeleton, desc, RetargetOptions(foot_lock=True))
    err = result.metrics["direction_error_deg"]
    assert err["per_bone"]["left_upper_arm"]["mean_deg"] <= 2.0 and err["per_bone"]["spine"]["mean_deg"] <= 2.0
    assert max(v for v in result.metrics["foot_skate_cm_s"]["after"].values()) <= 2.0
    record_property("direction_error", {"mean": err["mean_deg"], "max": err["max_deg"]})


def test_bvh_motion_round_trip(blender_files):
    _, out = blender_files
    clip = read_bvh(out / "rig.bvh")
    assert clip.num_frames == 2 and clip.fps > 0
    # Blender exported the rest pose as the animation: every joint at its rest rotation
    np.testing.assert_allclose(np.abs(clip.rotations[..., 3]), 1.0, atol=1e-6)


def test_fbx_with_a_skinned_mesh_keeps_unweighted_bones(blender_files):
    """Only the hips carry weights; every bone (and Blender's leaf '_end' bones) is still read,
    and the mesh node is not a joint."""
    rig, out = blender_files
    skel = read_skeleton(out / "rig_skinned.fbx")
    assert set(rig.names) <= set(skel.names)
    assert "body" not in skel.names
    assert any(n.endswith("_end") for n in skel.names)
    assert detect_rig(skel).preset == "mixamo"
