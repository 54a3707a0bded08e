"""Bad input: clear errors, nothing partial left behind, sanitised names reported."""

from __future__ import annotations

import errno
import os
import pathlib

import numpy as np
import pytest

from motionbridge.exporters import registry
from motionbridge.exporters.atomic import ExportError
from motionbridge.rigs import Skeleton

from .conftest import smooth_clip

ALL_EXTENSIONS = [".fbx", ".glb", ".gltf", ".bvh", ".usd", ".usda", ".usdc", ".npz", ".amass.npz"]


@pytest.fixture(scope="module")
def clip():
    return smooth_clip(frames=4, seed=9)


def leftovers(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_every_extension_is_registered():
    assert set(ALL_EXTENSIONS) <= set(registry.supported_extensions())


def test_unknown_extension_is_refused(tmp_path, clip):
    with pytest.raises(ExportError, match=r"unknown output extension '\.abc'.*\.fbx"):
        registry.write(tmp_path / "take.abc", [clip], ["t"])
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", ALL_EXTENSIONS)
def test_nan_rotations_are_refused(tmp_path, ext):
    bad = smooth_clip(frames=4, seed=3)
    bad.rotations[2, 5] = np.nan  # arrays are mutable after validation; writers check again
    with pytest.raises(ValueError, match="NaN"):
        registry.write(tmp_path / f"take{ext}", [bad], ["t"])
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", ALL_EXTENSIONS)
def test_read_only_folder_gives_a_clear_error(tmp_path, clip, ext):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):  # root ignores modes; /sys refuses even root
            folder = pathlib.Path("/sys")
        with pytest.raises(ExportError, match="cannot write"):
            registry.write(folder / f"take{ext}", [clip], ["t"])
        assert not (folder / f"take{ext}").exists()
        if folder != pathlib.Path("/sys"):
            assert leftovers(folder) == []
    finally:
        (tmp_path / "locked").chmod(0o755)


def _fail_half_way(original):
    def write(self, data, *args, **kwargs):
        original(self, data[: len(data) // 2], *args, **kwargs)  # a partial temp file exists...
        raise OSError(errno.ENOSPC, "No space left on device")  # ...when the disk fills up

    return write


@pytest.mark.parametrize("ext", [".fbx", ".glb", ".gltf", ".bvh"])
def test_full_disk_leaves_no_partial_file(tmp_path, clip, monkeypatch, ext):
    monkeypatch.setattr(pathlib.Path, "write_bytes", _fail_half_way(pathlib.Path.write_bytes))
    monkeypatch.setattr(pathlib.Path, "write_text", _fail_half_way(pathlib.Path.write_text))
    with pytest.raises(ExportError, match="disk full"):
        registry.write(tmp_path / f"take{ext}", [clip], ["t"])
    assert leftovers(tmp_path) == []


def test_full_disk_keeps_the_previous_file(tmp_path, clip, monkeypatch):
    target = tmp_path / "take.fbx"
    target.write_bytes(b"previous")
    monkeypatch.setattr(pathlib.Path, "write_bytes", _fail_half_way(pathlib.Path.write_bytes))
    with pytest.raises(ExportError, match="disk full"):
        registry.write(target, [clip], ["t"])
    assert target.read_bytes() == b"previous" and leftovers(tmp_path) == ["take.fbx"]


def _rig_with_bad_names() -> Skeleton:
    names = ("Hips", "Spine 01", "Left{Leg}")
    return Skeleton(names, [-1, 0, 0], [[0, 1, 0], [0, 0.2, 0], [0.1, -0.1, 0]], [[0, 0, 0, 1]] * 3)


@pytest.mark.parametrize(
    "ext, expected",
    [
        (".bvh", ["Hips", "Spine_01", "Left_Leg_"]),
        (".usda", ["Hips", "Spine_01", "Left_Leg_"]),
        (".fbx", ["Hips", "Spine 01", "Left{Leg}"]),  # FBX allows both
    ],
)
def test_forbidden_names_are_sanitised_and_reported(tmp_path, ext, expected):
    clip = smooth_clip(frames=3, skeleton=_rig_with_bad_names())
    result = registry.export(tmp_path / f"rig{ext}", [clip], ["take one"])
    renamed = [n for n, e in zip(clip.skeleton.names, expected) if n != e]
    for name in renamed:
        assert any(repr(name) in w for w in result.warnings), result.warnings
    data = result.path.read_bytes()
    for name in expected:
        assert name.encode() in data
    for name in renamed:
        assert name.encode() not in data


def test_takes_with_different_skeletons_are_refused(tmp_path):
    a = smooth_clip(frames=3)
    b = smooth_clip(frames=3, skeleton=_rig_with_bad_names())
    with pytest.raises(ValueError, match="different skeleton"):
        registry.write(tmp_path / "x.fbx", [a, b], ["a", "b"])
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", ALL_EXTENSIONS)
def test_full_disk_at_flush_leaves_no_partial_file(tmp_path, clip, monkeypatch, ext):
    # Delayed allocation reports ENOSPC at fsync; this covers writers that write through
    # libraries (usd-core, numpy) as well as our own.
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(ExportError, match="disk full"):
        registry.write(tmp_path / f"take{ext}", [clip], ["t"])
    assert leftovers(tmp_path) == []
