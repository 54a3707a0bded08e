"""`motionbridge convert` end to end (real subprocess) and write_outputs' options."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import numpy as np
import pygltflib
import pytest

from motionbridge.exporters import npz, output, registry
from motionbridge.rigs.humanoid import build_rig

from .conftest import assimp_readback, expected_in_file_frame, smooth_clip

TOL = 1e-4


def convert(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "motionbridge.daemon.cli", "convert", *argv],
        capture_output=True, text=True, timeout=120, env=os.environ,
    )


@pytest.fixture(scope="module")
def tracks(tmp_path_factory, clip_a, clip_b):
    path = tmp_path_factory.mktemp("convert") / "takes.npz"
    registry.write(path, [clip_a, clip_b], ["wave", "jump"])
    return path


def args(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    output.add_output_arguments(parser)
    flags = []
    for key, value in kw.items():
        flag = "--" + key.replace("_", "-")
        flags += [flag] if value is True else [flag, str(value)]
    return parser.parse_args(flags)


def test_convert_npz_to_fbx_with_axes_and_units(tracks, tmp_path, clip_a, clip_b):
    out = tmp_path / "takes.fbx"
    proc = convert(str(tracks), str(out), "--up", "z", "--units", "m")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    result = assimp_readback(out)
    assert sorted(result["takes"]) == ["seed1", "seed2"]  # take names come from the seeds
    for name, clip in (("seed1", clip_a), ("seed2", clip_b)):
        frames = result["takes"][name]
        got = np.array([[frames[f][n] for n in clip.skeleton.names] for f in range(clip.num_frames)])
        np.testing.assert_allclose(got, expected_in_file_frame(clip, "z", "m"), atol=TOL)


def test_convert_one_take_per_file_has_stable_names(tracks, tmp_path):
    proc = convert(str(tracks), str(tmp_path / "take.glb"), "--takes-per-file", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(tmp_path / "take_01.glb"), str(tmp_path / "take_02.glb")]
    for path, name in zip(proc.stdout.split(), ("seed1", "seed2")):
        assert [a.name for a in pygltflib.GLTF2().load(path).animations] == [name]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--rotation-order", "XYZ"], "--rotation-order does not apply to .fbx"),
        (["--takes-per-file", "-1"], "--takes-per-file must be"),
    ],
)
def test_convert_errors_are_one_line_and_write_nothing(tracks, tmp_path, extra, message):
    proc = convert(str(tracks), str(tmp_path / "x.fbx"), *extra)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_convert_missing_input_and_unknown_extension(tmp_path, tracks):
    proc = convert(str(tmp_path / "nope.npz"), str(tmp_path / "x.fbx"))
    assert proc.returncode == 2 and "cannot read" in proc.stderr
    proc = convert(str(tracks), str(tmp_path / "x.obj"))
    assert proc.returncode == 2 and "unknown output extension '.obj'" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_bvh_and_amass_default_to_one_take_per_file(tracks, tmp_path):
    clips = npz.read(tracks)
    paths = output.write_outputs(tmp_path / "take.amass.npz", clips, args())
    assert [p.name for p in paths] == ["take_01.amass.npz", "take_02.amass.npz"]
    with pytest.raises(ValueError, match="one take each"):
        output.write_outputs(tmp_path / "x.bvh", clips, args(takes_per_file=2))


def test_rig_preset_retargets_before_writing(tracks, tmp_path):
    clips = npz.read(tracks)[:1]
    paths = output.write_outputs(tmp_path / "mixamo.fbx", clips, args(rig="mixamo"))
    expected = output.retarget_clips(clips, "mixamo")[0]
    result = assimp_readback(paths[0])
    assert result["parents"]["mixamorig:Spine"] == "mixamorig:Hips"  # FBX keeps the namespace
    frames = result["takes"]["seed1"]
    got = np.array([[frames[f][n] for n in expected.skeleton.names] for f in range(expected.num_frames)]) * 0.01
    np.testing.assert_allclose(got, expected_in_file_frame(expected, "y", "cm"), atol=TOL)


def test_rig_with_bone_local_axes_survives_fbx_and_usd(tmp_path):
    """Rest rotations that are not identity (Maya-style +X along the bone) must round-trip."""
    from .test_usd import joints_for_take

    skel = build_rig("ue5_manny", bone_axes="x_along_bone")
    clip = smooth_clip(frames=6, skeleton=skel)
    registry.write(tmp_path / "manny.fbx", [clip], ["t"])
    result = assimp_readback(tmp_path / "manny.fbx")
    frames = result["takes"]["t"]
    got = np.array([[frames[f][n] for n in skel.names] for f in range(clip.num_frames)]) * 0.01
    np.testing.assert_allclose(got, expected_in_file_frame(clip, "y", "cm"), atol=TOL)
    registry.write(tmp_path / "manny.usda", [clip], ["t"])
    got, _ = joints_for_take(tmp_path / "manny.usda", "t")
    np.testing.assert_allclose(got, expected_in_file_frame(clip, "y", "m"), atol=1e-5)
