"""The waiting room's rules, on plain Job objects."""

from __future__ import annotations

import pytest

import motionbridge.daemon.protocol.frames as P
from motionbridge.daemon.server.scheduler import Job, QueueFull, Scheduler


def _job(priority: str = "interactive", seeds=(0,), directed: bool = False) -> Job:
    header = {"id": P.new_id(), "prompt": "walk", "seeds": list(seeds), "priority": priority}
    if directed:
        header["controls"] = {"v": P.CONTROLS_VERSION, "loop": True}
    return Job(b"c", P.parse_generate(header), 0.0)


def test_interactive_goes_first_and_batches_fill_by_rows():
    s = Scheduler(max_queue=10, max_batch_rows=3)
    b1, i1, i2, b2 = _job("batch"), _job(seeds=(0, 1)), _job(), _job("batch")
    for j in (b1, i1, i2, b2):
        s.submit(j)
    assert s.position(i1) == 0 and s.position(b1) == 2
    assert s.next_batch() == [i1, i2]  # 3 rows: the limit
    assert s.next_batch() == [b1, b2]
    assert len(s) == 0 and s.next_batch() == []


def test_an_oversized_job_still_runs_alone_and_full_queue_raises():
    s = Scheduler(max_queue=2, max_batch_rows=2)
    big, small = _job(seeds=(0, 1, 2, 3)), _job()
    s.submit(big)
    s.submit(small)
    with pytest.raises(QueueFull):
        s.submit(_job())
    assert s.next_batch() == [big]
    assert s.next_batch(1) == [small]


def test_a_directed_take_runs_alone():
    s = Scheduler(max_queue=10, max_batch_rows=8)
    plain1, directed, plain2, later = _job(), _job(directed=True), _job(), _job("batch", directed=True)
    for j in (plain1, directed, plain2, later):
        s.submit(j)
    assert s.next_batch() == [plain1]  # the directed one is next in turn: not joined to this batch
    assert s.next_batch() == [directed]
    assert s.next_batch() == [plain2]
    assert s.next_batch() == [later]


def test_requeue_front_keeps_order_and_remove():
    s = Scheduler(max_queue=5, max_batch_rows=8)
    a, b, c = _job(), _job(), _job()
    s.submit(c)
    s.requeue_front([a, b])
    assert s.jobs() == [a, b, c]
    assert s.remove(b) and not s.remove(b)
    assert s.next_batch(1) == [a]


def test_replay_cache_bounds_bytes_and_age():
    import numpy as np

    from motionbridge.daemon.server.replay import ReplayCache

    def result(n: int) -> P.Message:
        return P.Message(P.RESULT, {"id": "r"}, {"rotations": np.zeros(n, dtype="<f8")})

    cache = ReplayCache(max_bytes=3 * (8000 + 1024), ttl_s=60.0)
    for k in range(4):
        cache.put((b"c", f"r{k}"), [result(1000)])
    assert cache.get((b"c", "r0")) is None  # the oldest went to stay under max_bytes
    assert [m.arrays["rotations"].size for m in cache.get((b"c", "r3"))] == [1000]
    cache.put((b"c", "huge"), [result(10_000)])
    assert cache.get((b"c", "huge")) is None  # bigger than the whole cache: not kept
    cache.ttl_s = 0.0
    import time

    time.sleep(0.01)
    assert cache.get((b"c", "r3")) is None


def _owned(owner: bytes, priority: str = "interactive") -> Job:
    job = _job(priority)
    job.owner = owner
    return job


def test_owners_take_turns_and_each_owners_jobs_keep_their_order():
    s = Scheduler(max_queue=20, max_batch_rows=1)
    burst = [_owned(b"A") for _ in range(4)]
    for j in burst:
        s.submit(j)
    late = [_owned(b"B"), _owned(b"B")]
    for j in late:
        s.submit(j)
    third = _owned(b"C")
    s.submit(third)
    order = [s.next_batch()[0] for _ in range(7)]
    assert order == [burst[0], late[0], third, burst[1], late[1], burst[2], burst[3]]


def test_turns_fill_a_batch_and_priorities_still_come_first():
    s = Scheduler(max_queue=20, max_batch_rows=3)
    a = [_owned(b"A") for _ in range(3)]
    b = _owned(b"B")
    low = _owned(b"C", "batch")
    for j in (*a, low, b):
        s.submit(j)
    assert s.next_batch() == [a[0], b, a[1]]  # the batch-priority job waits while interactive ones do
    assert s.next_batch() == [a[2], low]
