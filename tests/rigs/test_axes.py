"""Axis, unit and handedness conversions; resampling."""

from __future__ import annotations

import numpy as np
import pytest

from motionbridge.rigs import STANDARD_FPS, RigError, convert_axes, convert_handedness, convert_units, quat, resample


def test_y_to_z_up_turns_world_positions(motions):
    clip = motions["walking"]
    z = convert_axes(clip, "z")
    assert z.skeleton.up_axis == "z" and clip.skeleton.up_axis == "y"
    _, p_y = clip.world()
    _, p_z = z.world()
    # Y-up (x, y, z) is Z-up (x, -z, y): up stays up, +Z forward becomes -Y
    np.testing.assert_allclose(p_z, np.stack([p_y[..., 0], -p_y[..., 2], p_y[..., 1]], -1), atol=1e-12)
    np.testing.assert_allclose(convert_axes(z, "y").world()[1], p_y, atol=1e-12)


def test_conversions_are_never_applied_twice(motions):
    clip = motions["waving"]
    z = convert_axes(clip, "z")
    assert convert_axes(z, "z") is z
    cm = convert_units(clip, "cm")
    assert convert_units(cm, "cm") is cm
    assert convert_handedness(clip, "right") is clip
    np.testing.assert_allclose(cm.world()[1], clip.world()[1] * 100.0, atol=1e-10)
    np.testing.assert_allclose(convert_units(cm, "m").world()[1], clip.world()[1], atol=1e-12)


def test_handedness_mirrors_x(motions):
    clip = motions["walking"]
    left = convert_handedness(clip, "left")
    assert left.skeleton.handedness == "left"
    np.testing.assert_allclose(left.world()[1], clip.world()[1] * [-1, 1, 1], atol=1e-12)
    back = convert_handedness(left, "right")
    np.testing.assert_allclose(back.rotations, clip.rotations, atol=1e-15)
    # a skeleton converts the same way as a clip's skeleton
    np.testing.assert_allclose(convert_handedness(clip.skeleton, "left").rest_translations, left.skeleton.rest_translations)


@pytest.mark.parametrize("fps", STANDARD_FPS)
def test_resample_to_standard_rates(motions, fps):
    clip = motions["walking"]  # 60 frames at 30 fps
    out = resample(clip, fps)
    assert out.fps == fps and out.num_frames == int(np.floor(59 * fps / 30 + 1e-9)) + 1
    # frames at shared instants are unchanged; the last frame's time never passes the source's end
    step = 30 / fps
    for i in range(out.num_frames):
        t = i * step
        if abs(t - round(t)) < 1e-9:
            np.testing.assert_allclose(np.abs(np.sum(out.rotations[i] * clip.rotations[round(t)], -1)), 1, atol=1e-9)
            np.testing.assert_allclose(out.root_translation[i], clip.root_translation[round(t)], atol=1e-12)
    if fps == 30:
        assert out is clip  # already at that rate: untouched
    else:
        assert out.metadata["resampled_from_fps"] == 30.0


def test_resample_interpolates_between_frames(motions):
    clip = motions["waving"]
    out = resample(clip, 60)
    mid = quat.slerp(clip.rotations[3], clip.rotations[4], np.full((clip.skeleton.num_joints, 1), 0.5))
    np.testing.assert_allclose(out.rotations[7], mid, atol=1e-12)
    np.testing.assert_allclose(out.root_translation[7], 0.5 * (clip.root_translation[3] + clip.root_translation[4]))


@pytest.mark.parametrize("fps", [0, -30, float("nan"), "30", True])
def test_bad_fps_is_refused(motions, fps):
    with pytest.raises(RigError, match="fps"):
        resample(motions["waving"], fps)
    if isinstance(fps, (int, float)) and not isinstance(fps, bool):
        with pytest.raises(RigError, match="fps"):
            motions["waving"].replace(fps=fps)


@pytest.mark.parametrize(
    "call, message",
    [(lambda c: convert_axes(c, "x"), "up must be"), (lambda c: convert_units(c, "inch"), "units must be"),
     (lambda c: convert_handedness(c, "ambi"), "handedness must be"), (lambda c: convert_axes("clip", "z"), "Clip or a Skeleton")],
)
def test_bad_conversions(motions, call, message):
    with pytest.raises(RigError, match=message):
        call(motions["waving"])
