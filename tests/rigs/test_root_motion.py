"""rigs/root_motion.py: one set of words for root motion and the one post-pass that applies it."""

from __future__ import annotations

import numpy as np
import pytest

from motionbridge.rigs import Clip, RetargetOptions, RigError, quat
from motionbridge.rigs.root_motion import ROOT_MOTIONS, apply_root_motion, root_motion_mode
from motionbridge.rigs.smplx import smplx_skeleton


def _walk(frames: int = 9, up_axis: str = "y") -> Clip:
    rng = np.random.default_rng(3)
    skeleton = smplx_skeleton()
    root = np.cumsum(rng.normal(size=(frames, 3)), axis=0)
    rot = quat.from_axis_angle(rng.normal(scale=0.2, size=(frames, 55, 3)))
    clip = Clip(skeleton, rot, root, 30, {"prompt": "walk"})
    return clip if up_axis == "y" else clip.replace(skeleton=skeleton.__class__(
        skeleton.names, skeleton.parents, skeleton.rest_translations, skeleton.rest_rotations, "z", skeleton.units))


def test_words_former_words_and_checkbox_map_to_one_vocabulary():
    assert ROOT_MOTIONS == ("world", "in_place", "off")
    assert [root_motion_mode(w) for w in ROOT_MOTIONS] == list(ROOT_MOTIONS)
    assert root_motion_mode("on") == "world" and root_motion_mode("xz_in_place") == "in_place"
    assert root_motion_mode(True) == "world" and root_motion_mode(False) == "off"
    assert RetargetOptions(root_motion="xz_in_place").root_motion == "in_place"
    for bad in ("sideways", "", None, 1):
        with pytest.raises(RigError, match="root_motion must be one of"):
            root_motion_mode(bad)


def test_world_leaves_the_clip_alone():
    clip = _walk()
    assert apply_root_motion(clip, "world") is clip


@pytest.mark.parametrize("up_axis, vertical", [("y", 1), ("z", 2)])
def test_in_place_keeps_only_the_vertical_motion(up_axis, vertical):
    clip = _walk(up_axis=up_axis)
    out = apply_root_motion(clip, "in_place")
    horizontal = [a for a in range(3) if a != vertical]
    assert np.array_equal(out.root_translation[:, horizontal], np.broadcast_to(clip.root_translation[:1, horizontal], (9, 2)))
    assert np.array_equal(out.root_translation[:, vertical], clip.root_translation[:, vertical])
    assert np.array_equal(out.rotations, clip.rotations)
    assert out.metadata == {"prompt": "walk", "root_motion": "in_place"}


def test_off_holds_the_root_at_rest():
    clip = _walk()
    out = apply_root_motion(clip, "off")
    assert np.array_equal(out.root_translation, np.broadcast_to(clip.skeleton.rest_translations[0], (9, 3)))
    assert out.metadata["root_motion"] == "off"
