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
