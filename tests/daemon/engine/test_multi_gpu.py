"""Multi-GPU scheduler on the CPU: two real worker processes of the tiny random engine, fed
from one work queue over msgpack pipes; results equal the in-process engine, in order."""

from __future__ import annotations

import numpy as np
import pytest

from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.multi_gpu import MultiGpuEngine, WorkerError

from .conftest import tiny_engine

FACTORY = "motionbridge.daemon.engine.bench_models:tiny_random_engine"
REQS = [
    GenerationRequest("A person walks.", 2.0, (0, 1), 5.0, request_id="a"),
    GenerationRequest("A person jumps.", 1.0, (2,), 1.0, request_id="b"),
    GenerationRequest("A person walks.", 1.5, (3,), 3.0, request_id="c"),
]


@pytest.fixture(scope="module")
def multi():
    engine = MultiGpuEngine(["cpu", "cpu"], FACTORY, {"steps": 2})
    yield engine
    engine.close()


def test_two_workers_share_the_queue_and_match_one_engine(multi):
    takes = multi.generate(REQS)
    ref = tiny_engine(steps=2).generate(REQS)
    assert [(t.request_id, t.seed) for t in takes] == [(t.request_id, t.seed) for t in ref]
    for got, want in zip(takes, ref):
        np.testing.assert_allclose(got.latent, want.latent, atol=1e-5, rtol=0)
        np.testing.assert_allclose(got.clip.rotations, want.clip.rotations, atol=1e-5, rtol=0)
    assert {t.clip.metadata["worker"] for t in takes} == {0, 1}
    assert multi.health()["ok"] and len(multi.health()["workers"]) == 2


def test_worker_error_is_reported_and_workers_survive(multi):
    with pytest.raises(WorkerError, match="no text encoder"):
        multi.generate([GenerationRequest("A prompt nobody cached.", 2.0, (0,), 5.0, request_id="x")])
    assert len(multi.generate(REQS[1:2])) == 1


def test_bad_request_is_refused_before_dispatch(multi):
    with pytest.raises(ValueError, match="duration"):
        multi.generate([GenerationRequest("A person walks.", 0.0)])


def test_bad_factory_fails_at_start():
    with pytest.raises(WorkerError, match="failed to start"):
        MultiGpuEngine(["cpu"], "motionbridge.daemon.engine.bench_models:no_such_factory")


def test_step_events_cross_the_process_boundary(multi):
    """Each worker's Euler steps reach the caller's on_step, for every request, in step order."""
    events = []
    multi.generate(REQS, on_step=events.append)
    per_request: dict[str, list[int]] = {}
    for info in events:
        assert info.total == 2
        for rid in info.request_ids:
            per_request.setdefault(rid, []).append(info.step)
    assert per_request == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}
