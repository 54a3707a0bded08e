"""NPZ: the lossless tracks file round-trips; the AMASS-style file rebuilds the same motion."""

from __future__ import annotations

import numpy as np
import pytest

from motionbridge.exporters import npz, registry
from motionbridge.rigs import Clip, quat
from motionbridge.rigs.smplx import SMPLX_FROM_SMPLH, smplx_skeleton

from .conftest import smooth_clip


def test_tracks_round_trip_several_takes(tmp_path, clip_a, clip_b):
    path = registry.write(tmp_path / "takes.npz", [clip_a, clip_b], ["wave", "jump"])
    back = npz.read(path)
    for got, clip in zip(back, (clip_a, clip_b)):
        np.testing.assert_allclose(got.world()[1], clip.world()[1], atol=1e-5)
        assert got.metadata == clip.metadata


@pytest.mark.parametrize("body_model, joints", [("smplx", 55), ("smplh", 52)])
def test_amass_parameters_rebuild_the_motion(tmp_path, clip_a, body_model, joints):
    path = registry.write(tmp_path / "wave.amass.npz", [clip_a], ["wave"], body_model=body_model)
    with np.load(path, allow_pickle=False) as data:
        assert data["poses"].shape == (clip_a.num_frames, 3 * joints)
        assert str(data["gender"]) == "neutral" and data["betas"].shape == (16,)
        assert float(data["mocap_framerate"]) == clip_a.fps
        assert str(data["surface_model_type"]) == body_model
        np.testing.assert_array_equal(data["root_orient"], data["poses"][:, :3])
        poses = data["poses"].reshape(clip_a.num_frames, joints, 3)
        trans = data["trans"]
    skel = smplx_skeleton()
    rot = np.tile(quat.IDENTITY, (clip_a.num_frames, 55, 1))
    index = np.arange(55) if joints == 55 else SMPLX_FROM_SMPLH
    rot[:, index] = quat.from_axis_angle(poses)
    rebuilt = Clip(skel, rot, trans + skel.rest_translations[0], clip_a.fps)
    # SMPL-H lacks jaw and eyes, which are leaves: every joint it has must match.
    np.testing.assert_allclose(rebuilt.world()[1][:, index], clip_a.world()[1][:, index], atol=1e-6)


def test_amass_refuses_a_retargeted_skeleton(tmp_path):
    from motionbridge.rigs import Skeleton

    skel = Skeleton(("hips", "spine"), [-1, 0], [[0, 1, 0], [0, 0.2, 0]], [[0, 0, 0, 1]] * 2)
    with pytest.raises(ValueError, match="SMPL-X skeleton"):
        registry.write(tmp_path / "x.amass.npz", [smooth_clip(4, skeleton=skel)], ["t"])
    assert list(tmp_path.iterdir()) == []


def _convert(*argv: str):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "motionbridge.daemon.cli", "convert", *argv],
                          capture_output=True, text=True, timeout=120, env=os.environ)


def test_damaged_tracks_files_are_one_line_exit_2(tmp_path, clip_a):
    good = tmp_path / "take.npz"
    npz.write(good, [clip_a], ["a"])
    data = good.read_bytes()
    cases = {
        "truncated.npz": (data[: len(data) // 2], "truncated or damaged"),
        "text.npz": (b"hello, not a take\n", "not an NPZ (zip) archive"),
        "array.npz": (b"\x93NUMPY" + data[6:200], "not an NPZ (zip) archive"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        run = _convert(str(tmp_path / name), str(tmp_path / "out.bvh"))
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 2 and len(lines) == 1 and message in lines[0], (name, run.stderr[-1500:])
        assert "pickle" not in run.stderr and not (tmp_path / "out.bvh").exists()


def test_tracks_that_would_inflate_past_the_cap_are_refused(tmp_path, clip_a, monkeypatch):
    path = tmp_path / "take.npz"
    npz.write(path, [clip_a], ["a"])
    assert npz.read(path)[0].num_frames == clip_a.num_frames
    monkeypatch.setattr(npz, "MAX_TAKES_BYTES", 4096)  # the real cap is 1 GiB; the rule is the same
    with pytest.raises(npz.ExportError, match="refusing to inflate"):
        npz.read(path)


def test_fuzzed_tracks_files_read_or_give_one_line(tmp_path, clip_a):
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "take.npz"
    npz.write(path, [clip_a], ["a"])
    script = Path(__file__).resolve().parents[1] / "rigs" / "fuzz_readers.py"
    run = subprocess.run([sys.executable, "-W", "ignore", str(script), "npz", str(path), "250", "16"],
                         capture_output=True, text=True, timeout=300, env=os.environ)
    tail = run.stdout.strip().splitlines()[-3:]
    assert run.returncode == 0 and tail[-1].startswith("done 250 "), (run.returncode, tail, run.stderr[-1500:])
    assert "parsed=0 " not in tail[-1] and "refused=0" not in tail[-1]
