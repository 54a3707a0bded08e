"""core.euler_keys: what the MotionBuilder and Maya hosts key for a take, and the Clip their
read_take makes of the curves read back (the host API calls around it are type-checked only)."""

from __future__ import annotations

import numpy as np
import pytest
from dcc_fakes import random_smplx_clip

from motionbridge.dcc_plugin.core.euler_keys import (
    clip_from_euler_keys,
    euler_keys,
    take_fps,
    take_frames,
)
from motionbridge.exporters import npz, registry
from motionbridge.rigs import quat


def pre_rotations(joints: int, seed: int = 7) -> np.ndarray:
    """Joint orients / PreRotations as a rig has them: a different one on every joint."""
    return quat.from_axis_angle(np.random.default_rng(seed).normal(scale=0.8, size=(joints, 3)))


def same_rotations(a: np.ndarray, b: np.ndarray, atol: float = 1e-9) -> bool:
    """Equal rotations (q and -q are the same one)."""
    return bool(np.allclose(np.abs(np.einsum("...i,...i->...", a, b)), 1.0, atol=atol))


def test_keys_read_back_give_the_clip_that_was_keyed():
    clip = random_smplx_clip(3, frames=40, fps=24.0)
    pre = pre_rotations(clip.skeleton.num_joints)
    curves = euler_keys(clip, pre)
    assert curves.shape == (clip.skeleton.num_joints, 3, 40)  # per joint, per axis, frame by frame
    back = clip_from_euler_keys("mb_walk_s3", clip.skeleton, pre, curves, clip.root_translation.T, {"fps": 24.0, "seed": 3})
    assert same_rotations(back.rotations, clip.rotations)
    assert np.array_equal(back.root_translation, clip.root_translation) and back.skeleton is clip.skeleton
    assert back.fps == 24.0 and back.metadata == {"fps": 24.0, "seed": 3, "take_name": "mb_walk_s3"}


def test_the_keys_are_x_then_y_then_z_on_top_of_the_pre_rotation():
    """One joint, pre-rotation 90 degrees about Y, keys (30, 40, 0): with column vectors the
    joint's local rotation is Ry(90) @ Rz(0) @ Ry(40) @ Rx(30), computed here from matrices."""

    def rx(a):
        c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])

    def ry(a):
        c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])

    clip = random_smplx_clip(0, frames=1)
    joints = clip.skeleton.num_joints
    pre = np.tile(quat.IDENTITY, (joints, 1))
    pre[2] = quat.from_axis_angle(np.array([0.0, np.pi / 2, 0.0]))
    curves = np.zeros((joints, 3, 1))
    curves[2, :, 0] = (30.0, 40.0, 0.0)
    back = clip_from_euler_keys("t", clip.skeleton, pre, curves, np.zeros((3, 1)), {})
    assert np.allclose(quat.to_matrix(back.rotations[0, 2]), ry(90) @ ry(40) @ rx(30), atol=1e-12)
    assert np.allclose(back.rotations[0, 3], quat.IDENTITY) and back.fps == 30.0  # no fps stored: 30


def test_keys_stay_continuous_across_frames():
    """A joint turning steadily past 180 degrees keys as one smooth curve, not a jump of 360."""
    clip = random_smplx_clip(0, frames=60)
    angles = np.linspace(0.0, 2 * np.pi, 60)
    rotations = clip.rotations.copy()
    rotations[:, 1] = quat.from_axis_angle(np.stack([angles, 0 * angles, 0 * angles], axis=-1))
    x_curve = euler_keys(clip.replace(rotations=rotations), np.tile(quat.IDENTITY, (clip.skeleton.num_joints, 1)))[1, 0]
    assert np.abs(np.diff(x_curve)).max() < 10.0 and np.isclose(x_curve[-1] - x_curve[0], 360.0)


def test_a_take_read_back_exports_through_the_shared_writers(tmp_path):
    clip = random_smplx_clip(5, frames=20)
    pre = pre_rotations(clip.skeleton.num_joints, seed=2)
    back = clip_from_euler_keys("mb_run_s5", clip.skeleton, pre, euler_keys(clip, pre), clip.root_translation.T,
                                {"fps": 30.0, "prompt": "a person runs"})
    result = registry.export(tmp_path / "mb_run_s5.npz", [back], ["mb_run_s5"])
    (read,) = npz.read(result.path)
    assert same_rotations(read.rotations, clip.rotations, atol=1e-6)  # the file holds float32
    assert np.allclose(read.root_translation, clip.root_translation, atol=1e-6)
    assert read.metadata["take_name"] == "mb_run_s5" and read.metadata["prompt"] == "a person runs"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"curves": np.zeros((3, 3, 5))}, "do not fit its rig's"),
        ({"curves": np.zeros((5, 55, 3))}, "do not fit its rig's"),  # frames first: not the curve layout
        ({"curves": np.zeros((55, 3, 0)), "root": np.zeros((3, 0))}, "has no frames to export"),
        ({"root": np.zeros((3, 4))}, "do not match its 5 frames"),
        ({"root": np.zeros((5, 3))}, "do not match its 5 frames"),
        ({"nan_joint": 4}, "rotation curves of left_knee hold values that are not numbers"),
        ({"root": np.full((3, 5), np.inf)}, "root translation curves hold values that are not numbers"),
        ({"meta": {"fps": "fast"}}, "stores fps 'fast'"),
        ({"meta": {"fps": 0}}, "stores fps 0"),
    ],
)
def test_curves_that_do_not_make_a_take_fail_with_one_line_naming_it(change, message):
    clip = random_smplx_clip(1, frames=5)
    joints = clip.skeleton.num_joints
    curves = change.get("curves", np.zeros((joints, 3, 5)))
    if "nan_joint" in change:
        curves[change["nan_joint"], 1, 2] = np.nan
    with pytest.raises(ValueError) as caught:
        clip_from_euler_keys("mb_jump_s1", clip.skeleton, np.tile(quat.IDENTITY, (joints, 1)), curves,
                             change.get("root", np.zeros((3, 5))), change.get("meta", {}))
    text = str(caught.value)
    assert message in text and "'mb_jump_s1'" in text and "\n" not in text, text


def test_frames_and_fps_of_a_take():
    assert take_frames("t", 1, 4) == [1, 2, 3, 4] and take_frames("t", 0, 0) == [0]
    with pytest.raises(ValueError, match="'t' has no frames"):
        take_frames("t", 5, 4)
    assert take_fps("t", {"fps": "24"}) == 24.0 and take_fps("t", {}) == 30.0
