"""glTF/GLB: Khronos validator + Blender readback. BVH: Blender round trip, rotation orders."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from motionbridge.exporters import registry
from motionbridge.rigs.euler import ORDERS
from motionbridge.rigs.humanoid import build_rig

from .conftest import blender_readback, parents_by_name, skinned_vertices, smooth_clip, world_positions_in

TOOLS = Path(__file__).resolve().parents[1] / ".tools"
TOL = 1e-4
VERTICES = list(range(0, 10000, 97))


@pytest.fixture(scope="module")
def files(tmp_path_factory, clip_a, clip_b):
    d = tmp_path_factory.mktemp("gltf_bvh")
    # a game rig whose bones have Maya-style local axes (rest rotations are not identity)
    rig_clip = smooth_clip(frames=6, seed=4, skeleton=build_rig("ue5_manny", bone_axes="x_along_bone"))
    out = {
        "glb_rig_local_axes": (d / "manny.glb", [rig_clip], ["idle"], {}, {}),
        "bvh_rig_local_axes": (d / "manny.bvh", [rig_clip], ["idle"], {}, {"scale": 0.01}),
        "glb_body_two_takes": (d / "two.glb", [clip_a, clip_b], ["wave", "jump"], {"body": True}, {}),
        "gltf_one_take": (d / "one.gltf", [clip_a], ["wave"], {}, {}),
        "bvh_default": (d / "wave.bvh", [clip_a], ["wave"], {}, {"scale": 0.01}),
        "bvh_xyz_zup_m": (d / "wave_xyz.bvh", [clip_b], ["jump"], {"rotation_order": "XYZ", "up": "z", "units": "m"},
                          {"axis_up": "Z", "axis_forward": "Y"}),
    }
    for path, takes, names, opts, _ in out.values():
        registry.write(path, takes, names, **opts)
    return out


@pytest.fixture(scope="module")
def blender(files, tmp_path_factory):
    jobs = []
    for path, takes, names, opts, extra in files.values():
        kind = "bvh" if path.suffix == ".bvh" else "gltf"
        vertices = VERTICES if opts.get("body") else None
        jobs.append({"path": str(path), "kind": kind, "fps": takes[0].fps, "frames": {n: t.num_frames for n, t in zip(names, takes)},
                     "vertices": vertices, **extra})
    return dict(zip(files, blender_readback(jobs, tmp_path_factory.mktemp("blender") / "gltf_bvh")))


def test_khronos_validator_reports_no_errors(files):
    if shutil.which("node") is None or not (TOOLS / "node_modules" / "gltf-validator").is_dir():
        pytest.fail("gltf-validator missing: run install/dev_setup.sh (npm install into tests/.tools)")
    paths = [str(p) for p, *_ in files.values() if p.suffix in (".glb", ".gltf")]
    proc = subprocess.run(["node", str(Path(__file__).with_name("validate_gltf.js")), str(TOOLS), *paths],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    reports = json.loads(proc.stdout)
    assert len(reports) == len(paths)
    for report in reports:
        assert report["numErrors"] == 0, report
        assert report["numWarnings"] == 0, report


@pytest.mark.parametrize("case", ["glb_body_two_takes", "gltf_one_take", "bvh_default", "bvh_xyz_zup_m", "glb_rig_local_axes",
                                  "bvh_rig_local_axes"])
def test_blender_reads_joints_back(files, blender, case):
    path, takes, names, _, _ = files[case]
    result = blender[case]
    skel = takes[0].skeleton
    assert dict(zip(result["bones"], result["parents"])) == parents_by_name(skel)
    assert result["fps"] == pytest.approx(takes[0].fps, rel=1e-6)
    assert len(result["takes"]) == len(takes)
    for action, positions in result["takes"].items():
        # glTF keeps animation names; Blender names a BVH action after the file.
        clip = takes[names.index(action)] if action in names else takes[0]
        got = np.array(positions)[:, [result["pose_bones"].index(n) for n in skel.names]]
        np.testing.assert_allclose(got, world_positions_in(clip, "z"), atol=TOL, err_msg=f"{case}/{action}")


def test_glb_carries_metadata_and_every_frame(files):
    import pygltflib

    path, takes, names, _, _ = files["glb_body_two_takes"]
    doc = pygltflib.GLTF2().load(str(path))
    assert [a.name for a in doc.animations] == names
    for anim, clip in zip(doc.animations, takes):
        assert anim.extras["prompt"] == clip.metadata["prompt"]
        times = doc.accessors[anim.samplers[0].input]
        assert times.count == clip.num_frames
        assert times.max[0] == pytest.approx((clip.num_frames - 1) / clip.fps)
    assert len(doc.meshes) == 1 and doc.nodes[-1].skin == 0


def test_gltf_refuses_other_axes():
    with pytest.raises(ValueError, match="Y-up metres"):
        registry.write("/nonexistent/x.glb", [smooth_clip(3)], ["t"], up="z")


def test_bvh_header_and_channel_order(files):
    text = files["bvh_xyz_zup_m"][0].read_text()
    assert "CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation" in text
    assert f"Frames: {files['bvh_xyz_zup_m'][1][0].num_frames}" in text
    with pytest.raises(ValueError, match="rotation order"):
        registry.write(files["bvh_default"][0].with_name("bad.bvh"), [smooth_clip(3)], ["t"], rotation_order="XXY")
    assert set(ORDERS) == {"XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"}


def test_bvh_refuses_several_takes(tmp_path, clip_a, clip_b):
    with pytest.raises(ValueError, match="one take"):
        registry.write(tmp_path / "two.bvh", [clip_a, clip_b], ["a", "b"])
    assert list(tmp_path.iterdir()) == []


def test_blender_skins_the_glb_body_like_our_own_skinning(files, blender):
    """Inverse bind matrices, JOINTS_0 and WEIGHTS_0 are right if Blender deforms as we do."""
    from motionbridge.exporters.prepare import to_frame

    _, takes, names, _, _ = files["glb_body_two_takes"]
    skins = blender["glb_body_two_takes"]["skins"]
    assert sorted(skins) == sorted(names)
    for name, got in skins.items():
        ours = skinned_vertices(to_frame(takes[names.index(name)], "y", "m"), VERTICES)
        ours = np.stack([ours[..., 0], -ours[..., 2], ours[..., 1]], axis=-1)  # Blender is Z-up
        np.testing.assert_allclose(np.array(got), ours, atol=TOL, err_msg=name)


@pytest.mark.parametrize("fps", [24.0, 60.0])
def test_bvh_frame_time_is_the_takes_own(tmp_path, fps):
    """Every other BVH test clip is 30 fps, so a Frame Time fixed at 1/30 would pass them all."""
    from motionbridge.rigs.io_bvh import read_bvh

    clip = smooth_clip(frames=5, fps=fps, seed=2)
    registry.write(tmp_path / "take.bvh", [clip], ["take"])
    back = read_bvh(tmp_path / "take.bvh")
    assert back.fps == pytest.approx(fps, rel=1e-9) and back.num_frames == 5
