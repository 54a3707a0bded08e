"""Nothing outside the output is written: symlinked outputs are refused, and the temp file
of an atomic write is never followed through a link put in its place."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from motionbridge.exporters import npz
from motionbridge.exporters.atomic import ExportError, atomic_path

from .conftest import smooth_clip


@pytest.fixture(scope="module")
def take(tmp_path_factory):
    path = tmp_path_factory.mktemp("take") / "take.npz"
    npz.write(path, [smooth_clip(frames=4, seed=3)], ["a"])
    return path


def convert(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "motionbridge.daemon.cli", "convert", *map(str, argv)],
                          capture_output=True, text=True, timeout=120, env=os.environ)


def test_convert_refuses_a_symlinked_output_folder(take, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").symlink_to(elsewhere)
    run = convert(take, tmp_path / "out" / "take.bvh")
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "output folder" in run.stderr and "symbolic link" in run.stderr, run.stderr
    assert not any(elsewhere.iterdir())
    assert convert(take, elsewhere / "take.bvh").returncode == 0  # the real path is fine


def test_convert_refuses_an_output_file_that_is_a_symlink(take, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "take.bvh").symlink_to(victim)
    run = convert(take, tmp_path / "take.bvh")
    assert run.returncode == 2 and "output file" in run.stderr and "symbolic link" in run.stderr, run.stderr
    assert victim.read_text() == "keep me" and (tmp_path / "take.bvh").is_symlink()


def test_atomic_write_never_follows_a_link_swapped_for_its_temp_file(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "take.bin"
    with pytest.raises(ExportError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"take data")
            tmp.unlink()  # someone replaces the temp file with a link to another file
            tmp.symlink_to(victim)
    assert not target.exists() and not target.is_symlink()
    assert victim.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim.txt"]
