"""The fast sampler's default buckets."""

from __future__ import annotations

from motionbridge.daemon.engine.fast.sampler import DEFAULT_FRAME_BUCKETS, DEFAULT_TEXT_BUCKETS


def test_every_default_bucket_is_a_multiple_of_8():
    """On a GPU the compiled attention guards on frames + text being a multiple of 8; a bucket off
    that grid makes a dynamic compile recompile for it (and a recompile inside a capture breaks it)."""
    assert [b for b in (*DEFAULT_FRAME_BUCKETS, *DEFAULT_TEXT_BUCKETS) if b % 8] == []


def test_the_frame_buckets_keep_about_one_per_second_up_to_the_window():
    assert len(DEFAULT_FRAME_BUCKETS) == 12 and DEFAULT_FRAME_BUCKETS[-1] == 360
    assert all(0 <= b - 30 * s < 8 for s, b in enumerate(DEFAULT_FRAME_BUCKETS, start=1))
