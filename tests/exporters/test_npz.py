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
