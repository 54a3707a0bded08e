"""compile/graphs.py on the CPU: which captured loop may trust the buffers it left in a shared
graph pool (the captures themselves need CUDA: tests/daemon/engine/fast/test_engine_exact.py)."""

from __future__ import annotations

from motionbridge.daemon.engine.compile.graphs import GraphCache, PoolTenancy


def test_a_loop_trusts_its_buffers_only_when_no_other_graph_replayed_since():
    pool = PoolTenancy()
    a, b = object(), object()
    assert [pool.claim(a), pool.claim(a), pool.claim(b), pool.claim(a), pool.claim(a)] == [False, True, False, False, True]


def test_every_entry_of_a_cache_shares_one_tenancy():
    cache = GraphCache(capacity=2, make_pool=lambda: None)
    built = [cache.get(key, lambda pool: object()) for key in ("x", "y")]
    assert cache.tenancy.claim(built[0]) is False and cache.tenancy.claim(built[0]) is True
    assert GraphCache(make_pool=lambda: None).tenancy is not cache.tenancy


def test_a_cache_adds_up_the_time_its_builds_took():
    """What a new shape's graphs cost (warm-up runs and capture): the engine reports it per batch
    as `capture_s`. A hit costs nothing; a failed build still counts."""
    import time

    import pytest

    cache = GraphCache(make_pool=lambda: None)

    def slow(pool):
        time.sleep(0.05)
        return object()

    cache.get("x", slow)
    assert 0.05 <= cache.build_s < 1.0
    before = cache.build_s
    cache.get("x", slow)
    assert cache.build_s == before

    def failing(pool):
        time.sleep(0.02)
        raise RuntimeError("capture failed")

    with pytest.raises(RuntimeError):
        cache.get("y", failing)
    assert cache.build_s >= before + 0.02 and "y" not in cache.entries


def test_the_engine_reports_the_capture_time_of_its_batch():
    from motionbridge.daemon.bench.random_models import tiny_random_engine
    from motionbridge.daemon.engine.api import GenerationRequest

    engine = tiny_random_engine("cpu", 2)
    take = engine.generate([GenerationRequest("A person walks.", 1.0, (0,), 5.0)])[0]
    assert take.timings["capture_s"] == 0.0  # no graphs on the CPU
    assert take.clip.metadata["timings"]["capture_s"] == 0.0
    engine.paths["compiled"].graphs.build_s = 5.0  # as if a graph were built while it sampled

    def building(*args, **kwargs):
        engine.paths["compiled"].graphs.build_s += 0.25
        return original(*args, **kwargs)

    original, engine._sample_split = engine._sample_split, building
    take = engine.generate([GenerationRequest("A person walks.", 1.0, (0,), 5.0)])[0]
    assert abs(take.timings["capture_s"] - 0.25) < 1e-9
