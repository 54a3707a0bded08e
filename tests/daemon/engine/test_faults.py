"""Faults and limits: OOM splits the batch and loses nothing, a sticky device error makes the
engine unhealthy, over-long requests are clamped with a warning, cancellation and steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionbridge.daemon.engine.api import Cancelled, GenerationRequest

from .conftest import tiny_engine

REQS = [
    GenerationRequest("A person walks.", 2.0, (0, 1), 5.0, request_id="a"),
    GenerationRequest("A person jumps.", 1.0, (2,), 1.0, request_id="b"),
    GenerationRequest("A person walks.", 1.5, (3,), 3.0, request_id="c"),
]


@pytest.fixture(scope="module")
def baseline():
    return tiny_engine().generate(REQS)


def failing_network(engine, exc_factory, when):
    real = engine.network
    calls = {"failed": 0}

    def network(x, *args, **kw):
        if when(x):
            calls["failed"] += 1
            raise exc_factory()
        return real(x, *args, **kw)

    engine.network = network
    return calls


def test_oom_splits_batch_and_keeps_every_take(baseline):
    engine = tiny_engine()
    calls = failing_network(engine, lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), lambda x: x.shape[0] > 2)
    takes = engine.generate(REQS)
    assert calls["failed"] >= 1 and engine.oom_splits >= 1
    assert [(t.request_id, t.seed) for t in takes] == [(t.request_id, t.seed) for t in baseline]
    for got, ref in zip(takes, baseline):
        np.testing.assert_allclose(got.latent, ref.latent, atol=1e-5, rtol=0)
    assert engine.health()["ok"]


def test_oom_on_a_single_row_is_raised_not_swallowed():
    engine = tiny_engine()
    failing_network(engine, lambda: torch.OutOfMemoryError("CUDA out of memory"), lambda x: True)
    with pytest.raises(torch.OutOfMemoryError):
        engine.generate(REQS[:1])


def test_oom_on_a_single_row_is_retried_once_after_freeing_the_graphs(baseline):
    """A lone row that hits OOM (e.g. the graphs of earlier shapes fill the device) gets one
    retry after the caches are dropped; it is the same take as without the fault."""
    engine = tiny_engine()
    seen = {"n": 0}

    def first_call_only(x):
        seen["n"] += 1
        return seen["n"] == 1

    calls = failing_network(engine, lambda: torch.OutOfMemoryError("CUDA out of memory"), first_call_only)
    (take,) = engine.generate([REQS[1]])
    assert calls["failed"] == 1 and engine.oom_splits == 1
    want = next(t for t in baseline if t.request_id == "b")
    np.testing.assert_allclose(take.latent, want.latent, atol=1e-5, rtol=0)


def test_sticky_device_error_marks_engine_unhealthy():
    engine = tiny_engine()
    failing_network(engine, lambda: RuntimeError("CUDA error: an illegal memory access was encountered"), lambda x: True)
    with pytest.raises(RuntimeError, match="illegal memory access"):
        engine.generate(REQS[:1])
    health = engine.health()
    assert health["ok"] is False and "illegal memory access" in health["reason"]
    with pytest.raises(RuntimeError, match="unhealthy"):
        engine.generate(REQS[:1])


def test_ordinary_error_keeps_engine_healthy():
    engine = tiny_engine()
    failing_network(engine, lambda: RuntimeError("shape mismatch"), lambda x: True)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        engine.generate(REQS[:1])
    assert engine.health()["ok"]


def test_long_request_is_clamped_with_warning():
    engine = tiny_engine(steps=2)
    (take,) = engine.generate([GenerationRequest("A person walks.", 15.0, (0,), 5.0, request_id="long")])
    assert take.clip.num_frames == 360 and take.latent.shape == (360, 201)
    assert any("clamped" in w for w in take.warnings)
    assert take.clip.metadata["warnings"] == list(take.warnings)


def test_bad_request_changes_nothing():
    engine = tiny_engine(steps=2)
    with pytest.raises(ValueError, match="duration"):
        engine.generate([REQS[0], GenerationRequest("A person walks.", -1.0)])
    assert engine.cache.misses == 0


def test_steps_reported_and_cancelled_request_dropped():
    engine = tiny_engine(steps=3)
    steps = []
    takes = engine.generate(REQS, on_step=lambda info: steps.append((info.step, info.total, info.request_ids)), is_cancelled=lambda rid: rid == "b")
    assert [s[0] for s in steps] == [1, 2, 3] and all(s[1] == 3 for s in steps)
    assert steps[0][2] == ("a", "b", "c") and "b" not in steps[-1][2]
    assert sorted({t.request_id for t in takes}) == ["a", "c"] and len(takes) == 3


def test_all_cancelled_raises_cancelled():
    engine = tiny_engine(steps=3)
    with pytest.raises(Cancelled):
        engine.generate(REQS, is_cancelled=lambda rid: True)


def test_previews_are_clips_per_request():
    engine = tiny_engine(steps=2)
    seen = []
    engine.generate(REQS[:1], on_step=lambda info: seen.append(info.previews), preview_every=2)
    assert seen[0] is None and len(seen[1]["a"]) == 2 and seen[1]["a"][0].num_frames == 60
