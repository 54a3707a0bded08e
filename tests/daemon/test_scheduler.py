"""The waiting room's rules, on plain Job objects."""

from __future__ import annotations

import pytest

import motionbridge.daemon.protocol as P
from motionbridge.daemon.server.scheduler import Job, QueueFull, Scheduler


def _job(priority: str = "interactive", seeds=(0,)) -> Job:
    spec = P.parse_generate({"id": P.new_id(), "prompt": "walk", "seeds": list(seeds), "priority": priority})
    return Job(b"c", spec, 0.0)


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


def test_requeue_front_keeps_order_and_remove():
    s = Scheduler(max_queue=5, max_batch_rows=8)
    a, b, c = _job(), _job(), _job()
    s.submit(c)
    s.requeue_front([a, b])
    assert s.jobs() == [a, b, c]
    assert s.remove(b) and not s.remove(b)
    assert s.next_batch(1) == [a]
