"""Preview GIFs: animated, framed on the walker, and only the rig's body drawn (no helper bones)."""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from motionbridge.daemon.batch import preview, retarget
from motionbridge.rigs import axes
from motionbridge.rigs.synthetic import walking

HELPER_PREFIXES = ("root", "ik_", "interaction", "center_of_mass")


def _ink_boxes(path, frame_indices):
    """Per frame, the drawn figure's box above the ground line: (x0, x1, y0, y1)."""
    out = []
    with Image.open(path) as gif:
        for i in frame_indices:
            gif.seek(i)
            ink = np.asarray(gif.convert("L"))[:140] < 200
            ys, xs = np.nonzero(ink)
            out.append((xs.min(), xs.max(), ys.min(), ys.max()))
    return out


def test_preview_gif_is_small_animated_and_follows_the_walker(tmp_path):
    clip = walking(2.0)
    path = preview.render_gif(clip, tmp_path / "walk.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == 48 and gif.size == (160, 160)
        gif.seek(0)
        first = gif.convert("L").tobytes()
        gif.seek(24)
        assert gif.convert("L").tobytes() != first  # it moves
    assert path.stat().st_size < 100_000
    for x0, x1, _, _ in _ink_boxes(path, (0, 24)):  # the figure stays in frame while the root walks away
        assert 20 < x0 and x1 < 140


def test_preview_of_a_z_up_take_matches_the_y_up_one():
    y_up = walking(1.0)
    z_up = axes.convert_axes(y_up, "z")
    assert z_up.skeleton.up_axis == "z"
    np.testing.assert_allclose(preview.project(z_up)[0], preview.project(y_up)[0], atol=1e-6)


def test_ue5_preview_draws_the_body_without_helper_bones():
    target = retarget.load_target("ue5_manny")
    clip, _ = retarget.apply("ue5_manny", walking(1.0))
    names = clip.skeleton.names
    drawn = {names[j] for bone in preview.drawn_bones(clip.skeleton, target.mapping) for j in bone}
    helpers = {n for n in names if n.startswith(HELPER_PREFIXES) or "twist" in n}
    assert {"root", "ik_foot_l", "ik_hand_gun", "upperarm_twist_01_l"} <= helpers
    assert not drawn & helpers
    assert {"pelvis", "head", "hand_l", "hand_r", "foot_l", "foot_r", "ball_l", "calf_r"} <= drawn
    # detecting the rig from the names alone picks the same bones
    assert preview.drawn_bones(clip.skeleton) == preview.drawn_bones(clip.skeleton, target.mapping)


def test_a_far_away_helper_bone_does_not_shrink_the_figure(tmp_path):
    """The camera frames the drawn body only: a helper 5 m off (a prop or IK target)
    leaves the figure as big as before, and in frame."""
    target = retarget.load_target("ue5_manny")
    clip, _ = retarget.apply("ue5_manny", walking(2.0))
    skel = clip.skeleton
    rest = skel.rest_translations.copy()
    rest[skel.index("interaction")] += (500.0, 0.0, 0.0)  # cm
    far = clip.replace(skeleton=dataclasses.replace(skel, rest_translations=rest))
    boxes = [
        _ink_boxes(preview.render_gif(c, tmp_path / f"{name}.gif", rig=target.mapping), (0, 24, 47))
        for name, c in (("near", clip), ("far", far))
    ]
    for (_, _, ny0, ny1), (fx0, fx1, fy0, fy1) in zip(*boxes):
        assert ny1 - ny0 > 100 and abs((fy1 - fy0) - (ny1 - ny0)) <= 2
        assert 20 < fx0 and fx1 < 140


def test_a_skeleton_that_maps_as_no_humanoid_is_drawn_whole():
    from motionbridge.rigs import skeleton_from_parent_names

    chain = skeleton_from_parent_names(["a", "b", "c"], [None, "a", "b"], np.array([[0, 0, 0], [0, 1, 0], [0, 2, 0]], float))
    assert preview.drawn_bones(chain) == ((0, 1), (1, 2))
