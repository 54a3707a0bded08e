"""FBX read back by three independent readers: Blender's importer, assimp and ufbx."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from motionbridge.exporters import registry
from motionbridge.exporters.prepare import to_frame
from motionbridge.rigs.humanoid import build_rig

from .conftest import (
    assimp_readback,
    blender_readback,
    expected_in_file_frame,
    parents_by_name,
    skinned_vertices,
    smooth_clip,
    ufbx_readback,
    world_positions_in,
)

TOL = 1e-4  # metres
VERTICES = list(range(0, 10000, 97))  # a spread of body vertices to check the skinning on


@pytest.fixture(scope="module")
def files(tmp_path_factory, clip_a, clip_b):
    d = tmp_path_factory.mktemp("fbx")
    slow = smooth_clip(frames=8, fps=20.0, seed=3)  # 20 fps: a custom time mode
    rig = smooth_clip(frames=6, seed=4, skeleton=build_rig("ue5_manny", bone_axes="x_along_bone"))
    out = {
        "rig_local_axes": (d / "manny.fbx", [rig], ["idle"], {}),
        "two_takes": (d / "two.fbx", [clip_a, clip_b], ["wave", "jump"], {}),
        "zup_m_body": (d / "body.fbx", [clip_a], ["wave"], {"up": "z", "units": "m", "body": True}),
        "v7500_20fps": (d / "v75.fbx", [slow], ["slow"], {"version": 7500}),
    }
    for path, takes, names, opts in out.values():
        registry.write(path, takes, names, **opts)
    return out


@pytest.fixture(scope="module")
def blender(files, tmp_path_factory):
    jobs = [
        {"path": str(path), "kind": "fbx", "fps": takes[0].fps, "frames": {n: t.num_frames for n, t in zip(names, takes)},
         "vertices": VERTICES if opts.get("body") else None}
        for path, takes, names, opts in files.values()
    ]
    results = blender_readback(jobs, tmp_path_factory.mktemp("blender") / "fbx")
    return dict(zip(files, results))


def _take_for(action_name: str, names: list[str]) -> int:
    hits = [i for i, n in enumerate(names) if f"|{n}|" in f"|{action_name}|"]
    assert len(hits) == 1, f"action {action_name!r} matches takes {hits} of {names}"
    return hits[0]


@pytest.mark.parametrize("case", ["two_takes", "zup_m_body", "v7500_20fps", "rig_local_axes"])
def test_blender_reads_every_take_and_joint(files, blender, case):
    path, takes, names, _ = files[case]
    result = blender[case]
    skel = takes[0].skeleton
    assert dict(zip(result["bones"], result["parents"])) == parents_by_name(skel)
    assert result["fps"] == pytest.approx(takes[0].fps)
    assert len(result["takes"]) == len(takes)
    seen = set()
    for action, positions in result["takes"].items():
        i = _take_for(action, names)
        seen.add(i)
        got = np.array(positions)[:, [result["pose_bones"].index(n) for n in skel.names]]
        np.testing.assert_allclose(got, world_positions_in(takes[i], "z"), atol=TOL, err_msg=f"{case}/{action}")
    assert seen == set(range(len(takes)))


@pytest.mark.parametrize("case", ["two_takes", "v7500_20fps"])
def test_assimp_reads_every_take_and_joint(files, case):
    # pyassimp (5.2.5 bindings on Debian's libassimp5) cannot load any skinned FBX (its Bone
    # struct layout differs), Blender's own included; the skinned file is checked by Blender and ufbx.
    path, takes, names, opts = files[case]
    result = assimp_readback(path)
    skel = takes[0].skeleton
    for j, name in enumerate(skel.names):
        parent = skel.names[skel.parents[j]] if skel.parents[j] >= 0 else "RootNode"
        assert result["parents"][name] == parent
    assert sorted(result["takes"]) == sorted(names)
    for name, clip in zip(names, takes):
        frames = result["takes"][name]
        assert frames["count"] == clip.num_frames
        got = np.array([[frames[f][n] for n in skel.names] for f in range(clip.num_frames)]) * 0.01  # file is in cm
        np.testing.assert_allclose(got, expected_in_file_frame(clip, "y", "cm"), atol=TOL, err_msg=name)


@pytest.mark.parametrize("case", ["two_takes", "zup_m_body", "v7500_20fps", "rig_local_axes"])
def test_ufbx_reads_every_take_joint_and_setting(files, case, tmp_path):
    path, takes, names, opts = files[case]
    up, units = opts.get("up", "y"), opts.get("units", "cm")
    result = ufbx_readback(path, min(t.num_frames for t in takes), tmp_path / "ufbx.json")
    skel = takes[0].skeleton
    assert dict(zip(result["bones"], result["parents"])) == parents_by_name(skel)
    order = [result["bones"].index(n) for n in skel.names]
    assert result["fps"] == pytest.approx(takes[0].fps)
    assert result["unit_meters"] == pytest.approx({"cm": 0.01, "m": 1.0}[units])
    assert result["up"] == {"y": "2", "z": "4"}[up]  # ufbx CoordinateAxis POSITIVE_Y, POSITIVE_Z
    assert (result["meshes"], result["skin_clusters"] > 0) == ((1, True) if opts.get("body") else (0, False))
    assert sorted(result["takes"]) == sorted(names)
    for name, clip in zip(names, takes):
        got = np.array(result["takes"][name])[:, order] * result["unit_meters"]
        expected = expected_in_file_frame(clip, up, units)[: len(got)]
        np.testing.assert_allclose(got, expected, atol=TOL, err_msg=name)
        assert result["meta"][name] == {k: str(clip.metadata[k]) for k in ("prompt", "seed", "model")}


def test_header_version_and_footer(files):
    for path, _, _, opts in files.values():
        data = path.read_bytes()
        assert data.startswith(b"Kaydara FBX Binary  \x00\x1a\x00")
        assert struct.unpack("<I", data[23:27])[0] == opts.get("version", 7400)
        assert data[-16:] == bytes.fromhex("f85a8c6adef5d97eece90ce3758f290b")


def test_blender_skins_the_body_like_our_own_skinning(files, blender):
    """Cluster matrices, weights and bind pose are right if Blender deforms the mesh as we do."""
    _, takes, _, opts = files["zup_m_body"]
    skins = blender["zup_m_body"]["skins"]
    (action, got), = skins.items()
    ours = skinned_vertices(to_frame(takes[0], opts["up"], opts["units"]), VERTICES)
    np.testing.assert_allclose(np.array(got), ours, atol=TOL)
    assert np.abs(ours[-1] - ours[0]).max() > 0.05  # the body really moves in this take
