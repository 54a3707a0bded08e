"""The seam blend in the decoded motion (controls/blend.py): pinned frames stay exact, a kink
at a join is smoothed, frames far from any pin keep the sampled motion."""

from __future__ import annotations

import numpy as np
import torch

from motionbridge.daemon.controls import blend
from motionbridge.daemon.controls.seams import seam_ratios


def _kinked(frames: int = 60, at: int = 20) -> np.ndarray:
    """(frames, 3): a smooth curve, then from `at` on the same path at a new speed and
    direction (the pose is continuous, the velocity jumps): what a start seam looks like."""
    t = np.arange(frames) / 30
    x = np.stack([np.sin(2 * t), np.cos(3 * t), 0.3 * t], -1)
    x[at:] += 0.04 * np.arange(frames - at)[:, None] * np.array([1.0, -0.5, 0.3])
    return x


def test_a_kinked_start_is_blended_and_the_pinned_frames_are_exact():
    x = _kinked()
    pinned = np.zeros((60, 3), dtype=bool)
    pinned[:20] = True  # the context frames before the join
    out = blend.blend(torch.from_numpy(x)[None], torch.from_numpy(pinned))[0].numpy()
    assert np.array_equal(out[:20], x[:20])
    before, after = seam_ratios(x[:, None], 20), seam_ratios(out[:, None], 20)
    assert after[1] < 1.5 < before[1], (before, after)
    # the frames well past the ramp keep the sampled motion (to 1 mm)
    assert np.abs(out[20 + 2 * blend.RAMP :] - x[20 + 2 * blend.RAMP :]).max() < 1e-3


def test_a_key_in_the_middle_is_kept_and_joined_on_both_sides():
    x = _kinked(at=60)  # smooth throughout
    x[30] += 0.2  # a pasted key: the pose jumps there
    pinned = np.zeros((60, 3), dtype=bool)
    pinned[30] = True
    out = blend.blend(torch.from_numpy(x)[None], torch.from_numpy(pinned))[0].numpy()
    assert np.array_equal(out[30], x[30])
    assert seam_ratios(out[:, None], 30)[0] < 1.5 < seam_ratios(x[:, None], 30)[0]


def test_nothing_pinned_or_everything_pinned_changes_nothing():
    x = torch.from_numpy(_kinked())[None]
    for mask in (np.zeros((60, 3), dtype=bool), np.ones((60, 3), dtype=bool)):
        assert torch.equal(blend.blend(x, torch.from_numpy(mask)), x)


def test_channels_with_different_pins_are_blended_apart():
    x = np.repeat(_kinked()[:, :1], 2, axis=1)  # two equal channels
    pinned = np.zeros((60, 2), dtype=bool)
    pinned[:20, 0] = True  # only the first is pinned
    out = blend.blend(torch.from_numpy(x)[None], torch.from_numpy(pinned))[0].numpy()
    assert np.abs(out[:, 1] - x[:, 1]).max() < 1e-3  # unpinned: (almost) as sampled
    assert np.abs(out[20:30, 0] - x[20:30, 0]).max() > 1e-2  # pinned one: refitted after the join


def test_a_loop_closes_across_the_wrap_and_keeps_its_travel():
    t = np.arange(63) / 30
    x = np.stack([np.sin(2 * t), 0.2 * t, np.cos(2 * t)], -1)  # period 60 with 3 repeated frames
    x[60:] = x[:3] + np.array([0.0, 0.4, 0.0])  # the repeat: travel 0.4 in y, a kink at the wrap
    tiled = np.concatenate([x[:60], x[:60] + (x[60] - x[0])])
    out = blend.blend_loop(torch.from_numpy(x)[None], torch.zeros(63, 3, dtype=torch.bool), 60, True)[0].numpy()
    out_tiled = np.concatenate([out[:60], out[:60] + (out[60] - out[0])])
    assert np.allclose(out[60] - out[0], x[60] - x[0])  # the travel per cycle is kept
    assert np.allclose(out[60:], out[:3] + (out[60] - out[0]))  # the repeat still repeats
    assert max(seam_ratios(out_tiled[:, None], 60)) < 1.5 < max(seam_ratios(tiled[:, None], 60))
    assert np.abs(out[20:40] - x[20:40]).max() < 1e-3  # mid-cycle keeps the sampled motion


def test_a_join_carries_the_last_velocity_on_but_not_an_outlier_acceleration():
    """A source take whose last step jumps (a take's last frame moves unlike the rest): the
    continuation starts at that step's velocity and slows down, rather than carrying the
    jump's acceleration on and overshooting (blend.smoothness_rows)."""
    t = np.arange(60) / 30
    x = np.stack([np.sin(2 * t), np.cos(3 * t), 0.3 * t], -1)
    x[19] += 1.5 * (x[19] - x[18])  # the last pinned step 2.5 times as long as the one before
    pinned = np.zeros((60, 3), dtype=bool)
    pinned[:20] = True
    out = blend.blend(torch.from_numpy(x)[None], torch.from_numpy(pinned))[0].numpy()
    steps = np.linalg.norm(np.diff(out, axis=0), axis=-1)
    assert np.array_equal(out[:20], x[:20])
    # measured: pinned 0.10, 0.25 m/frame, then 0.20, 0.14 (0.26, 0.21 with third differences at the join)
    assert steps[19] < steps[18] and steps[20] < steps[19], steps[17:22]
    rows = blend.smoothness_rows(pinned[:, 0])
    assert np.array_equal(rows[17, 18:21], [1.0, -2.0, 1.0]) and not rows[17, :18].any()  # the one join row (frames 17 to 20)
    assert np.array_equal(rows[16, 16:20], [-1.0, 3.0, -3.0, 1.0]) and np.array_equal(rows[18, 18:22], [-1.0, 3.0, -3.0, 1.0])
